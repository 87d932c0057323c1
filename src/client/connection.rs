//! `Connection`: one client's link to a server, with its documents and
//! queries, kept alive across reconnects.
//!
//! This module owns the handle, the listeners and the task that connects,
//! serves a transport and reconnects with backoff. What the connection
//! knows lives in [`State`] behind one lock; the handles ([`Doc`],
//! [`Query`], [`Presence`]) reach it through [`Shared::with_state`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::{Either, select};
use serde_json::Value;

use super::doc::Doc;
use super::link::ConnectionState;
use super::presence::{DocPresence, Presence};
use super::query::Query;
use super::state::State;
use super::{ClientEvent, rt};
use crate::protocol::{ClientEnd, ClientMessage, Connector, DocData, ServerMessage, ServerTask};

/// How a connection notices a dead server and reconnects.
///
/// Reconnects back off exponentially with full jitter: the wait before
/// attempt `n` is random between zero and `min(reconnect_max,
/// reconnect_min × 2ⁿ)`, so clients a server turned away do not come back
/// all at once. The backoff starts over only after a handshake: a server
/// that accepts sockets but refuses the connection is not retried faster.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectionOptions {
    /// The first backoff ceiling; doubled after each failed attempt.
    pub reconnect_min: Duration,
    /// The largest backoff ceiling.
    pub reconnect_max: Duration,
    /// After this long without a message from the server, the client
    /// pings it (ShareDB's `pp`).
    pub ping_interval: Duration,
    /// After this long without a message (a pong counts), the server is
    /// taken for dead: the connection is dropped and made again. It catches
    /// a server or network that vanished without closing the socket.
    pub ping_timeout: Duration,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            ping_timeout: Duration::from_secs(45),
        }
    }
}

type Listener = Arc<dyn Fn(&ClientEvent) + Send + Sync>;

/// A client connection speaking ShareDB's protocol: ShareDB's client
/// `Connection`, in Rust.
///
/// It connects through a [`Connector`] (in-process to a backend, or a
/// WebSocket) and reconnects by itself with exponential backoff. After a
/// reconnect, documents resubscribe from the version they have, the op
/// that was in flight is sent again with the same `src`/`seq` (the server
/// acknowledges it without applying it twice), and ops made offline follow.
///
/// Cheap to clone; clones share the connection, which closes when the
/// last clone (or [`Doc`], [`Query`], [`Presence`] of it) is dropped.
#[derive(Clone)]
pub struct Connection {
    pub(crate) shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

/// Held by every handle on a connection; the last one to go closes it, so
/// a forgotten connection does not keep its task and transport alive.
struct Owner(mpsc::UnboundedSender<Control>);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.unbounded_send(Control::Close);
    }
}

/// What the handles of a connection share.
pub(crate) struct Shared {
    state: Mutex<State>,
    listeners: Mutex<Vec<(u64, Listener)>>,
    control: mpsc::UnboundedSender<Control>,
}

enum Control {
    /// Local ops were queued: send them (a tick after the writes, so the
    /// writes of one synchronous run compose).
    Flush,
    Disconnect,
    Reconnect,
    Close,
}

/// Borrowed reads of a connection's documents (see `Connection::read_docs`).
pub(crate) struct DocReader<'s>(&'s State);

impl<'s> DocReader<'s> {
    /// `collection.id` as loaded here: its version, whether it exists, its
    /// data; `None` if nothing was loaded.
    pub fn get(&self, collection: &str, id: &str) -> Option<(u64, bool, Option<&'s DocData>)> {
        self.0.doc_parts(collection, id)
    }
}

