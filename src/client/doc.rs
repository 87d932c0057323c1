//! `Doc`: a handle on one document of a connection (ShareDB's client
//! `Doc`). Its state lives in the connection (see `docs`); the handle
//! reads and edits it under the connection's lock.
//!
//! This module owns the handle only: it keeps nothing but which document it is,
//! and leaves the data, the ops and the wire to `docs`, reached through the
//! connection's `State`.

use serde_json::Value;

use super::ClientError;
use super::ack::Ack;
use super::connection::Connection;
use super::docs::DocState;
use super::state::State;
use crate::ot::json0;
use crate::protocol::{self, CreateData, OpKind};

/// A document of a [`Connection`]: ShareDB's client `Doc`.
///
/// Edits apply to the local copy at once; the returned [`Ack`] resolves
/// when the server has committed them (or rejected them, in which case the
/// local copy is rolled back).
#[derive(Clone)]
pub struct Doc {
    connection: Connection,
    collection: String,
    id: String,
}

impl Doc {
    pub(crate) fn new(connection: Connection, collection: &str, id: &str) -> Self {
        Self {
            connection,
            collection: collection.to_owned(),
            id: id.to_owned(),
        }
    }

    /// The collection.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    fn with<R>(&self, f: impl FnOnce(&mut State, &str, &str) -> R) -> R {
        self.connection
            .shared
            .with_state(|s| f(s, &self.collection, &self.id))
    }

    /// Reads the document's state.
    fn state<R>(&self, f: impl FnOnce(&DocState) -> R) -> R {
        self.with(|s, c, d| f(s.doc(c, d)))
    }

    /// The version the client has (`None` before anything was loaded).
    pub fn version(&self) -> Option<u64> {
        self.state(DocState::version)
    }

    /// Whether the document exists, as far as the client knows.
    pub fn exists(&self) -> bool {
        self.state(DocState::exists)
    }

    /// A copy of the data.
    pub fn data(&self) -> Option<Value> {
        self.read(|data| data.cloned())
    }

    /// Reads the data without copying it.
    pub fn read<R>(&self, f: impl FnOnce(Option<&Value>) -> R) -> R {
        self.state(|doc| f(doc.data()))
    }

    /// Whether the server confirmed a subscription.
    pub fn subscribed(&self) -> bool {
        self.state(DocState::subscribed)
    }

    /// Whether the document has unacknowledged ops or unanswered requests.
    pub fn has_pending(&self) -> bool {
        self.state(DocState::has_pending)
    }

    /// Loads the latest snapshot (or the ops since the version the client
    /// has).
    pub async fn fetch(&self) -> Result<(), ClientError> {
        let (waiter, ack) = Ack::new();
        self.with(|s, c, d| s.fetch_doc(c, d, waiter));
        ack.await
    }

    /// Loads the document and keeps it up to date; survives reconnects.
    pub async fn subscribe(&self) -> Result<(), ClientError> {
        let (waiter, ack) = Ack::new();
        self.with(|s, c, d| s.change_subscription(c, d, true, waiter));
        ack.await
    }

    /// Stops the updates; the data stays.
    pub async fn unsubscribe(&self) -> Result<(), ClientError> {
        let (waiter, ack) = Ack::new();
        self.with(|s, c, d| s.change_subscription(c, d, false, waiter));
        ack.await
    }

    /// Creates the document with json0 data, locally at once.
    pub fn create(&self, data: Value) -> Result<Ack, ClientError> {
        self.submit(OpKind::Create(CreateData {
            doc_type: json0::URI.to_owned(),
            data: Some(data),
        }))
    }

    /// Applies a json0 op locally at once and sends it. An op that does not
    /// apply is refused and changes nothing.
    pub fn submit_op(&self, op: json0::Op) -> Result<Ack, ClientError> {
        self.submit(OpKind::Edit(op))
    }

    /// Computes an op from the current data and submits it, atomically: no
    /// remote op can land in between. `f` returns the op (or `None` for no
    /// change) and a result; an error from `f` submits nothing.
    pub fn submit_with<R, E: From<ClientError>>(
        &self,
        f: impl FnOnce(Option<&Value>) -> Result<(Option<json0::Op>, R), E>,
    ) -> Result<(R, Option<Ack>), E> {
        self.with(|s, c, d| {
            let (op, result) = f(s.doc(c, d).data())?;
            let ack = match op {
                Some(op) if !op.is_noop() => Some(s.submit(c, d, OpKind::Edit(op))?),
                _ => None,
            };
            Ok((result, ack))
        })
    }

    /// Forgets the document if nothing about it is pending: no subscription,
    /// no unacknowledged op. Returns whether it was forgotten.
    pub fn forget(&self) -> bool {
        self.with(State::forget_doc)
    }

    /// Deletes the document, locally at once.
    pub fn del(&self) -> Result<Ack, ClientError> {
        self.submit(OpKind::Delete)
    }

    fn submit(&self, kind: OpKind) -> Result<Ack, ClientError> {
        self.with(|s, c, d| s.submit(c, d, kind))
    }

    /// Takes in a snapshot the client got some other way (a page bundle),
    /// as if fetched.
    pub fn ingest(&self, snapshot: protocol::Snapshot) {
        self.with(|s, c, d| s.ingest(c, d, snapshot));
    }
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doc")
            .field("collection", &self.collection)
            .field("id", &self.id)
            .field("version", &self.version())
            .finish()
    }
}
