//! The session with the server: where the connection stands, the channel
//! to the server while connected, this client's id and its op sequence.
//!
//! It owns only that. Documents, queries and presence send through it; it
//! knows nothing of them.

use futures::channel::mpsc;

use super::ClientEvent;
use crate::protocol::ClientMessage;

/// Where a connection stands. The set is closed (views match on it), so it
/// is not `#[non_exhaustive]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Opening a connection, or waiting for the server's handshake.
    Connecting,
    /// Connected: requests and ops flow.
    Connected,
    /// Disconnected; it reconnects by itself (unless
    /// [`Connection::disconnect`](super::Connection::disconnect) was
    /// called). Edits are applied locally and queued meanwhile.
    Disconnected,
    /// Closed for good by [`Connection::close`](super::Connection::close).
    Closed,
}

/// The connection's session with the server.
pub(crate) struct Link {
    state: ConnectionState,
    /// The id the server gave (or adopted): the `src` of this client's ops.
    id: Option<String>,
    /// To the server, while a transport is open.
    tx: Option<mpsc::UnboundedSender<ClientMessage>>,
    /// The next op sequence number.
    seq: u64,
    /// Offline by the application's choice, until it reconnects.
    paused: bool,
    /// How many handshakes completed (the backoff starts over after one).
    handshakes: u64,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            state: ConnectionState::Connecting,
            id: None,
            tx: None,
            seq: 1,
            paused: false,
            handshakes: 0,
        }
    }
}

impl Link {
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// Moves to `state`, telling the listeners if it changed.
    pub fn set_state(&mut self, state: ConnectionState, events: &mut Vec<ClientEvent>) {
        if self.state != state {
            self.state = state;
            events.push(ClientEvent::State(state));
        }
    }

    /// This client's id, once the server gave one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Sends a message if connected; `false` if it could not be sent (it
    /// will be sent again after the next handshake).
    pub fn send(&self, message: ClientMessage) -> bool {
        self.can_send()
            && self
                .tx
                .as_ref()
                .is_some_and(|tx| tx.unbounded_send(message).is_ok())
    }

    pub fn can_send(&self) -> bool {
        self.state == ConnectionState::Connected && self.tx.is_some()
    }

    /// A transport is open: say hello (with the id this client had, so the
    /// server can recognize resent ops), then send through it.
    pub fn attach(&mut self, tx: mpsc::UnboundedSender<ClientMessage>) {
        let _ = tx.unbounded_send(ClientMessage::handshake(self.id.clone()));
        self.tx = Some(tx);
    }

    /// The transport is gone.
    pub fn detach(&mut self) {
        self.tx = None;
    }

    /// The server's handshake: the id to send ops under.
    pub fn on_handshake(&mut self, id: String, events: &mut Vec<ClientEvent>) {
        self.id = Some(id);
        self.handshakes += 1;
        self.set_state(ConnectionState::Connected, events);
    }

    pub fn handshakes(&self) -> u64 {
        self.handshakes
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// The next op sequence number.
    pub fn next_seq(&self) -> u64 {
        self.seq
    }

    /// Before the first handshake: asks for `id` back, and numbers ops
    /// from `next_seq` (a replay of a page that is gone).
    pub fn resume_as(&mut self, id: Option<String>, next_seq: u64) {
        self.id = id;
        self.seq = self.seq.max(next_seq);
    }

    /// Gives an op this client's id and the next sequence number, unless it
    /// has them: an op sent before a reconnect is resent as it was, so the
    /// server can tell it was committed already.
    pub fn stamp(&mut self, src: &mut Option<String>, seq: &mut Option<u64>) {
        if seq.is_none() {
            *seq = Some(self.seq);
            self.seq += 1;
        }
        if src.is_none() {
            *src = self.id.clone();
        }
    }
}
