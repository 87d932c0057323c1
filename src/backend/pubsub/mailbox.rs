//! A subscriber's mailbox: a bounded queue of deliveries with one reader.
//!
//! Every connection has one, so an idle one must cost next to nothing: the
//! queue is allocated when the first delivery arrives and given back when a
//! burst has been read. (tokio's bounded channel allocates room for 32
//! deliveries up front: 3 KiB per connection, most of them never used.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::Delivery;

/// A queue that grew past this many deliveries is given back once read.
const KEEP_CAPACITY: usize = 16;

/// Where a subscriber receives its deliveries; one per connection.
///
/// It holds a bounded number of them: a subscriber that does not take them
/// as fast as they come (a connection whose client stopped reading) makes
/// it overflow, which it reports ([`Mailbox::overflowed`]) instead of
/// growing without bound. What did not fit is dropped.
pub struct Mailbox {
    shared: Arc<Shared>,
}

/// The reading end of a [`Mailbox`].
pub struct Inbox {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<VecDeque<Delivery>>,
    capacity: usize,
    overflowed: AtomicBool,
    /// Wakes the reader: a delivery came, or the last mailbox went.
    ready: Notify,
    /// Whether the [`Inbox`] is still there to read.
    open: AtomicBool,
    /// How many [`Mailbox`]es there are.
    senders: AtomicUsize,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Delivery>> {
        // A panic while holding the lock leaves a valid queue.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("waiting", &self.queue().len())
            .field("capacity", &self.capacity)
            .field("overflowed", &self.overflowed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.shared.fmt(f)
    }
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.shared.fmt(f)
    }
}

impl Mailbox {
    /// A mailbox holding up to `capacity` deliveries (at least one), and
    /// its reading end.
    pub fn new(capacity: usize) -> (Self, Inbox) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            overflowed: AtomicBool::new(false),
            ready: Notify::new(),
            open: AtomicBool::new(true),
            senders: AtomicUsize::new(1),
        });
        let inbox = Inbox {
            shared: shared.clone(),
        };
        (Self { shared }, inbox)
    }

    /// Delivers, unless the mailbox is full (it then overflowed) or its
    /// inbox is gone (a connection being torn down).
    pub fn deliver(&self, delivery: Delivery) {
        {
            // Checked under the lock the inbox clears the queue with, so
            // nothing is left in it once the inbox is gone.
            let mut queue = self.shared.queue();
            if !self.shared.open.load(Ordering::Relaxed) {
                return;
            }
            if queue.len() >= self.shared.capacity {
                drop(queue);
                self.shared.overflowed.store(true, Ordering::Relaxed);
                return;
            }
            queue.push_back(delivery);
        }
        self.shared.ready.notify_one();
    }

    /// Whether a delivery was dropped because the mailbox was full.
    pub fn overflowed(&self) -> bool {
        self.shared.overflowed.load(Ordering::Relaxed)
    }
}

impl Clone for Mailbox {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // The last mailbox going ends the inbox's wait.
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.ready.notify_one();
        }
    }
}

impl Inbox {
    /// The next delivery, waiting for one; `None` once it is empty and
    /// every [`Mailbox`] is gone. Cancel-safe: nothing is taken from the
    /// queue until it is returned.
    pub async fn recv(&mut self) -> Option<Delivery> {
        loop {
            // Read before the queue: a last mailbox that delivered and
            // went between the two would otherwise end the inbox with its
            // delivery still queued.
            let closed = self.shared.senders.load(Ordering::Acquire) == 0;
            if let Some(delivery) = self.try_recv() {
                return Some(delivery);
            }
            if closed {
                return None;
            }
            self.shared.ready.notified().await;
        }
    }

    /// The next delivery, if one is waiting.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        let mut queue = self.shared.queue();
        let delivery = queue.pop_front();
        if queue.is_empty() && queue.capacity() > KEEP_CAPACITY {
            *queue = VecDeque::new();
        }
        delivery
    }

    /// How many deliveries are waiting.
    pub fn len(&self) -> usize {
        self.shared.queue().len()
    }

    /// Whether no delivery is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        // What waited is dropped now, not with the last mailbox.
        let waiting = {
            let mut queue = self.shared.queue();
            self.shared.open.store(false, Ordering::Relaxed);
            std::mem::take(&mut *queue)
        };
        drop(waiting);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::backend::pubsub::Message;

    fn delivery(n: usize) -> Delivery {
        Delivery {
            channel: Arc::from(format!("c{n}")),
            message: Message::PresenceRequest {
                ch: String::new(),
                src: String::new(),
            },
            sent: Instant::now(),
        }
    }

    #[tokio::test]
    async fn deliveries_come_out_in_order_up_to_the_capacity() {
        let (mailbox, mut inbox) = Mailbox::new(3);
        for n in 0..5 {
            mailbox.deliver(delivery(n));
        }
        assert!(mailbox.overflowed());
        assert_eq!(inbox.len(), 3);
        for n in 0..3 {
            let got = inbox.recv().await.unwrap();
            assert_eq!(&*got.channel, format!("c{n}"));
        }
        assert!(inbox.try_recv().is_none());
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_for_a_delivery_and_ends_with_the_mailboxes() {
        let (mailbox, mut inbox) = Mailbox::new(8);
        let reader = tokio::spawn(async move {
            let first = inbox.recv().await.map(|d| d.channel);
            let end = inbox.recv().await.map(|d| d.channel);
            (first, end)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let other = mailbox.clone();
        mailbox.deliver(delivery(1));
        drop(mailbox);
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(other);
        let (first, end) = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the reader woke")
            .unwrap();
        assert_eq!(first.as_deref(), Some("c1"));
        assert_eq!(end, None);
    }

    #[test]
    fn a_read_burst_gives_its_room_back_and_a_gone_inbox_takes_nothing() {
        let (mailbox, mut inbox) = Mailbox::new(1000);
        for n in 0..100 {
            mailbox.deliver(delivery(n));
        }
        while inbox.try_recv().is_some() {}
        assert_eq!(inbox.shared.queue().capacity(), 0);
        drop(inbox);
        mailbox.deliver(delivery(0));
        assert_eq!(mailbox.shared.queue().len(), 0);
        assert!(!mailbox.overflowed());
    }
}
