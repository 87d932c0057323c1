//! What a connection keeps so that its unacknowledged edits outlive the
//! page: the ops the server has not acknowledged (with their `src`/`seq`),
//! the documents they apply to, the connection's id and next `seq`.
//!
//! A connection given a sink ([`Connection::keep_pending`]) hands it a
//! [`PendingRecord`] whenever that changes; the browser's hydrate writes
//! it to IndexedDB (`offline::browser`). A record left by a page that is
//! gone is replayed by [`Connection::replay`]: a connection that resumes
//! the gone page's id, so an op it had sent is acknowledged, not applied
//! twice, and the rest is sent once; or [`Connection::adopt`] takes it
//! over before the page's own connection connects, so the page shows it.
//! This module owns the record and those entry points; the documents'
//! state is `docs`'.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ClientError;
use super::connection::{Connection, ConnectionOptions};
use super::state::State;
use crate::protocol::Connector;

#[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
pub mod browser;

/// A connection's unacknowledged work, as an offline store keeps it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingRecord {
    /// The connection's id (the `src` of the ops it stamped), if it had one.
    pub id: Option<String>,
    /// The next `seq` it would have stamped.
    pub next_seq: u64,
    /// The documents with ops to send, by collection and id.
    pub docs: Vec<PendingDoc>,
    /// The other documents the connection held, as it last had them (no
    /// ops): what a page opened offline shows when they are newer than
    /// the copy it was served with.
    #[serde(default)]
    pub held: Vec<PendingDoc>,
    /// The results of the live queries, as the connection last had them:
    /// what a page opened offline shows of a query it cannot answer itself
    /// (one that pages).
    #[serde(default)]
    pub queries: Vec<KeptQuery>,
    /// When the store wrote it (ms since the epoch; 0 if it did not say):
    /// the latest closed page is the one a new page takes over.
    #[serde(default)]
    pub saved_at: f64,
}

/// A document with unacknowledged ops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingDoc {
    /// Collection.
    pub c: String,
    /// Document id.
    pub d: String,
    /// The version the first op applies to (`None`: created here, never
    /// acknowledged).
    pub v: Option<u64>,
    /// The type, if the document exists.
    pub doc_type: Option<String>,
    /// The data with every op applied.
    pub data: Option<Value>,
    /// The ops, oldest first, each as its wire message (`src`/`seq` set
    /// if it was sent before).
    pub ops: Vec<String>,
}

/// A live query's results, as an offline store keeps them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptQuery {
    /// Collection.
    pub c: String,
    /// The query expression.
    pub q: Value,
    /// The result ids, in order.
    pub ids: Vec<String>,
    /// The extra result (`$count`, ...).
    pub extra: Option<Value>,
}

impl PendingRecord {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Whether there is nothing to keep at all.
    pub fn holds_nothing(&self) -> bool {
        self.docs.is_empty() && self.held.is_empty() && self.queries.is_empty()
    }
}

/// Where a connection's pending record goes whenever it changes.
pub(crate) type PendingSink = std::sync::Arc<dyn Fn(PendingRecord) + Send + Sync>;

impl State {
    /// The record of what is unacknowledged now.
    pub fn pending_record(&self) -> PendingRecord {
        PendingRecord {
            id: self.link().id().map(str::to_owned),
            next_seq: self.link().next_seq(),
            docs: self.docs().pending_docs(),
            held: self.docs().held_docs(),
            queries: self.queries().kept(),
            saved_at: 0.0,
        }
    }
}

impl Connection {
    /// Calls `sink` with the connection's unacknowledged work each time it
    /// changes (an edit, a send, an acknowledgement), and once now: what an
    /// offline store writes down so that a closed page loses nothing.
    pub fn keep_pending(&self, sink: impl Fn(PendingRecord) + Send + Sync + 'static) {
        let sink: PendingSink = std::sync::Arc::new(sink);
        let now = self.shared.with_state(|s| {
            s.set_pending_sink(Some(sink.clone()));
            s.pending_record()
        });
        sink(now);
    }

    /// Takes over what a closed page left (`record`) as this connection's
    /// own: its documents go back to the kept versions with the kept ops
    /// applied (listeners get `Loaded`), and the connection asks the
    /// server for the closed page's id, so an op that page had sent is
    /// acknowledged, not applied twice. Only before the connection's first
    /// handshake (create it, [`disconnect`](Connection::disconnect) at
    /// once, adopt, [`reconnect`](Connection::reconnect)), and only if it
    /// has no writes of its own to those documents; whether it did.
    pub fn adopt(&self, record: PendingRecord) -> Result<bool, ClientError> {
        self.shared.with_state(|s| s.adopt(record))
    }

    /// A connection that sends what `record` left unacknowledged: it asks
    /// the server for the record's id back (so ops it had sent are
    /// acknowledged, not applied twice), subscribes each document from the
    /// record's version (so its ops are transformed like any concurrent
    /// edit), and sends the ops. Wait for it with
    /// [`Connection::when_nothing_pending`], then drop it.
    pub fn replay(
        connector: impl Connector,
        options: ConnectionOptions,
        record: PendingRecord,
    ) -> Result<Self, ClientError> {
        let mut state = State::default();
        state.resume_as(record.id, record.next_seq);
        // Only what is to be sent: the documents held are the page's view.
        for doc in record.docs {
            state.restore_doc(doc)?;
        }
        Ok(Self::with_state(connector, options, state))
    }
}
