//! Middleware: hooks that inspect, change or reject what the backend does.
//!
//! Implement [`Middleware`] for a type, overriding only the hooks you need,
//! and add it with [`BackendBuilder::middleware`](super::BackendBuilder::middleware).
//! Hooks run in the order middleware was added; the first error stops the
//! request and is sent to the client as is, so reject with the
//! [`ErrorObject`] the client should see.
//!
//! # Access control
//!
//! Who a connection belongs to is decided once, in [`Middleware::connect`],
//! from the HTTP request that opened it; later hooks read it back from
//! [`AgentInfo::custom`].
//!
//! Who may read what is the read policy: [`Middleware::authorize_collection`]
//! (all of a collection, none, or document by document) and
//! [`Middleware::authorize_doc`]. They answer from the connection and the
//! names only, and the backend asks them first, for every kind of read,
//! so nothing a connection receives depends on a document it may not
//! read: no snapshot, op, version, error, query result, position in
//! results or count, and no presence on the document's channel.
//! Concretely:
//!
//! - fetches and subscribes, with or without a version, bulk ones,
//!   snapshots at a version or time, and submits (their replies tell
//!   versions) are refused with the hook's error before anything is
//!   loaded; a bulk request by ids reports the error for that document;
//! - queries of a collection read document by document run without their
//!   `$skip`, `$limit` and `$count`, drop what the connection may not read,
//!   then page and count what is left: others' documents take no place in
//!   the results, their order or their counts; live queries ignore ops on
//!   them. (Other query options, such as `$distinct`, are refused there.)
//! - presence: [`Middleware::authorize_presence`] (by default, a channel
//!   named `collection.id` is that document's) decides who may follow and
//!   publish on a channel; a channel one may not follow is answered like an
//!   empty one, and publishing on it is refused. Presence is relayed under
//!   ids scoped to the sending connection, so nobody can replace another's.
//!
//! Writes need [`Middleware::submit`]. [`Middleware::read_snapshots`] and
//! [`Middleware::op`] still see (and may change or reject) what is sent,
//! but they decide after the document is loaded: a rejection there tells
//! the client something about the document, so keep access control in the
//! `authorize_*` hooks and use these for redaction.
//!
//! The guarantee is about one server's answers: decisions change no
//! existing subscription (a document unsubscribed when access is revoked
//! is not), and timing is not made uniform (a refused read may answer
//! faster than an allowed one; it answers the same whatever the document
//! holds).
//!
//! The example below is tested as is (`tests/backend/access_control.rs`)
//! by connecting as the wrong user and trying every kind of read.
//!
//! ```
#![doc = include_str!("access_control_example.rs")]
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::StoredSnapshot;
use super::submit::SubmitRequest;
use crate::protocol::{ClientMessage, DocOp, ErrorObject, PresenceUpdate, ServerMessage};

/// What the backend knows about a connection (ShareDB's agent).
#[derive(Debug)]
pub struct AgentInfo {
    /// The connection's id, sent in the handshake; the `src` of its ops.
    pub client_id: String,
    /// Whether the connection is in-process (a server-side model) rather
    /// than a remote client over a WebSocket.
    pub in_process: bool,
    /// Session data for middleware: set it in [`Middleware::connect`],
    /// read it in the other hooks.
    pub custom: http::Extensions,
}

impl AgentInfo {
    pub(crate) fn new(client_id: String, in_process: bool) -> Self {
        Self {
            client_id,
            in_process,
            custom: http::Extensions::new(),
        }
    }
}

/// The context of [`Middleware::connect`].
#[derive(Debug)]
pub struct ConnectContext<'a> {
    /// The new connection; set session data in `agent.custom`.
    pub agent: &'a mut AgentInfo,
    /// The HTTP request that opened the connection (the WebSocket upgrade,
    /// or the page request of a server-side model), when there is one.
    pub request: Option<&'a http::request::Parts>,
}

/// The context of [`Middleware::receive`]: a message just received.
#[derive(Debug)]
pub struct ReceiveContext<'a> {
    /// The connection.
    pub agent: &'a AgentInfo,
    /// The message; middleware may rewrite it.
    pub message: &'a mut ClientMessage,
}