impl Shared {
    /// Runs `f` under the lock, then dispatches the events it produced.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let (result, events, pending) = {
            let mut state = self.lock();
            let result = f(&mut state);
            state.check_nothing_pending();
            if state.take_flush_wanted() {
                let _ = self.control.unbounded_send(Control::Flush);
            }
            (result, state.take_events(), state.take_pending_update())
        };
        if let Some((sink, record)) = pending {
            sink(record);
        }
        self.dispatch(&events);
        result
    }

    /// Runs `f` under the lock to read: a read changes nothing, so there
    /// are no events to dispatch and nothing to flush (a page's rows read
    /// hundreds of times).
    pub(crate) fn read_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements; a panic in a listener
        // never happens under this lock.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dispatch(&self, events: &[ClientEvent]) {
        if events.is_empty() {
            return;
        }
        let listeners: Vec<Listener> = self
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for event in events {
            for listener in &listeners {
                listener(event);
            }
        }
    }

    /// A transport is open: remember it and say hello.
    fn attach(&self, tx: mpsc::UnboundedSender<ClientMessage>) {
        self.with_state(|s| s.attach(tx));
    }

    /// The transport closed (or is being closed).
    fn detach(&self, to: ConnectionState) {
        self.with_state(|s| s.detach(to));
    }

    fn handle(&self, message: ServerMessage) {
        self.with_state(|s| s.handle(message));
    }

    fn is_closed(&self) -> bool {
        self.lock().link().state() == ConnectionState::Closed
    }

    fn is_paused(&self) -> bool {
        self.lock().link().is_paused()
    }
}

impl Connection {
    /// Connects through `connector`, in the background; requests made
    /// before the connection is up are sent once it is.
    pub fn new(connector: impl Connector) -> Self {
        Self::with_options(connector, ConnectionOptions::default())
    }

    /// Like [`Connection::new`], with reconnect options.
    pub fn with_options(connector: impl Connector, options: ConnectionOptions) -> Self {
        Self::with_state(connector, options, State::default())
    }

