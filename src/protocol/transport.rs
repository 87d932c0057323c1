//! The transport: a duplex of typed protocol messages.
//!
//! A client and a server talk through a pair of channels, one per
//! direction. In-process ([`pair`]) the messages travel as values, never
//! serialized; over a WebSocket a pump task on each side turns frames into
//! messages and back. Either way, a client gets a [`ClientEnd`] from a
//! [`Connector`], and a server an [`ServerEnd`] per connection.

use futures::channel::mpsc;
#[cfg(not(target_arch = "wasm32"))]
use futures::future::BoxFuture;
#[cfg(target_arch = "wasm32")]
use futures::future::LocalBoxFuture;

use super::{ClientMessage, ServerMessage};

/// A client's end of a connection. Dropping `tx` closes the connection;
/// `rx` ends when the server closes it.
#[derive(Debug)]
pub struct ClientEnd {
    /// Messages to the server.
    pub tx: mpsc::UnboundedSender<ClientMessage>,
    /// Messages from the server.
    pub rx: mpsc::UnboundedReceiver<ServerMessage>,
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
