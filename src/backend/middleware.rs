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
//! A client reads a document in two ways: as a snapshot (a fetch or
//! subscribe without a version, bulk requests with ids, query results,
//! snapshots by version or time), which passes [`Middleware::read_snapshots`],
//! or as ops (a fetch or subscribe from a version, bulk requests with
//! versions, a query resumed with its results, ops of subscribed documents
//! and query results, the ops a late submit was transformed past), each of
//! which passes [`Middleware::op`]. Read access control needs both hooks;
//! writes need [`Middleware::submit`]. A request whose read is rejected
//! creates no subscription and sends nothing of the document.
//!
//! Presence (cursors, selections) passes [`Middleware::send_presence`] on
//! its way to each subscriber; presence a client sends passes
//! [`Middleware::receive`], like every message.
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

use super::Snapshot;
use super::submit::SubmitRequest;
use crate::protocol::{ClientMessage, DocOp, ErrorObject, Presence, ServerMessage};

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
    pub snapshots: &'a mut [Snapshot],
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
    pub presence: &'a mut Presence,
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
}