    /// A connection that starts from `state`.
    pub(super) fn with_state(
        connector: impl Connector,
        options: ConnectionOptions,
        state: State,
    ) -> Self {
        let (control, control_rx) = mpsc::unbounded();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            listeners: Mutex::new(Vec::new()),
            control: control.clone(),
        });
        rt::spawn(drive(
            shared.clone(),
            Arc::new(connector),
            options,
            control_rx,
        ));
        Self {
            shared,
            _owner: Arc::new(Owner(control)),
        }
    }

    /// The connection's state.
    pub fn state(&self) -> ConnectionState {
        self.shared.lock().link().state()
    }

    /// This client's id (the `src` of its ops), once the server gave it.
    pub fn id(&self) -> Option<String> {
        self.shared.lock().link().id().map(str::to_owned)
    }

    /// Calls `listener` with every event (remote document changes, query
    /// result changes, state changes) until the returned handle is dropped
    /// or [`ListenerHandle::forget`] is called on it.
    pub fn on_event(
        &self,
        listener: impl Fn(&ClientEvent) + Send + Sync + 'static,
    ) -> ListenerHandle {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.shared
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, Arc::new(listener)));
        ListenerHandle {
            shared: Some(Arc::downgrade(&self.shared)),
            id,
        }
    }

    /// The document `collection.id`; every call with the same names returns
    /// a handle on the same document.
    pub fn get(&self, collection: &str, id: &str) -> Doc {
        self.shared.with_state(|s| {
            s.doc(collection, id);
        });
        Doc::new(self.clone(), collection, id)
    }

    /// Reads the data of `collection.id` (`None` if the connection does
    /// not hold it), without creating a handle: what every model read of
    /// a shared document does. `f` runs under the connection's lock.
    pub(crate) fn read_doc<R>(
        &self,
        collection: &str,
        id: &str,
        f: impl FnOnce(Option<&Value>) -> R,
    ) -> R {
        self.shared.read_state(|s| s.read_doc(collection, id, f))
    }

    /// Runs `f` with a reader of every document this connection holds,
    /// under one lock (a page's bundle reads them all at once).
    pub(crate) fn read_docs<R>(&self, f: impl FnOnce(DocReader<'_>) -> R) -> R {
        self.shared.read_state(|s| f(DocReader(s)))
    }

    /// The documents of `collection` this connection holds (loaded and
    /// existing), by id, in id order.
    pub fn collection(&self, collection: &str) -> Vec<(String, Value)> {
        self.shared.read_state(|s| s.collection(collection))
    }

    /// Subscribes to a query: its results arrive, then stay up to date.
    pub fn subscribe_query(&self, collection: &str, expression: Value) -> Query {
        self.query(collection, expression, true, None)
    }

    /// Subscribes to a query whose results the client already has (as
    /// `(id, version)` pairs, e.g. from a server-rendered page): the server
    /// sends only what changed since.
    pub fn resume_query(
        &self,
        collection: &str,
        expression: Value,
        known: Vec<(String, Option<u64>)>,
    ) -> Query {
        self.query(collection, expression, true, Some(known))
    }

    /// Runs a query once; its documents are loaded into the connection.
    pub fn fetch_query(&self, collection: &str, expression: Value) -> Query {
        self.query(collection, expression, false, None)
    }

    fn query(
        &self,
        collection: &str,
        expression: Value,
        live: bool,
        known: Option<Vec<(String, Option<u64>)>>,
    ) -> Query {
        let id = self
            .shared
            .with_state(|s| s.add_query(collection, expression, live, known));
        Query::new(self.clone(), id)
    }

    /// The presence channel `channel`.
    pub fn presence(&self, channel: &str) -> Presence {
        Presence::new(self.clone(), channel)
    }

    /// The presence of the document `collection.id`, whose values follow
    /// its edits (ShareDB's `connection.getDocPresence`).
    pub fn doc_presence(&self, collection: &str, id: &str) -> DocPresence {
        DocPresence::new(self.clone(), collection, id)
    }

    /// Whether any op is unacknowledged or any request is unanswered.
    pub fn has_pending(&self) -> bool {
        self.shared.lock().has_pending()
    }

    /// Resolves once no op is unacknowledged and no request unanswered.
    pub async fn when_nothing_pending(&self) {
        let waiter = self.shared.with_state(State::when_nothing_pending);
        if let Some(rx) = waiter {
            let _ = rx.await;
        }
    }

    /// Sends a read of a document's past built by `make` with its id, and
    /// waits for the reply (see `history`).
    pub(super) async fn read_past(
        &self,
        make: impl FnOnce(u64) -> ClientMessage,
    ) -> Result<ServerMessage, super::ClientError> {
        let reply = self.shared.with_state(|s| s.read_past(make));
        reply.await.unwrap_or(Err(super::ClientError::Closed))
    }

    /// Goes offline until [`Connection::reconnect`]: edits keep applying
    /// locally and are sent when the connection is back.
    pub fn disconnect(&self) {
        self.shared.with_state(|s| s.set_paused(true));
        let _ = self.shared.control.unbounded_send(Control::Disconnect);
    }

    /// Comes back after [`Connection::disconnect`] (or reconnects at once
    /// instead of waiting out the backoff).
    pub fn reconnect(&self) {
        self.shared.with_state(|s| s.set_paused(false));
        let _ = self.shared.control.unbounded_send(Control::Reconnect);
    }

    /// Closes the connection for good; pending requests fail with
    /// [`ClientError::Closed`](super::ClientError::Closed).
    pub fn close(&self) {
        let _ = self.shared.control.unbounded_send(Control::Close);
        self.shared.detach(ConnectionState::Closed);
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.shared.lock();
        let (docs, queries) = s.sizes();
        f.debug_struct("Connection")
            .field("state", &s.link().state())
            .field("id", &s.link().id())
            .field("docs", &docs)
            .field("queries", &queries)
            .finish()
    }
}

/// Keeps an event listener registered; dropping it removes the listener.
#[must_use = "dropping the handle removes the listener at once"]
pub struct ListenerHandle {
    shared: Option<std::sync::Weak<Shared>>,
    id: u64,
}

impl ListenerHandle {
    /// Keeps the listener for the connection's whole life.
    pub fn forget(mut self) {
        self.shared = None;
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take().and_then(|w| w.upgrade()) {
            shared
                .listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|(id, _)| *id != self.id);
        }
    }
}

