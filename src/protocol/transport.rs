//! The transport: a duplex of typed protocol messages.
//!
//! A client and a server talk through a pair of channels, one per
//! direction. In-process ([`pair`]) the messages travel as values, never
//! serialized; over a WebSocket a pump task on each side turns frames into
//! messages and back. Either way, a client gets a [`ClientEnd`] from a
//! [`Connector`], and a server serves each connection through a
//! [`ServerTransport`]: a [`ServerEnd`], or its own (peloton's `/channel`
//! route implements it over an axum WebSocket, so the agent writes to the
//! socket with no task in between).
//!
//! This module owns the seam only; it knows neither the backend nor the
//! client's state.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
#[cfg(not(target_arch = "wasm32"))]
use futures::future::BoxFuture;
#[cfg(target_arch = "wasm32")]
use futures::future::LocalBoxFuture;

use super::{ClientMessage, ServerMessage};

/// A client's end of a connection. Dropping `tx` closes the connection;
/// `rx` ends when the server closes it.
pub struct ClientEnd {
    /// Messages to the server.
    pub tx: mpsc::UnboundedSender<ClientMessage>,
    /// Messages from the server.
    pub rx: mpsc::UnboundedReceiver<ServerMessage>,
    /// The server's side of an in-process connection, when it is left to
    /// the client to run in its own task (`Backend::connect_driven`): then
    /// no message is handed from one task (or thread) to another. Whoever
    /// drives this end polls it along with its own work and, after
    /// dropping `tx`, to its end (the server's clean-up). `None` when the
    /// server runs elsewhere.
    pub server: Option<ServerTask>,
}

