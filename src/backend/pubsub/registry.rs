//! Local fan-out: which mailboxes listen to which channel.
//!
//! This module owns the map from channels to mailboxes in one process only; it
//! talks to no server and does not look inside a message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::{Delivery, Mailbox, Message, Subscription};

/// The subscribers of each channel in this process.
///
/// Every [`PubSub`](super::PubSub) delivers through one: [`MemoryPubSub`]
/// publishes straight into it, `RedisPubSub` feeds it what arrives from
/// Redis. It tells its owner when a channel gains its first subscriber or
/// loses its last (the Redis pub/sub then subscribes or unsubscribes).
///
/// [`MemoryPubSub`]: super::MemoryPubSub
pub struct Registry {
    channels: Mutex<Subscribers>,
    next_id: AtomicU64,
    on_last_gone: Option<ChannelHook>,
}

/// The mailboxes listening on each channel, with their subscription ids.
type Subscribers = HashMap<Arc<str>, Vec<(u64, Mailbox)>>;

/// Called with a channel's name when it loses its last subscriber.
pub type ChannelHook = Box<dyn Fn(&str) + Send + Sync>;

impl Registry {
    /// A registry; `on_last_gone` runs when a channel loses its last
    /// subscriber.
    pub fn new(on_last_gone: Option<ChannelHook>) -> Arc<Self> {
        Arc::new(Self {
            channels: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            on_last_gone,
        })
    }

    /// Adds a subscriber. Returns its subscription and whether it is the
    /// channel's first.
    pub fn add(self: &Arc<Self>, channel: &str, mailbox: &Mailbox) -> (Subscription, bool) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (key, first) = {
            let mut channels = lock(&self.channels);
            match channels.get_key_value(channel) {
                Some((key, _)) => {
                    let key = key.clone();
                    if let Some(subs) = channels.get_mut(&key) {
                        subs.push((id, mailbox.clone()));
                    }
                    (key, false)
                }
                None => {
                    let key: Arc<str> = Arc::from(channel);
                    channels.insert(key.clone(), vec![(id, mailbox.clone())]);
                    (key, true)
                }
            }
        };
        let registry: Weak<Self> = Arc::downgrade(self);
        let subscription = Subscription::new(move || {
            if let Some(registry) = registry.upgrade() {
                registry.remove(&key, id);
            }
        });
        (subscription, first)
    }

    fn remove(&self, channel: &Arc<str>, id: u64) {
        let last_gone = {
            let mut channels = lock(&self.channels);
            let Some(subs) = channels.get_mut(channel) else {
                return;
            };
            subs.retain(|(sub, _)| *sub != id);
            let empty = subs.is_empty();
            if empty {
                channels.remove(channel);
            }
            empty
        };
        if last_gone && let Some(hook) = &self.on_last_gone {
            hook(channel);
        }
    }

    /// Delivers `message` to every subscriber of `channel`.
    pub fn deliver(&self, channel: &str, message: &Message) {
        let channels = lock(&self.channels);
        if let Some((key, subs)) = channels.get_key_value(channel) {
            let sent = std::time::Instant::now();
            for (_, mailbox) in subs {
                // A closed mailbox belongs to a connection being torn down;
                // its subscriptions are about to be dropped.
                mailbox.deliver(Delivery {
                    channel: key.clone(),
                    message: message.clone(),
                    sent,
                });
            }
        }
    }

    /// The channels that have subscribers.
    pub fn channels(&self) -> Vec<String> {
        lock(&self.channels).keys().map(|k| k.to_string()).collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("channels", &lock(&self.channels).len())
            .finish_non_exhaustive()
    }
}
