//! Everything a connection knows, behind its one lock: the session with
//! the server ([`Link`]), the documents ([`Docs`]), the queries
//! ([`Queries`]) and the presence channels ([`Presences`]).
//!
//! Each concern owns its state in its own module; this one routes the
//! server's messages to them and carries what one concern's change means
//! for another: a query result is a document snapshot, and a document's
//! edit, version or reload moves its presence. It never touches the
//! transport (that is `connection`'s loop) nor the public handles.

use futures::channel::oneshot;
use serde_json::Value;

use super::ack::{Ack, Waiter};
use super::docs::{DocState, Docs, RemoteOp};
use super::link::{ConnectionState, Link};
use super::offline::{PendingDoc, PendingRecord, PendingSink};
use super::past_reads::{PastReads, ReadReply};
use super::presences::Presences;
use super::queries::{Queries, QueryState, ResultsChange};
use super::{ClientError, ClientEvent};
use crate::protocol::{
    self, ClientMessage, DocData, DocOp, ErrorObject, OpKind, QueryData, QueryDiff, QueryReply,
    ServerMessage,
};

/// A connection's state.
#[derive(Default)]
pub(crate) struct State {
    link: Link,
    docs: Docs,
    queries: Queries,
    presences: Presences,
    past_reads: PastReads,
    /// Waiters of `Connection::when_nothing_pending`.
    nothing_pending: Vec<oneshot::Sender<()>>,
    /// Events produced under the lock, dispatched after it is released.
    events: Vec<ClientEvent>,
    /// Documents with local ops queued since the last flush.
    unflushed: Vec<(String, String)>,
    /// Whether the connection's task must be woken to flush them.
    flush_wanted: bool,
    /// Where the unacknowledged work goes when it changes (an offline
    /// store), and whether it changed since.
    pending_sink: Option<PendingSink>,
    pending_changed: bool,
}

impl State {
    pub fn link(&self) -> &Link {
        &self.link
    }

    pub fn docs(&self) -> &Docs {
        &self.docs
    }

    pub fn queries(&self) -> &Queries {
        &self.queries
    }

    // ----- the offline store -----

    pub fn set_pending_sink(&mut self, sink: Option<PendingSink>) {
        self.pending_sink = sink;
    }

    /// The unacknowledged work may have changed.
    fn pending_changed(&mut self) {
        self.pending_changed |= self.pending_sink.is_some();
    }

    /// The sink and the record to give it, if the work changed.
    pub fn take_pending_update(&mut self) -> Option<(PendingSink, PendingRecord)> {
        if !std::mem::take(&mut self.pending_changed) {
            return None;
        }
        let sink = self.pending_sink.clone()?;
        Some((sink, self.pending_record()))
    }

    /// See `Link::resume_as`.
    pub fn resume_as(&mut self, id: Option<String>, next_seq: u64) {
        self.link.resume_as(id, next_seq);
    }

    /// Takes back a document an offline store kept.
    pub fn restore_doc(&mut self, doc: PendingDoc) -> Result<(), ClientError> {
        self.docs.restore(doc)
    }

    /// Takes over a closed page's kept work, id and all, if this
    /// connection has not connected yet and has no writes of its own to
    /// those documents; whether it did.
    pub fn adopt(&mut self, record: PendingRecord) -> Result<bool, ClientError> {
        let fresh = self.link.handshakes() == 0 && self.link.id().is_none();
        if !fresh
            || record
                .docs
                .iter()
                .any(|doc| self.docs.has_writes(&doc.c, &doc.d))
        {
            return Ok(false);
        }
        self.link.resume_as(record.id, record.next_seq);
        let mut collections: Vec<String> = (record.docs.iter())
            .chain(&record.held)
            .map(|doc| doc.c.clone())
            .collect();
        for doc in record.docs {
            self.docs.adopt(doc, &mut self.events)?;
        }
        for doc in record.held {
            self.docs.take_newer(doc, &mut self.events);
        }
        // Kept results first; those the client can answer are answered
        // again below from the documents it now holds.
        for query in record.queries {
            collections.push(query.c.clone());
            self.queries.take_kept(query, &mut self.events);
        }
        collections.sort();
        collections.dedup();
        for c in collections {
            (self.queries).answer_offline(&c, &self.docs, &mut self.events);
        }
        self.pending_changed();
        Ok(true)
    }

