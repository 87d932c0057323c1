//! The backend: ShareDB's server in Rust.
//!
//! A [`Backend`] keeps versioned JSON documents in a [`Db`], resolves
//! concurrent edits with json0 OT in its submit pipeline, and spreads
//! committed ops to every subscriber through a [`PubSub`]. Each connection
//! (a browser over the `/channel` WebSocket, or a server-side model
//! in-process) is served by its own task, an agent.
//!
//! This module owns the `Backend` handle, its builder and options, and the
//! state its agents and submit pipeline share; the work is done in the
//! submodules (`agent`, `submit`, `access`, `db`, `pubsub`, ...), and it opens
//! no sockets: HTTP is `peloton::axum`'s.
//!
//! ```
//! use peloton::backend::Backend;
//! use peloton::protocol::{ClientMessage, DocRequest, ServerMessage};
//! use futures::StreamExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let backend = Backend::new(); // in memory
//! let mut conn = backend.connect();
//! assert!(matches!(conn.rx.next().await, Some(ServerMessage::Init(_))));
//!
//! let fetch = DocRequest { c: "notes".into(), d: "n1".into(), v: None };
//! conn.tx.unbounded_send(ClientMessage::Fetch(fetch)).unwrap();
//! let Some(ServerMessage::Fetch { data: Some(snapshot), .. }) = conn.rx.next().await else {
//!     panic!("no reply")
//! };
//! assert!(!snapshot.exists());
//! # }
//! ```

mod access;
mod agent;
pub mod db;
mod doc_locks;
mod evaluations;
pub mod limits;
mod live_query;
pub mod middleware;
pub mod milestones;
pub mod pubsub;
/// Queries, as the backend and the databases evaluate them (the same
/// module the browser uses offline: [`crate::query`]).
pub use crate::query;
mod snapshot;
mod submit;
pub mod telemetry;
mod timed;

use std::sync::Arc;

use tokio::sync::watch;

pub use db::{BoxError, Db, DbError, MemoryDb, QueryResults};
pub use limits::{Limits, Rate};
pub use middleware::{
    AgentInfo, CollectionAccess, ConnectContext, Middleware, OpContext, PresenceContext,
    QueryContext, ReadSnapshotsContext, ReceiveContext, ReplyContext, SnapshotKind,
};
pub use milestones::{MemoryMilestoneDb, MilestoneDb};
pub use pubsub::{MemoryPubSub, PubSub, PubSubError};
pub use snapshot::StoredSnapshot;
pub use submit::SubmitRequest;

use crate::protocol::{
    self, ClientEnd, ErrorCode, ErrorObject, OpKind, OpRequest, ServerEnd, ServerTransport,
};

/// Settings of a [`Backend`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BackendOptions {
    /// How often a submit retries after losing a commit race to another
    /// server; `None` (the default) retries until it wins.
    pub max_submit_retries: Option<u32>,
    /// The largest WebSocket message a client may send, in bytes; larger
    /// ones are answered with an error that echoes the request's header
    /// (`a`, `c`, `d`, `seq`, …), so the client can tell which request
    /// failed, and dropped. Default: 1 MiB.
    pub max_message_bytes: usize,
    /// The largest WebSocket message read at all, in bytes: beyond it a
    /// message is not read and the connection is closed with close code
    /// 1009 (message too big) and a reason. It bounds the memory one
    /// message can take. Default: 8 MiB; never less than
    /// `max_message_bytes`.
    pub max_read_bytes: usize,
    /// Whether presence is relayed. Default: on.
    pub presence: bool,
    /// What one connection may ask of the server, and how long the server
    /// waits for it (see [`Limits`] for the defaults).
    pub limits: Limits,
}

impl Default for BackendOptions {
    fn default() -> Self {
        Self {
            max_submit_retries: None,
            max_message_bytes: 1 << 20,
            max_read_bytes: 8 << 20,
            presence: true,
            limits: Limits::default(),
        }
    }
}

/// ShareDB's server: documents, ops, queries, pub/sub, middleware.
///
/// Cheap to clone (an `Arc` inside); clones share everything.
#[derive(Clone)]
pub struct Backend {
    shared: Arc<Shared>,
}

/// What the agents and the submit pipeline share.
pub(crate) struct Shared {
    pub(crate) db: Arc<dyn Db>,
    pub(crate) milestones: Arc<dyn MilestoneDb>,
    pub(crate) pubsub: Arc<dyn PubSub>,
    pub(crate) middleware: Vec<Arc<dyn Middleware>>,
    pub(crate) options: BackendOptions,
    pub(crate) doc_locks: doc_locks::DocLocks,
    pub(crate) evaluations: evaluations::Evaluations,
    pub(crate) live_ids: agent::LiveIds,
    pub(crate) telemetry: telemetry::Telemetry,
    shutdown: watch::Sender<bool>,
}