/// The context of [`Middleware::reply`]: a reply about to be sent.
#[derive(Debug)]
pub struct ReplyContext<'a> {
    /// The connection.
    pub agent: &'a AgentInfo,
    /// The request being answered.
    pub request: &'a ClientMessage,
    /// The reply; middleware may change it.
    pub reply: &'a mut ServerMessage,
}

/// Why snapshots are being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotKind {
    /// The latest snapshots (fetch, subscribe, query results).
    Current,
    /// A snapshot at an earlier version (`nf`).
    ByVersion,
    /// A snapshot at an earlier time (`nt`).
    ByTimestamp,
}

/// The context of [`Middleware::read_snapshots`]: snapshots about to be
/// sent to a client.
#[derive(Debug)]
pub struct ReadSnapshotsContext<'a> {
    /// The connection.
    pub agent: &'a AgentInfo,
    /// The documents' collection.
    pub collection: &'a str,
    /// The snapshots; middleware may change them.
    pub snapshots: &'a mut [StoredSnapshot],
    /// Why they are read.
    pub kind: SnapshotKind,
    /// Rejected reads, by index into `snapshots`.
    pub(crate) rejected: Vec<(usize, ErrorObject)>,
}

impl ReadSnapshotsContext<'_> {
    /// Refuses the client the snapshot at `index`: a fetch or subscribe of
    /// it fails with `error`, a bulk request reports `error` for that
    /// document, and a query fails as a whole.
    pub fn reject(&mut self, index: usize, error: ErrorObject) {
        self.rejected.push((index, error));
    }
}

/// The context of [`Middleware::query`]: a query about to run.
#[derive(Debug)]
pub struct QueryContext<'a> {
    /// The connection.
    pub agent: &'a AgentInfo,
    /// The collection queried.
    pub collection: &'a str,
    /// The query expression; middleware may rewrite it (e.g. to add a
    /// filter on the user's documents).
    pub query: &'a mut Value,
    /// The query's options from the client (`o`), to read. They are not
    /// passed on: peloton's [`Db`](super::Db) takes everything it runs
    /// from the expression, so rewrite `query` instead.
    pub options: Option<&'a Value>,
}

/// The context of [`Middleware::op`]: an op about to be sent to a client.
///
/// The op is shared by every connection it is sent to; [`OpContext::op_mut`]
/// gives this connection its own copy to change.
#[derive(Debug)]
pub struct OpContext<'a> {
    /// The connection.
    pub agent: &'a AgentInfo,
    /// The document's collection.
    pub collection: &'a str,
    /// The document's id.
    pub id: &'a str,
    pub(crate) op: &'a mut Arc<DocOp>,
}

impl OpContext<'_> {
    /// The op.
    pub fn op(&self) -> &DocOp {
        self.op
    }

    /// The op, to change what this connection receives (other connections
    /// still receive it as committed).
    pub fn op_mut(&mut self) -> &mut DocOp {
        let op = Arc::make_mut(self.op);
        op.forget_wire_json();
        op
    }
}

/// The context of [`Middleware::send_presence`]: another client's presence
/// about to be sent to this connection.
#[derive(Debug)]
pub struct PresenceContext<'a> {
    /// The receiving connection.
    pub agent: &'a AgentInfo,
    /// The presence; middleware may change what this connection receives.
    pub presence: &'a mut PresenceUpdate,
}

/// How a connection may read a collection, as
/// [`Middleware::authorize_collection`] decides.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CollectionAccess {
    /// Every document of it.
    All,
    /// Each document as [`Middleware::authorize_doc`] says.
    PerDocument,
    /// None of it: every read of it gets this error.
    Refused(ErrorObject),
}