/// Connects, serves, reconnects with backoff, until closed.
async fn drive(
    shared: Arc<Shared>,
    connector: Arc<dyn Connector>,
    options: ConnectionOptions,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut ceiling = options.reconnect_min;
    loop {
        if shared.is_closed() {
            return;
        }
        if shared.is_paused() {
            match control.next().await {
                Some(Control::Close) | None => {
                    shared.detach(ConnectionState::Closed);
                    return;
                }
                _ => continue,
            }
        }
        shared.with_state(|s| s.set_state(ConnectionState::Connecting));
        let handshakes = shared.lock().link().handshakes();
        tracing::debug!("connecting");
        match connector.connect().await {
            Ok(ClientEnd { tx, rx, server }) => {
                tracing::debug!("connected");
                shared.attach(tx);
                let session = serve(&shared, rx, &mut control, &options);
                let (served, server) = match server {
                    Some(server) => alongside(session, server).await,
                    None => (session.await, None),
                };
                if served == Served::Closed {
                    shared.detach(ConnectionState::Closed);
                } else {
                    tracing::info!("connection lost: reconnecting");
                    shared.detach(ConnectionState::Disconnected);
                }
                // The server's side, now told the client is gone, cleans up.
                if let Some(server) = server {
                    server.await;
                }
                if served == Served::Closed {
                    return;
                }
            }
            Err(error) => {
                tracing::debug!("cannot connect: {error}");
                shared.with_state(|s| s.set_state(ConnectionState::Disconnected));
            }
        }
        if shared.lock().link().handshakes() > handshakes {
            ceiling = options.reconnect_min;
        }
        if shared.is_paused() {
            continue;
        }
        let wait = ceiling.mul_f64(crate::random::unit());
        let mut wait = std::pin::pin!(rt::sleep(wait));
        let closed = loop {
            match select(wait.as_mut(), control.next()).await {
                Either::Left(_) => break false,
                // Ops queued offline are sent on reconnect.
                Either::Right((Some(Control::Flush), _)) => continue,
                Either::Right((Some(Control::Close) | None, _)) => break true,
                Either::Right(_) => break false,
            }
        };
        if closed {
            shared.detach(ConnectionState::Closed);
            return;
        }
        ceiling = (ceiling * 2).min(options.reconnect_max);
    }
}

/// Runs `session` with the server's side of its connection beside it, in
/// this task, until the session ends; what is left of the server's side
/// (it ends once the client has let go of the connection).
async fn alongside<T>(
    session: impl std::future::Future<Output = T>,
    server: ServerTask,
) -> (T, Option<ServerTask>) {
    let session = std::pin::pin!(session);
    match select(session, server).await {
        Either::Left((served, server)) => (served, Some(server)),
        // The server ended the connection: the session sees it end too.
        Either::Right(((), session)) => (session.await, None),
    }
}

/// How a session on one transport ended.
#[derive(PartialEq)]
enum Served {
    /// The transport closed, was dropped, or went silent: reconnect.
    Ended,
    /// The connection was closed for good.
    Closed,
}

/// Serves one transport: hands its messages to the connection, pings a
/// quiet server, and gives up on one silent past the timeout.
async fn serve(
    shared: &Shared,
    mut rx: mpsc::UnboundedReceiver<ServerMessage>,
    control: &mut mpsc::UnboundedReceiver<Control>,
    options: &ConnectionOptions,
) -> Served {
    let millis = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut heard = rt::now_ms();
    let mut pinged = false;
    loop {
        let quiet = rt::now_ms() - heard;
        let until = if pinged {
            options.ping_timeout
        } else {
            options.ping_interval
        };
        let timer = std::pin::pin!(rt::sleep(Duration::from_secs_f64(
            (millis(until) - quiet).max(0.0) / 1000.0
        )));
        let incoming = select(rx.next(), control.next());
        match select(incoming, timer).await {
            Either::Left((Either::Left((Some(message), _)), _)) => {
                heard = rt::now_ms();
                pinged = false;
                shared.handle(message);
            }
            Either::Left((Either::Left((None, _)), _)) => return Served::Ended,
            Either::Left((Either::Right((control, _)), _)) => match control {
                Some(Control::Flush) => shared.with_state(State::flush),
                Some(Control::Reconnect) => {}
                Some(Control::Disconnect) => return Served::Ended,
                Some(Control::Close) | None => return Served::Closed,
            },
            Either::Right(_) => {
                if rt::now_ms() - heard < millis(until) {
                    continue;
                }
                if pinged {
                    tracing::info!(
                        "no message from the server for {:?}: reconnecting",
                        options.ping_timeout
                    );
                    return Served::Ended;
                }
                shared.with_state(|s| s.ping());
                pinged = true;
            }
        }
    }
}