/// Builds a [`Backend`]: storage, pub/sub, middleware, options.
pub struct BackendBuilder {
    db: Arc<dyn Db>,
    milestones: Arc<dyn MilestoneDb>,
    pubsub: Arc<dyn PubSub>,
    middleware: Vec<Arc<dyn Middleware>>,
    options: BackendOptions,
}

impl BackendBuilder {
    /// Stores documents in `db` (default: a new [`MemoryDb`]).
    pub fn db(mut self, db: impl Db) -> Self {
        self.db = Arc::new(db);
        self
    }

    /// Keeps milestone snapshots in `milestones` (default: a new
    /// [`MemoryMilestoneDb`], every 1,000 versions), so a snapshot of the
    /// past replays only the ops since the nearest one. With
    /// [`MongoDb`](db::MongoDb), `MongoMilestoneDb` keeps them in the same
    /// database, where Node's sharedb-milestone-mongo reads them.
    pub fn milestones(mut self, milestones: impl MilestoneDb) -> Self {
        self.milestones = Arc::new(milestones);
        self
    }

    /// Takes no milestone snapshots: a snapshot of the past replays the
    /// document's ops from version 0.
    pub fn without_milestones(self) -> Self {
        self.milestones(milestones::NoMilestones)
    }

    /// Shares ops and presence through `pubsub` (default: a new
    /// [`MemoryPubSub`]); servers sharing one database must share one
    /// pub/sub too.
    pub fn pubsub(mut self, pubsub: impl PubSub) -> Self {
        self.pubsub = Arc::new(pubsub);
        self
    }

    /// Adds middleware; hooks run in the order they were added.
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Replaces the options.
    pub fn options(mut self, options: BackendOptions) -> Self {
        self.options = options;
        self
    }

    /// The backend.
    pub fn build(self) -> Backend {
        Backend {
            shared: Arc::new(Shared {
                db: Arc::new(timed::TimedDb {
                    db: self.db,
                    limit: self.options.limits.db_timeout,
                }),
                milestones: self.milestones,
                pubsub: Arc::new(timed::TimedPubSub {
                    pubsub: self.pubsub,
                    limit: self.options.limits.pubsub_timeout,
                }),
                middleware: self.middleware,
                options: self.options,
                doc_locks: doc_locks::DocLocks::new(1024),
                evaluations: evaluations::Evaluations::default(),
                live_ids: agent::LiveIds::default(),
                telemetry: telemetry::Telemetry::new(),
                shutdown: watch::channel(false).0,
            }),
        }
    }
}

impl Default for Backend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend {
    /// A backend in memory: [`MemoryDb`] and [`MemoryPubSub`].
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder, starting from the in-memory defaults.
    pub fn builder() -> BackendBuilder {
        BackendBuilder {
            db: Arc::new(MemoryDb::new()),
            milestones: Arc::new(MemoryMilestoneDb::new()),
            pubsub: Arc::new(MemoryPubSub::new()),
            middleware: Vec::new(),
            options: BackendOptions::default(),
        }
    }

    /// The database.
    pub fn db(&self) -> &Arc<dyn Db> {
        &self.shared.db
    }

    /// The options.
    pub fn options(&self) -> &BackendOptions {
        &self.shared.options
    }

    /// How many client connections this server is serving (in-process and
    /// WebSocket).
    pub fn connection_count(&self) -> usize {
        self.shared.live_ids.len()
    }

    /// Opens an in-process connection: messages travel as values, never
    /// serialized. Its server side runs as a task of its own, for code
    /// that reads and writes the raw end; a client
    /// [`Connection`](crate::client::Connection) uses
    /// [`connect_driven`](Self::connect_driven) instead.
    pub fn connect(&self) -> ClientEnd {
        self.connect_with(None)
    }

    /// Opens an in-process connection on behalf of an HTTP request, which
    /// the `connect` middleware sees.
    pub fn connect_with(&self, request: Option<http::request::Parts>) -> ClientEnd {
        let (client, server) = protocol::transport::pair();
        self.spawn_agent(server, request, true);
        client
    }

