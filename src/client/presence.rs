//! Presence: who else is here, and where (ShareDB's client `Presence` and
//! `DocPresence`): handles on a connection's presence channels, whose
//! state lives in the connection (see `presences`).
//!
//! A presence channel relays small, ephemeral values between the clients
//! subscribed to it: a name, a cursor, a selection. Nothing is stored; a
//! client that disconnects is announced as gone.
//!
//! A document's presence ([`DocPresence`]) is a channel named after the
//! document whose values follow its edits: a caret stays on the text it
//! was at while anyone types (see [`json0::transform_presence`] for the
//! shape of such a value). Each value travels with the document version it
//! refers to; the server moves it to the latest version, and each client
//! moves it past what it applied since, and past its own unsent edits.
//!
//! This module owns the handles only: they keep the channel's name and nothing
//! else, and leave the values, their moves and the wire to `presences`.

use std::collections::HashMap;

use serde_json::Value;

use super::ClientError;
use super::ack::Ack;
use super::connection::Connection;
use super::presences::doc_channel;
#[cfg(doc)]
use crate::ot::json0;

/// A presence channel of a [`Connection`].
#[derive(Clone)]
pub struct Presence {
    connection: Connection,
    channel: String,
}

impl Presence {
    pub(crate) fn new(connection: Connection, channel: &str) -> Self {
        Self {
            connection,
            channel: channel.to_owned(),
        }
    }

    /// The channel's name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Starts receiving the presence of others on the channel (and asks
    /// them to send it); resolves once the server confirmed.
    pub async fn subscribe(&self) -> Result<(), ClientError> {
        let (waiter, ack) = Ack::new();
        (self.connection.shared).with_state(|s| s.subscribe_presence(&self.channel, waiter));
        ack.await
    }

    /// Stops receiving the presence of others.
    pub fn unsubscribe(&self) {
        (self.connection.shared).with_state(|s| s.unsubscribe_presence(&self.channel));
    }

    /// Publishes this client's presence `id` (a client may have several,
    /// e.g. one per open editor) with `value`.
    pub fn submit(&self, id: &str, value: Value) {
        (self.connection.shared).with_state(|s| s.submit_presence(&self.channel, id, value));
    }

    /// Withdraws this client's presence `id`.
    pub fn leave(&self, id: &str) {
        (self.connection.shared).with_state(|s| s.leave_presence(&self.channel, id));
    }

    /// This client's presence `id`, as it is now (a document's presence
    /// moves with the document's edits).
    pub fn local(&self, id: &str) -> Option<Value> {
        (self.connection.shared).with_state(|s| s.local_presence(&self.channel, id))
    }

    /// The presence of everyone else on the channel, by presence id: the
    /// id the other client gave, scoped by the server to its connection
    /// (`<length>:<client id>:<id>`), so no client can replace another's.
    pub fn others(&self) -> HashMap<String, Value> {
        (self.connection.shared).with_state(|s| s.others_presence(&self.channel))
    }
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presence")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// The presence channel of one document, whose values follow its edits:
/// ShareDB's client `DocPresence` (`connection.getDocPresence`), for json0
/// presence values ([`json0::transform_presence`]).
///
/// It is a [`Presence`] (subscribe, submit, others) named `collection.id`;
/// the document must be loaded (fetched or subscribed) for the values to
/// move with it.
///
/// ```
/// # #[cfg(feature = "ssr")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), peloton::client::ClientError> {
/// use peloton::backend::Backend;
/// use peloton::client::Connection;
/// use serde_json::json;
///
/// let backend = Backend::new();
/// let (ann, bob) = (Connection::new(backend.clone()), Connection::new(backend));
/// let note = ann.get("notes", "n1");
/// note.create(json!({"text": "hello"}))?.await?;
/// bob.get("notes", "n1").subscribe().await?;
/// let seen = bob.doc_presence("notes", "n1");
/// seen.subscribe().await?;
///
/// // Ann's caret after "hello".
/// ann.doc_presence("notes", "n1").submit("ann", json!({"p": ["text"], "s": 5, "e": 5}));
/// # for _ in 0..100 { if !seen.others().is_empty() { break } tokio::task::yield_now().await; }
/// // Keyed by an id the server scoped to Ann's connection.
/// let (id, caret) = seen.others().into_iter().next().unwrap();
/// assert!(id.ends_with(":ann"));
/// assert_eq!(caret["s"], 5);
/// # Ok(()) }
/// # #[cfg(not(feature = "ssr"))]
/// # fn main() {}
/// ```
#[derive(Clone, Debug)]
pub struct DocPresence {
    presence: Presence,
}

impl DocPresence {
    pub(crate) fn new(connection: Connection, collection: &str, id: &str) -> Self {
        let channel = doc_channel(collection, id);
        (connection.shared).with_state(|s| s.bind_doc_presence(&channel, collection, id));
        Self {
            presence: Presence::new(connection, &channel),
        }
    }
}

impl std::ops::Deref for DocPresence {
    type Target = Presence;
    fn deref(&self) -> &Presence {
        &self.presence
    }
}
