//! One-off reads of documents' pasts: a snapshot at a version or a time
//! (ShareDB's `nf`, `nt`) and the list of a document's versions (peloton's
//! `hv`).
//!
//! Each read waits for the reply with its id. Reads change nothing on the
//! server, so those still waiting when the connection drops are sent again
//! after the next handshake; a closed connection fails them. This module
//! owns only these requests: the documents the connection holds are
//! `docs`'.

use std::collections::HashMap;

use futures::channel::oneshot;

use super::ClientError;
use super::link::Link;
use crate::protocol::{ClientMessage, ErrorObject, ServerMessage};

/// The answer to a read: its reply message, or why there is none.
pub(crate) type ReadReply = Result<ServerMessage, ClientError>;

/// The reads waiting for their replies.
#[derive(Default)]
pub(crate) struct PastReads {
    next_id: u64,
    waiting: HashMap<u64, Waiting>,
}

struct Waiting {
    request: ClientMessage,
    reply: oneshot::Sender<ReadReply>,
}

impl PastReads {
    /// Sends the request `make` builds with a new id (now, or after the
    /// next handshake); the receiver gets its reply.
    pub fn send(
        &mut self,
        make: impl FnOnce(u64) -> ClientMessage,
        link: &Link,
    ) -> oneshot::Receiver<ReadReply> {
        self.next_id += 1;
        let id = self.next_id;
        let request = make(id);
        link.send(request.clone());
        let (reply, receiver) = oneshot::channel();
        self.waiting.insert(id, Waiting { request, reply });
        receiver
    }

    /// Whether `id` is a read waiting for its reply.
    pub fn is_waiting(&self, id: u64) -> bool {
        self.waiting.contains_key(&id)
    }

    /// The reply to read `id` arrived.
    pub fn on_reply(&mut self, id: u64, reply: ServerMessage) {
        if let Some(waiting) = self.waiting.remove(&id) {
            let _ = waiting.reply.send(Ok(reply));
        }
    }

    /// The server refused read `id`.
    pub fn on_error(&mut self, id: u64, error: ErrorObject) {
        if let Some(waiting) = self.waiting.remove(&id) {
            let _ = waiting.reply.send(Err(ClientError::Server(error)));
        }
    }

    /// After a handshake: sends again what was never answered.
    pub fn resume(&self, link: &Link) {
        let mut ids: Vec<_> = self.waiting.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            link.send(self.waiting[&id].request.clone());
        }
    }

    /// The connection closed for good: every read fails.
    pub fn on_close(&mut self) {
        for (_, waiting) in self.waiting.drain() {
            let _ = waiting.reply.send(Err(ClientError::Closed));
        }
    }
}
