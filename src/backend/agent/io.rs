//! The agent's side of a connection: what comes from the client, and how
//! replies, pings and closes go out (an in-process channel pair, or the
//! WebSocket of `peloton::axum`).

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;

use crate::protocol::{ClientMessage, ServerEnd, ServerMessage};

/// What came from a client.
pub(crate) enum Incoming {
    /// A request.
    Message(ClientMessage),
    /// A frame that was no request: the reply that says why.
    Reply(ServerMessage),
    /// The client is gone or must go: with the close code and reason to
    /// send it, if it can still be told.
    Gone(Option<(u16, String)>),
}

/// How an agent talks to its client: requests in, replies and ops out.
///
/// In-process connections use a pair of channels ([`ServerEnd`]); the
/// `/channel` route lets the agent own its WebSocket, so a message goes
/// from the agent to the socket without another task in between.
pub(crate) trait AgentIo: Send + 'static {
    /// What the client sent next. Cancel-safe: it never writes (an agent
    /// waits for requests and deliveries at once).
    fn recv(&mut self) -> impl Future<Output = Incoming> + Send;

    /// Sends messages, in order; `false` once the client is gone.
    fn send(&mut self, messages: Vec<ServerMessage>) -> impl Future<Output = bool> + Send;

    /// How long since the client last sent anything (a pong counts).
    fn idle_for(&self) -> Duration;

    /// Asks the client for a sign of life; `false` once it is gone.
    fn ping(&mut self) -> impl Future<Output = bool> + Send;

    /// Closes the connection, telling the client why if the transport can.
    fn close(&mut self, code: u16, reason: String) -> impl Future<Output = ()> + Send;
}

impl AgentIo for ServerEnd {
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

/// WebSocket close codes the agent closes with.
pub(crate) mod close_code {
    /// The server is going away, or the client went quiet for too long.
    pub const AWAY: u16 = 1001;
    /// The connection was refused by `connect` middleware.
    pub const POLICY: u16 = 1008;
    /// The client does not read what it is sent fast enough: try again
    /// later.
    pub const AGAIN: u16 = 1013;
}
