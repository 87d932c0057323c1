//! Pub/sub: how committed ops and presence reach every subscriber, on this
//! server and on every other server sharing the same [`PubSub`].
//!
//! Messages are published on channels: `collection` and `collection.id` for
//! ops (a query listens to its collection, a document subscription to its
//! document), `$presence.<channel>` for presence. A subscriber gives a
//! [`Mailbox`]; every message published on the channel is delivered to it as
//! a [`Delivery`] until the returned [`Subscription`] is dropped.
//!
//! This module owns the contract only: the `PubSub` trait, messages, mailboxes
//! and channel names. Which channels to listen to and what to publish are for
//! the agent and the submit pipeline (`submit`) to decide.

mod mailbox;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod registry;

use std::sync::Arc;

use async_trait::async_trait;

pub use mailbox::{Inbox, Mailbox};
pub use memory::MemoryPubSub;
#[cfg(feature = "redis")]
pub use redis::RedisPubSub;
pub use registry::Registry;

use crate::protocol::{DocOp, PresenceUpdate};

/// A message on a channel.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Message {
    /// A committed op.
    Op(Arc<DocOp>),
    /// A client's presence.
    Presence(Arc<PresenceUpdate>),
    /// A client asks everyone on a presence channel to send theirs again.
    PresenceRequest {
        /// The presence channel (without the `$presence.` prefix).
        ch: String,
        /// The asking client's id.
        src: String,
    },
}

/// A message as delivered to a mailbox, with the channel it came on.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The channel the message was published on.
    pub channel: Arc<str>,
    /// The message.
    pub message: Message,
    /// When this server's pub/sub handed it out (for the fan-out latency
    /// metric).
    pub sent: std::time::Instant,
}

/// Why a pub/sub call failed: what went wrong, and the error from below
/// (a Redis driver's), if there was one.
#[derive(Debug, thiserror::Error)]
#[error("pub/sub error: {message}")]
pub struct PubSubError {
    message: String,
    #[source]
    source: Option<crate::backend::db::BoxError>,
}

impl PubSubError {
    /// An error that says `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error that says `message`, caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<crate::backend::db::BoxError>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Delivers messages published on channels to every subscriber, on every
/// server that shares it.
#[async_trait]
pub trait PubSub: Send + Sync + 'static {
    /// Delivers what is published on `channel` to `mailbox` from now on,
    /// until the returned subscription is dropped.
    async fn subscribe(
        &self,
        channel: &str,
        mailbox: &Mailbox,
    ) -> Result<Subscription, PubSubError>;

    /// Publishes `message` on each of `channels`.
    async fn publish(&self, channels: &[String], message: Message) -> Result<(), PubSubError>;

    /// Releases connections. The default does nothing.
    async fn close(&self) {}
}

/// A channel subscription; dropping it stops the deliveries.
pub struct Subscription {
    cancel: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Subscription {
    /// A subscription that calls `cancel` when dropped.
    pub fn new(cancel: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self {
            cancel: Some(Box::new(cancel)),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel();
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

/// The channel of a collection's ops.
pub fn collection_channel(collection: &str) -> String {
    collection.to_owned()
}

/// The channel of a document's ops.
pub fn doc_channel(collection: &str, id: &str) -> String {
    format!("{collection}.{id}")
}

/// The pub/sub channel of a presence channel.
pub fn presence_channel(ch: &str) -> String {
    format!("$presence.{ch}")
}