impl std::fmt::Debug for ClientEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientEnd")
            .field("tx", &self.tx)
            .field("rx", &self.rx)
            .field("server", &self.server.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A server's end of a connection. Dropping `tx` closes the connection;
/// `rx` ends when the client goes away.
#[derive(Debug)]
pub struct ServerEnd {
    /// Messages to the client.
    pub tx: mpsc::UnboundedSender<ServerMessage>,
    /// Messages from the client.
    pub rx: mpsc::UnboundedReceiver<ClientMessage>,
}

/// Two connected ends: what one end sends, the other receives.
pub fn pair() -> (ClientEnd, ServerEnd) {
    let (client_tx, server_rx) = mpsc::unbounded();
    let (server_tx, client_rx) = mpsc::unbounded();
    (
        ClientEnd {
            tx: client_tx,
            rx: client_rx,
            server: None,
        },
        ServerEnd {
            tx: server_tx,
            rx: server_rx,
        },
    )
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to {target}: {reason}")]
pub struct TransportError {
    /// Where the connection was going (a URL, "in-process backend").
    pub target: String,
    /// What went wrong.
    pub reason: String,
}

/// The server's side of a connection, run by its client (see
/// [`ClientEnd::server`]).
#[cfg(not(target_arch = "wasm32"))]
pub type ServerTask = BoxFuture<'static, ()>;
/// The server's side of a connection, run by its client (in the browser,
/// futures are not `Send`).
#[cfg(target_arch = "wasm32")]
pub type ServerTask = LocalBoxFuture<'static, ()>;

/// The future of a new connection.
#[cfg(not(target_arch = "wasm32"))]
pub type ConnectFuture = BoxFuture<'static, Result<ClientEnd, TransportError>>;
/// The future of a new connection (in the browser, futures are not `Send`).
#[cfg(target_arch = "wasm32")]
pub type ConnectFuture = LocalBoxFuture<'static, Result<ClientEnd, TransportError>>;

/// Opens connections to a server: once at start, and again after each
/// disconnect, so a client can reconnect by itself.
pub trait Connector: Send + Sync + 'static {
    /// Opens a new connection.
    fn connect(&self) -> ConnectFuture;
}

/// What came from a client, as a [`ServerTransport`] hands it to the server.
#[derive(Debug)]
#[non_exhaustive]
pub enum Incoming {
    /// A request.
    Message(ClientMessage),
    /// A frame that was no request: the reply that says why (sent back as
    /// is; the connection stays).
    Reply(ServerMessage),
    /// The client is gone or must go: with the close code and reason to
    /// send it, if it can still be told.
    Gone(Option<(u16, String)>),
}

/// How a server talks to one client: requests in; replies, ops, pings and
/// the close out.
///
/// `Backend::serve` runs a connection over any implementation. An
/// in-process [`ServerEnd`] is one; `peloton::axum`'s `/channel` route
/// implements it over a WebSocket. Another transport (a different
/// WebSocket library, a Unix socket, a test harness) implements these five
/// methods:
///
/// ```
/// use std::time::Duration;
/// use peloton::protocol::{ClientMessage, Incoming, ServerMessage, ServerTransport};
///
/// /// A transport over lines of JSON, one message per line.
/// struct Lines {
///     input: std::vec::IntoIter<String>,
///     output: Vec<String>,
/// }
///
/// impl ServerTransport for Lines {
///     async fn recv(&mut self) -> Incoming {
///         match self.input.next() {
///             Some(line) => match ClientMessage::parse(&line) {
///                 Ok(message) => Incoming::Message(message),
///                 Err(rejected) => Incoming::Reply(ServerMessage::Error(rejected)),
///             },
///             None => Incoming::Gone(None),
///         }
///     }
///     async fn send(&mut self, messages: Vec<ServerMessage>) -> bool {
///         self.output.extend(messages.iter().map(ServerMessage::to_json));
///         true
///     }
///     fn idle_for(&self) -> Duration {
///         Duration::ZERO
///     }
///     async fn ping(&mut self) -> bool {
///         true
///     }
///     async fn close(&mut self, _code: u16, _reason: String) {}
/// }
/// ```
pub trait ServerTransport: Send + 'static {
    /// What the client sent next. Must be cancel-safe and must not write:
    /// the server waits for requests and for deliveries at once.
    fn recv(&mut self) -> impl Future<Output = Incoming> + Send;

    /// Sends messages, in order; `false` once the client is gone. The
    /// server bounds how long this may take
    /// (`Limits::write_timeout`) and drops a client that does not read.
    fn send(&mut self, messages: Vec<ServerMessage>) -> impl Future<Output = bool> + Send;

    /// How long since the client last sent anything (a pong counts); a
    /// transport that cannot tell says zero, and is never timed out.
    fn idle_for(&self) -> Duration;

    /// Asks the client for a sign of life; `false` once it is gone.
    fn ping(&mut self) -> impl Future<Output = bool> + Send;

    /// Closes the connection, telling the client why if the transport can
    /// (see [`close_code`] for the codes the server uses).
    fn close(&mut self, code: u16, reason: String) -> impl Future<Output = ()> + Send;
}

impl ServerTransport for ServerEnd {
    async fn recv(&mut self) -> Incoming {
        match self.rx.next().await {
            Some(message) => Incoming::Message(message),
            None => Incoming::Gone(None),
        }
    }

    async fn send(&mut self, messages: Vec<ServerMessage>) -> bool {
        messages
            .into_iter()
            .all(|m| self.tx.unbounded_send(m).is_ok())
    }

    /// An in-process client cannot vanish without its end being dropped.
    fn idle_for(&self) -> Duration {
        Duration::ZERO
    }

    async fn ping(&mut self) -> bool {
        true
    }

    async fn close(&mut self, _code: u16, _reason: String) {}
}

/// The WebSocket close codes a server closes connections with.
pub mod close_code {
    /// The server is going away, or the client went quiet for too long.
    pub const AWAY: u16 = 1001;
    /// The connection was refused by `connect` middleware.
    pub const POLICY: u16 = 1008;
    /// The client does not read what it is sent fast enough: try again
    /// later.
    pub const AGAIN: u16 = 1013;
}
