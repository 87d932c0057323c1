//! `MemoryPubSub`: pub/sub within one process.
//!
//! This module owns publishing within one process only; who listens to what is
//! the `Registry`'s, and nothing reaches other processes.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Mailbox, Message, PubSub, PubSubError, Registry, Subscription};

/// A [`PubSub`] within one process: the default, for a single server.
#[derive(Debug)]
pub struct MemoryPubSub {
    registry: Arc<Registry>,
}

impl MemoryPubSub {
    /// A pub/sub with no subscribers.
    pub fn new() -> Self {
        Self {
            registry: Registry::new(None),
        }
    }
}

impl Default for MemoryPubSub {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl PubSub for MemoryPubSub {
    async fn subscribe(
        &self,
        channel: &str,
        mailbox: &Mailbox,
    ) -> Result<Subscription, PubSubError> {
        Ok(self.registry.add(channel, mailbox).0)
    }

    async fn publish(&self, channels: &[String], message: Message) -> Result<(), PubSubError> {
        for channel in channels {
            self.registry.deliver(channel, &message);
        }
        Ok(())
    }
}