    /// The events produced since the last call, to dispatch.
    pub fn take_events(&mut self) -> Vec<ClientEvent> {
        std::mem::take(&mut self.events)
    }

    /// How many documents and queries the connection has (for `Debug`).
    pub fn sizes(&self) -> (usize, usize) {
        (self.docs.len(), self.queries.len())
    }

    // ----- the session -----

    pub fn set_state(&mut self, state: ConnectionState) {
        self.link.set_state(state, &mut self.events);
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.link.set_paused(paused);
    }

    /// A transport is open: say hello through it.
    pub fn attach(&mut self, tx: futures::channel::mpsc::UnboundedSender<ClientMessage>) {
        self.link.attach(tx);
    }

    /// The transport closed (or is being closed, for good with
    /// [`ConnectionState::Closed`]: everything waiting fails).
    pub fn detach(&mut self, to: ConnectionState) {
        self.link.detach();
        self.link.set_state(to, &mut self.events);
        let closed = to == ConnectionState::Closed;
        self.docs.on_disconnect(closed);
        self.queries.on_disconnect(closed);
        if closed {
            self.past_reads.on_close();
            for waiter in self.nothing_pending.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Sends a ping (ShareDB's `pp`).
    pub fn ping(&self) {
        self.link.send(ClientMessage::Ping);
    }

    /// Whether any op is unacknowledged or any fetch, subscribe or query
    /// is in flight.
    pub fn has_pending(&self) -> bool {
        self.docs.has_pending() || self.queries.has_pending()
    }

    /// Registers a waiter for the moment nothing is pending; `None` if
    /// that is now (or the connection is closed).
    pub fn when_nothing_pending(&mut self) -> Option<oneshot::Receiver<()>> {
        if !self.has_pending() || self.link.state() == ConnectionState::Closed {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.nothing_pending.push(tx);
        Some(rx)
    }

    /// Wakes `when_nothing_pending` waiters if nothing is pending.
    pub fn check_nothing_pending(&mut self) {
        if !self.nothing_pending.is_empty() && !self.has_pending() {
            for waiter in self.nothing_pending.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// A message from the server.
    pub fn handle(&mut self, message: ServerMessage) {
        // What the offline store keeps changes with anything about
        // documents (presence and pongs aside).
        if !matches!(
            message,
            ServerMessage::Presence(_)
                | ServerMessage::PresenceSubscribe { .. }
                | ServerMessage::PresenceUnsubscribe { .. }
                | ServerMessage::PresenceRequest { .. }
                | ServerMessage::Pong
        ) {
            self.pending_changed();
        }
        match message {
            ServerMessage::Init(_) => {}
            ServerMessage::Handshake(hello) => {
                self.link.on_handshake(hello.id, &mut self.events);
                self.resume();
            }
            ServerMessage::Fetch { c, d, data } => {
                let reloaded =
                    (self.docs).on_fetch_reply(&c, &d, data, &self.link, &mut self.events);
                self.after_ingest(&c, &d, reloaded);
            }
            ServerMessage::Subscribe { c, d, data } => {
                let reloaded =
                    (self.docs).on_subscribe_reply(&c, &d, data, &self.link, &mut self.events);
                self.after_ingest(&c, &d, reloaded);
            }
            ServerMessage::Unsubscribe { c, d } => self.docs.on_unsubscribe_reply(&c, &d),
            ServerMessage::Op(op) => self.on_op(&op),
            ServerMessage::OpAck { c, d, src, seq, v } => {
                self.on_ack(&c, &d, src.as_deref(), seq, v)
            }
            ServerMessage::QueryFetch(reply) | ServerMessage::QuerySubscribe(reply) => {
                self.on_query_reply(reply)
            }
            ServerMessage::QueryUpdate { id, diff, extra } => self.on_query_update(id, diff, extra),
            ServerMessage::Error(rejected) => self.on_error(&rejected.echo, rejected.error),
            ServerMessage::SnapshotFetch(reply) => {
                (self.past_reads).on_reply(reply.id, ServerMessage::SnapshotFetch(reply))
            }
            ServerMessage::History { id, versions } => {
                (self.past_reads).on_reply(id, ServerMessage::History { id, versions })
            }
            ServerMessage::Presence(presence) => {
                (self.presences).on_presence(presence, &self.docs, &self.link, &mut self.events)
            }
            ServerMessage::PresenceSubscribe { ch, .. } => self.presences.on_subscribed(&ch),
            ServerMessage::PresenceRequest { ch } => {
                self.presences.on_request(&ch, &self.docs, &self.link)
            }
            // Answers that need nothing done: bulk replies (peloton's client
            // does not send bulk requests), unsubscribes, pongs.
            ServerMessage::BulkFetch(_)
            | ServerMessage::BulkSubscribe(_)
            | ServerMessage::BulkUnsubscribe(_)
            | ServerMessage::QueryUnsubscribe { .. }
            | ServerMessage::Pong
            | ServerMessage::PresenceUnsubscribe { .. } => {}
        }
    }

    /// After a handshake: resubscribe, refetch, resend.
    fn resume(&mut self) {
        self.pending_changed();
        // Sends every queued op, those waiting for a flush too.
        self.unflushed.clear();
        self.docs.resume(&mut self.link);
        self.queries.resume(&self.docs, &self.link);
        self.presences.resume(&self.docs, &self.link);
        self.past_reads.resume(&self.link);
    }

    /// Routes an error reply to the request it answers.
    fn on_error(&mut self, echo: &serde_json::Map<String, Value>, error: ErrorObject) {
        let action = echo.get("a").and_then(Value::as_str).unwrap_or("");
        let field = |name: &str| echo.get(name).and_then(Value::as_str).map(str::to_owned);
        match (action, field("c"), field("d")) {
            ("op", Some(c), Some(d)) => {
                let seq = echo.get("seq").and_then(Value::as_u64);
                self.on_op_error(&c, &d, seq, error);
            }
            ("f" | "s" | "u", Some(c), Some(d)) => {
                self.docs.on_request_error(&c, &d, action, error)
            }
            ("nf" | "nt" | "hv", _, _)
                if echo
                    .get("id")
                    .and_then(Value::as_u64)
                    .is_some_and(|id| self.past_reads.is_waiting(id)) =>
            {
                if let Some(id) = echo.get("id").and_then(Value::as_u64) {
                    self.past_reads.on_error(id, error);
                }
            }
            ("qs" | "qf", _, _) => {
                if let Some(id) = echo.get("id").and_then(Value::as_u64) {
                    self.queries.on_error(id, ClientError::Server(error));
                }
            }
            _ => {
                tracing::warn!("server error: {error}");
                self.events
                    .push(ClientEvent::Error(ClientError::Server(error)));
            }
        }
    }

    // ----- the past -----

    /// Sends a read of a document's past (`nf`, `nt`, `hv`) built by
    /// `make` with its id; the receiver gets the reply.
    pub fn read_past(
        &mut self,
        make: impl FnOnce(u64) -> ClientMessage,
    ) -> oneshot::Receiver<ReadReply> {
        self.past_reads.send(make, &self.link)
    }

    // ----- documents -----

    /// The document `c.d`, added (empty) if it is new.
    /// Reads a document's data, if the connection has the document,
    /// without adding it.
    pub fn read_doc<R>(&self, c: &str, d: &str, f: impl FnOnce(Option<&Value>) -> R) -> R {
        f(self.docs.get(c, d).and_then(DocState::data))
    }

    /// A loaded document's version, whether it exists, and its data.
    pub fn doc_parts(&self, c: &str, d: &str) -> Option<(u64, bool, Option<&DocData>)> {
        let doc = self.docs.get(c, d)?;
        Some((doc.version()?, doc.exists(), doc.shared_data()))
    }

    /// The documents of a collection that exist here, in id order.
    pub fn collection(&self, c: &str) -> Vec<(String, Value)> {
        self.docs.collection(c)
    }

    pub fn doc(&mut self, c: &str, d: &str) -> &mut DocState {
        self.docs.entry(c, d)
    }

    /// Forgets `c.d` if nothing about it is pending; whether it did.
    pub fn forget_doc(&mut self, c: &str, d: &str) -> bool {
        self.docs.forget(c, d)
    }

    pub fn fetch_doc(&mut self, c: &str, d: &str, waiter: Waiter) {
        self.docs.fetch(c, d, Some(waiter), &self.link);
    }

    pub fn change_subscription(&mut self, c: &str, d: &str, subscribe: bool, waiter: Waiter) {
        (self.docs).change_subscription(c, d, subscribe, waiter, &self.link);
    }

    /// Takes in a snapshot the client got some other way (a page bundle, a
    /// query result), as if fetched.
    pub fn ingest(&mut self, c: &str, d: &str, snapshot: protocol::Snapshot) {
        let reloaded = self
            .docs
            .ingest(c, d, snapshot, &self.link, &mut self.events);
        self.after_ingest(c, d, reloaded);
    }

    /// A snapshot replaced the document: the presence in it no longer
    /// applies.
    fn after_ingest(&mut self, c: &str, d: &str, reloaded: bool) {
        if reloaded {
            (self.presences).on_doc_reloaded(c, d, &self.link, &mut self.events);
        }
    }

    /// Applies a local op at once and queues it for the server; the
    /// presence in the document moves past it.
    pub fn submit(&mut self, c: &str, d: &str, kind: OpKind) -> Result<Ack, ClientError> {
        self.docs.apply_local(c, d, &kind)?;
        self.pending_changed();
        if !self.link.can_send() {
            (self.queries).answer_offline(c, &self.docs, &mut self.events);
        }
        (self.presences).past((c, d), &kind, None, true, &mut self.events);
        let ack = self.docs.queue(c, d, kind);
        if !self.unflushed.iter().any(|(uc, ud)| uc == c && ud == d) {
            self.flush_wanted |= self.unflushed.is_empty();
            self.unflushed.push((c.to_owned(), d.to_owned()));
        }
        Ok(ack)
    }

    /// Whether local ops were queued that nobody has asked to send yet (the
    /// caller wakes the connection's task, which calls [`State::flush`]).
    pub fn take_flush_wanted(&mut self) -> bool {
        std::mem::take(&mut self.flush_wanted)
    }

    /// Sends the local ops queued since the last flush, one op per document
    /// (if none is in flight).
    pub fn flush(&mut self) {
        if !self.unflushed.is_empty() {
            // Sending stamps ops with `src`/`seq`: the store must know.
            self.pending_changed();
        }
        for (c, d) in std::mem::take(&mut self.unflushed) {
            self.docs.flush(&c, &d, &mut self.link);
        }
    }

    fn on_ack(&mut self, c: &str, d: &str, src: Option<&str>, seq: Option<u64>, v: u64) {
        let keep = self.presences.keeps_recent_ops(c, d);
        if self.docs.on_ack((c, d), src, seq, v, keep, &mut self.link) {
            self.on_doc_version(c, d);
            let settled = self
                .docs
                .get(c, d)
                .is_some_and(|doc| !doc.has_write_pending());
            if settled {
                // The presence that waited for the document's ops goes out.
                (self.presences).on_doc_settled(c, d, &self.docs, &self.link);
            }
        }
    }

    fn on_op(&mut self, op: &DocOp) {
        let (c, d) = (op.c.as_str(), op.d.as_str());
        let keep = self.presences.keeps_recent_ops(c, d);
        match (self.docs).on_op(op, keep, &self.link, &mut self.events) {
            RemoteOp::Acked => self.on_ack(c, d, op.src.as_deref(), op.seq, op.v),
            RemoteOp::Applied(applied) => {
                if let Some(kind) = applied
                    && keep
                {
                    (self.presences).past(
                        (c, d),
                        &kind,
                        op.src.as_deref(),
                        false,
                        &mut self.events,
                    );
                }
                self.on_doc_version(c, d);
            }
            RemoteOp::Ignored | RemoteOp::RolledBack => {}
        }
    }

    /// The server refused this client's op: undone locally.
    fn on_op_error(&mut self, c: &str, d: &str, seq: Option<u64>, error: ErrorObject) {
        let keep = self.presences.keeps_recent_ops(c, d);
        let undo = (self.docs).on_op_error((c, d), seq, error, &mut self.link, &mut self.events);
        if let Some(undo) = undo
            && keep
        {
            (self.presences).past((c, d), &undo, None, false, &mut self.events);
        }
    }

    /// A document reached a new version: presence made at it can show now.
    fn on_doc_version(&mut self, c: &str, d: &str) {
        (self.presences).on_doc_version(c, d, &self.docs, &self.link, &mut self.events);
    }

    // ----- queries -----

    pub fn add_query(
        &mut self,
        collection: &str,
        expression: Value,
        live: bool,
        known: Option<Vec<(String, Option<u64>)>>,
    ) -> u64 {
        (self.queries).add(collection, expression, live, known, &self.docs, &self.link)
    }

    pub fn query(&mut self, id: u64) -> Option<&mut QueryState> {
        self.queries.get_mut(id)
    }

    pub fn remove_query(&mut self, id: u64) {
        self.queries.remove(id, &self.link);
    }

    fn query_collection(&mut self, id: u64) -> Option<String> {
        self.queries.get_mut(id).map(|q| q.collection().to_owned())
    }

    /// A query's results: their documents are taken in first.
    fn on_query_reply(&mut self, reply: QueryReply) {
        let Some(collection) = self.query_collection(reply.id) else {
            return;
        };
        let ids = match reply.data {
            QueryData::Results(results) => {
                let ids: Vec<String> = results.iter().map(|r| r.id.clone()).collect();
                self.docs.reserve(results.len());
                self.events.reserve(results.len());
                for result in results {
                    self.ingest(&collection, &result.id, result.snapshot);
                }
                Some(ids)
            }
            QueryData::Snapshots(snapshots) => {
                for (id, snapshot) in snapshots {
                    self.ingest(&collection, &id, snapshot);
                }
                None
            }
            QueryData::None => None,
        };
        (self.queries).on_results(reply.id, ids, reply.extra, &mut self.events);
    }

    /// A live query's results changed: inserted documents are taken in
    /// first.
    fn on_query_update(&mut self, id: u64, diff: Option<Vec<QueryDiff>>, extra: Option<Value>) {
        let Some(collection) = self.query_collection(id) else {
            return;
        };
        for step in diff.into_iter().flatten() {
            let change = match step {
                QueryDiff::Insert { index, values } => {
                    let ids = values.iter().map(|r| r.id.clone()).collect();
                    for result in values {
                        self.ingest(&collection, &result.id, result.snapshot);
                    }
                    ResultsChange::Insert { index, ids }
                }
                QueryDiff::Remove { index, how_many } => ResultsChange::Remove { index, how_many },
                QueryDiff::Move { from, to, how_many } => {
                    ResultsChange::Move { from, to, how_many }
                }
            };
            if !self.queries.on_change(id, change, &mut self.events) {
                return;
            }
        }
        if let Some(extra) = extra {
            self.queries.on_extra(id, extra, &mut self.events);
        }
    }

    // ----- presence -----

    /// Makes `channel` the presence of the document `c.d`.
    pub fn bind_doc_presence(&mut self, channel: &str, c: &str, d: &str) {
        self.presences.bind_doc(channel, c, d);
    }

    pub fn subscribe_presence(&mut self, channel: &str, waiter: Waiter) {
        self.presences.subscribe(channel, waiter, &self.link);
    }

    pub fn unsubscribe_presence(&mut self, channel: &str) {
        self.presences.unsubscribe(channel, &self.link);
    }

    pub fn submit_presence(&mut self, channel: &str, id: &str, value: Value) {
        (self.presences).submit(channel, id, value, &self.docs, &self.link);
    }

    pub fn leave_presence(&mut self, channel: &str, id: &str) {
        (self.presences).leave(channel, id, &self.docs, &self.link);
    }

    pub fn local_presence(&mut self, channel: &str, id: &str) -> Option<Value> {
        self.presences.local(channel, id)
    }

    pub fn others_presence(&mut self, channel: &str) -> std::collections::HashMap<String, Value> {
        self.presences.others(channel)
    }
}