/// Hooks into the backend, ShareDB's middleware actions. Every hook has a
/// default that does nothing; return an error to reject.
#[async_trait]
pub trait Middleware: Send + Sync + 'static {
    /// A connection opens. An error closes it.
    async fn connect(&self, ctx: &mut ConnectContext<'_>) -> Result<(), ErrorObject> {
        let _ = ctx;
        Ok(())
    }

    /// A message arrives from a client, before anything else looks at it.
    async fn receive(&self, ctx: &mut ReceiveContext<'_>) -> Result<(), ErrorObject> {
        let _ = ctx;
        Ok(())
    }

    /// An op was submitted, before the document is loaded.
    async fn submit(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        let _ = req;
        Ok(())
    }

    /// The op is about to be applied to the loaded (and, for a late op,
    /// transformed-against) snapshot. Runs again on each retry.
    async fn apply(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        let _ = req;
        Ok(())
    }

    /// The op was applied; the new snapshot is about to be committed.
    /// Middleware may add metadata to `req.snapshot.m`.
    async fn commit(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        let _ = req;
        Ok(())
    }

    /// The op was committed and published. An error here reaches the
    /// client, but the op stays committed.
    async fn after_write(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        let _ = req;
        Ok(())
    }

    /// Snapshots are about to be sent to a client.
    async fn read_snapshots(&self, ctx: &mut ReadSnapshotsContext<'_>) -> Result<(), ErrorObject> {
        let _ = ctx;
        Ok(())
    }

    /// A query is about to run.
    async fn query(&self, ctx: &mut QueryContext<'_>) -> Result<(), ErrorObject> {
        let _ = ctx;
        Ok(())
    }

    /// An op is about to be sent to a client: every op, whether it answers
    /// a request (ops since a version, ops a submit was transformed past)
    /// or comes from a subscription (a document, a query's results).
    ///
    /// An error rejects it. A request that would send it fails with the
    /// error, sends none of its ops and subscribes to nothing; an op from
    /// a subscription is dropped for this connection.
    async fn op(&self, ctx: &mut OpContext<'_>) -> Result<(), ErrorObject> {
        let _ = ctx;
        Ok(())
    }

    /// Another client's presence is about to be sent to this connection
    /// (ShareDB's `sendPresence`).
    ///
    /// An error is sent instead, as ShareDB sends it: `{"a": "p", "ch",
    /// "id", "error"}`.
    async fn send_presence(&self, ctx: &mut PresenceContext<'_>) -> Result<(), ErrorObject> {
        let _ = ctx;
        Ok(())
    }

    /// A reply is about to be sent (not errors, not ops of other clients).
    async fn reply(&self, ctx: &mut ReplyContext<'_>) -> Result<(), ErrorObject> {
        let _ = ctx;
        Ok(())
    }

    /// Whether a connection may read `collection`: all of it, none of it,
    /// or document by document ([`Middleware::authorize_doc`]). Decided
    /// from the connection and the name only, never from what is stored,
    /// so the answer tells the client nothing about the documents. The
    /// read policy: see [access control](self#access-control). Default:
    /// all of it.
    async fn authorize_collection(&self, agent: &AgentInfo, collection: &str) -> CollectionAccess {
        let _ = (agent, collection);
        CollectionAccess::All
    }

    /// Whether a connection may read `collection.id`, in a collection
    /// [`Middleware::authorize_collection`] gave
    /// [`CollectionAccess::PerDocument`] for. Decided from the connection
    /// and the names only, like it. Default: yes.
    async fn authorize_doc(
        &self,
        agent: &AgentInfo,
        collection: &str,
        id: &str,
    ) -> Result<(), ErrorObject> {
        let _ = (agent, collection, id);
        Ok(())
    }

    /// Whether a connection may follow a presence channel (`publish`:
    /// false) or publish on it (true). A channel it may not follow is
    /// answered as an empty one; publishing is refused with the error.
    /// Default: a channel named like a document, `collection.id` (a
    /// document's presence, as ShareDB names it), as that document (the
    /// two hooks above); any other channel, yes.
    async fn authorize_presence(
        &self,
        agent: &AgentInfo,
        channel: &str,
        publish: bool,
    ) -> Result<(), ErrorObject> {
        let _ = publish;
        let Some((collection, id)) = channel.split_once('.') else {
            return Ok(());
        };
        match self.authorize_collection(agent, collection).await {
            CollectionAccess::All => Ok(()),
            CollectionAccess::PerDocument => self.authorize_doc(agent, collection, id).await,
            CollectionAccess::Refused(error) => Err(error),
        }
    }

    /// This connection's presence is about to be relayed (ShareDB's
    /// `receivePresence`): change it, or refuse it with an error.
    async fn receive_presence(&self, ctx: &mut PresenceContext<'_>) -> Result<(), ErrorObject> {
        let _ = ctx;
        Ok(())
    }
}
