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
//! ```
//! use async_trait::async_trait;
//! use peloton::backend::{AgentInfo, ConnectContext, Middleware, ReadSnapshotsContext, SubmitRequest};
//! use peloton::protocol::{ErrorCode, ErrorObject};
//!
//! /// The signed-in user, as the login layer put it in a header.
//! #[derive(Clone)]
//! struct User(String);
//!
//! /// Private docs: `private.<user>` is readable and writable by its user only.
//! struct PrivateDocs;
//!
//! fn owns(agent: &AgentInfo, collection: &str, id: &str) -> bool {
//!     collection != "private" || agent.custom.get::<User>().is_some_and(|u| u.0 == id)
//! }
//!
//! #[async_trait]
//! impl Middleware for PrivateDocs {
//!     async fn connect(&self, ctx: &mut ConnectContext<'_>) -> Result<(), ErrorObject> {
//!         let user = ctx.request.and_then(|r| r.headers.get("x-user"))
//!             .and_then(|v| v.to_str().ok());
//!         if let Some(user) = user {
//!             ctx.agent.custom.insert(User(user.to_owned()));
//!         }
//!         Ok(())
//!     }
//!
//!     async fn submit(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
//!         if owns(req.agent, &req.collection, &req.id) {
//!             Ok(())
//!         } else {
//!             Err(ErrorObject::new(ErrorCode::OpSubmitRejected, "not your document"))
//!         }
//!     }
//!
//!     async fn read_snapshots(&self, ctx: &mut ReadSnapshotsContext<'_>) -> Result<(), ErrorObject> {
//!         for i in 0..ctx.snapshots.len() {
//!             if !owns(ctx.agent, ctx.collection, &ctx.snapshots[i].id) {
//!                 let error = ErrorObject::new(ErrorCode::Other("ERR_FORBIDDEN".into()), "not yours");
//!                 ctx.reject(i, error);
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//! ```

use async_trait::async_trait;
use serde_json::Value;

use super::Snapshot;
use super::submit::SubmitRequest;
use crate::protocol::{ClientMessage, ErrorObject, ServerMessage};

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
    /// The query's options from the client.
    pub options: &'a mut Option<Value>,
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

    /// A reply is about to be sent (not errors, not ops of other clients).
    async fn reply(&self, ctx: &mut ReplyContext<'_>) -> Result<(), ErrorObject> {
        let _ = ctx;
        Ok(())
    }
}