    /// Opens an in-process connection whose server side runs in the task
    /// that drives the returned end, not in a task of its own (see
    /// [`ClientEnd::server`]): what a client
    /// [`Connection`](crate::client::Connection) on a backend, and each
    /// server-rendered page's model, use. No message is handed from the
    /// client's task to another for the server's side to handle.
    pub fn connect_driven(&self, request: Option<http::request::Parts>) -> ClientEnd {
        let (mut client, server) = protocol::transport::pair();
        client.server = Some(Box::pin(self.agent(server, request, true)));
        client
    }

    /// Serves a connection that arrived some other way, in a new task,
    /// until either side closes it. `transport` is a [`ServerEnd`] or any
    /// other [`ServerTransport`]; `request` is what the `connect`
    /// middleware sees (the HTTP upgrade request, if there was one).
    pub fn serve(&self, transport: impl ServerTransport, request: Option<http::request::Parts>) {
        tokio::spawn(self.agent(transport, request, false));
    }

    /// The future that serves a connection until either side closes it,
    /// to run in the caller's own task (as `peloton::axum`'s `/channel`
    /// route does, so replies go from the agent to the socket with no task
    /// in between). A closed backend ends it at once.
    pub fn serve_in_place<T: ServerTransport>(
        &self,
        transport: T,
        request: Option<http::request::Parts>,
    ) -> impl std::future::Future<Output = ()> + Send + use<T> {
        self.agent(transport, request, false)
    }

    fn spawn_agent(&self, end: ServerEnd, request: Option<http::request::Parts>, in_process: bool) {
        tokio::spawn(self.agent(end, request, in_process));
    }

    fn agent<T: ServerTransport>(
        &self,
        transport: T,
        request: Option<http::request::Parts>,
        in_process: bool,
    ) -> impl std::future::Future<Output = ()> + Send + use<T> {
        let shutdown = self.shared.shutdown.subscribe();
        agent::run(
            self.shared.clone(),
            transport,
            request,
            in_process,
            shutdown,
        )
    }

    /// Submits an op from server code (no client): a create, an edit or a
    /// delete of `collection.id` at its latest version. Returns the version
    /// the op was applied at.
    pub async fn submit(
        &self,
        collection: &str,
        id: &str,
        kind: OpKind,
    ) -> Result<u64, ErrorObject> {
        let agent = submit::server_agent();
        let request = OpRequest {
            c: collection.to_owned(),
            d: id.to_owned(),
            v: None,
            src: None,
            seq: None,
            kind,
            x: None,
        };
        let mut req = SubmitRequest::new(&agent, request, self.shared.options.max_submit_retries);
        submit::submit(&self.shared, &mut req).await?;
        Ok(req.op.v)
    }

    /// The latest snapshot of a document, from server code (no middleware).
    pub async fn fetch(&self, collection: &str, id: &str) -> Result<StoredSnapshot, ErrorObject> {
        self.shared
            .db
            .get_snapshot(collection, id)
            .await
            .map_err(|e| ErrorObject::new(ErrorCode::Unknown, e.to_string()))
    }

    /// Closes every connection, then the pub/sub and the database.
    pub async fn close(&self) {
        // `send_replace`, not `send`: with no connection open there is no
        // receiver, and `send` would not store the flag, so later
        // connections would be served.
        self.shared.shutdown.send_replace(true);
        self.shared.pubsub.close().await;
        self.shared.db.close().await;
    }
}

/// `url` with the password of its user info (`scheme://user:password@host`)
/// replaced by `***`, for logs and error messages: connection strings of
/// MongoDB and Redis often carry credentials.
///
/// ```
/// use peloton::backend::redact_password;
///
/// assert_eq!(
///     redact_password("mongodb://app:s3cr%40t@db1:27017,db2/todos?authSource=admin"),
///     "mongodb://app:***@db1:27017,db2/todos?authSource=admin"
/// );
/// assert_eq!(redact_password("redis://:hunter2@cache:6379/0"), "redis://:***@cache:6379/0");
/// assert_eq!(redact_password("mongodb://127.0.0.1:27017"), "mongodb://127.0.0.1:27017");
/// ```
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The authority ends at the path or the options; its user info at the
    // last `@` (a password may hold an unescaped `@`).
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((user_info, hosts)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{hosts}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("options", &self.shared.options)
            .field("middleware", &self.shared.middleware.len())
            .finish_non_exhaustive()
    }
}

/// In-process connections: a client [`Connection`](crate::client::Connection)
/// on a backend talks to it without serialization.
impl protocol::Connector for Backend {
    fn connect(&self) -> protocol::transport::ConnectFuture {
        let end = self.connect_driven(None);
        Box::pin(async move { Ok(end) })
    }
}
