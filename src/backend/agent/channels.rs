//! The pub/sub channels a connection listens to, each subscribed once.
//!
//! This module owns the use counts of channels and the tests of channel names
//! only; which channels a connection needs is for the agent's other submodules
//! to say, and the names themselves are `pubsub`'s.

use std::collections::HashMap;

use crate::backend::pubsub::{Mailbox, PubSub, Subscription};
use crate::backend::submit::internal;
use crate::protocol::ErrorObject;

/// The pub/sub channels a connection listens to, each subscribed once
/// however many of its documents, queries and presence channels use it.
///
/// Channel names collide: `a.b` is the channel of collection `a.b` and of
/// document `b` in collection `a`. Two subscriptions to one name would
/// deliver each message on it twice, so there is one, and a delivery is
/// told apart by what it carries (see [`Agent::deliver_op`]).
#[derive(Default)]
pub(super) struct Channels(HashMap<String, (Subscription, usize)>);

/// Whether `channel` is the document channel of `collection.id`
/// ([`pubsub::doc_channel`]), without building that name.
pub(super) fn is_doc_channel(channel: &str, collection: &str, id: &str) -> bool {
    channel.len() == collection.len() + 1 + id.len()
        && channel.starts_with(collection)
        && channel[collection.len()..].starts_with('.')
        && channel.ends_with(id)
}

/// Whether `channel` is the channel of `collection`
/// ([`pubsub::collection_channel`]: the collection's name).
pub(super) fn is_collection_channel(channel: &str, collection: &str) -> bool {
    channel == collection
}

impl Channels {
    /// Listens to `name`, or counts one more use of it.
    pub(super) async fn retain(
        &mut self,
        pubsub: &dyn PubSub,
        mailbox: &Mailbox,
        name: &str,
    ) -> Result<(), ErrorObject> {
        if let Some((_, uses)) = self.0.get_mut(name) {
            *uses += 1;
            return Ok(());
        }
        let subscription = pubsub
            .subscribe(name, mailbox)
            .await
            .map_err(|e| internal("subscribe", &e))?;
        self.0.insert(name.to_owned(), (subscription, 1));
        Ok(())
    }

    /// One use of `name` fewer; the last one stops listening.
    pub(super) fn release(&mut self, name: &str) {
        if let Some((_, uses)) = self.0.get_mut(name) {
            *uses = uses.saturating_sub(1);
            if *uses == 0 {
                self.0.remove(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::pubsub;

    #[test]
    fn channel_tests_agree_with_channel_names() {
        let cases = [
            ("a", "b"),
            ("a.b", "c"),
            ("a", "b.c"),
            ("", "x"),
            ("é", "ü."),
        ];
        for (c, d) in cases {
            for (other_c, other_d) in cases {
                let channel = pubsub::doc_channel(other_c, other_d);
                let same = (c, d) == (other_c, other_d);
                // Different documents may share a channel; never a document
                // and a channel that is not its own.
                if is_doc_channel(&channel, c, d) {
                    assert_eq!(pubsub::doc_channel(c, d), channel);
                } else {
                    assert!(!same, "{c}/{d}");
                }
            }
            assert!(is_collection_channel(&pubsub::collection_channel(c), c));
            assert!(!is_collection_channel(&pubsub::doc_channel(c, d), c));
        }
    }
}
