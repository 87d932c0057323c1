//! `Doc`: one document as a client has it, with its unacknowledged ops.
//!
//! Local ops apply at once and queue: one is in flight (sent, not yet
//! acknowledged), the others pending (consecutive edits compose into one).
//! A remote op is transformed against both (the local ops as json0's left
//! side, as the server transforms them) before it applies, so every client
//! converges on the server's order.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use serde_json::Value;

use super::connection::{Connection, State};
use super::presence::{RecentOp, remember};
use super::{ClientError, ClientEvent};
use crate::ot::{Side, json0};
use crate::protocol::{
    self, ClientMessage, CreateData, DocOp, DocRequest, ErrorCode, ErrorObject, OpKind, OpRequest,
    is_json0,
};

/// A document of a [`Connection`]: ShareDB's client `Doc`.
///
/// Edits apply to the local copy at once; the returned [`Ack`] resolves
/// when the server has committed them (or rejected them, in which case the
/// local copy is rolled back).
#[derive(Clone)]
pub struct Doc {
    connection: Connection,
    collection: String,
    id: String,
}

/// Resolves when the server acknowledges an op, or with why it did not.
/// Dropping it does not cancel the op.
#[derive(Debug)]
#[must_use = "an Ack does nothing unless awaited; drop it if the ack does not matter"]
pub struct Ack(oneshot::Receiver<Result<(), ClientError>>);

impl Ack {
    pub(crate) fn from_receiver(rx: oneshot::Receiver<Result<(), ClientError>>) -> Self {
        Self(rx)
    }
}

impl Future for Ack {
    type Output = Result<(), ClientError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(ClientError::Closed)))
    }
}

type Waiter = oneshot::Sender<Result<(), ClientError>>;

/// A local op not yet acknowledged.
pub(crate) struct PendingOp {
    kind: OpKind,
    src: Option<String>,
    seq: Option<u64>,
    waiters: Vec<Waiter>,
}

/// A subscribe (or unsubscribe) sent and not answered yet, with whoever
/// waits for its answer.
struct SubscriptionRequest {
    subscribe: bool,
    waiters: Vec<Waiter>,
}

/// A document's state in its connection.
#[derive(Default)]
pub(crate) struct DocState {
    pub version: Option<u64>,
    pub doc_type: Option<String>,
    pub data: Option<Value>,
    /// What the application asked for last.
    want_subscribe: bool,
    /// Whether the server has the subscription, as its answers so far say.
    pub subscribed: bool,
    /// Subscribes and unsubscribes on the wire, oldest first. A subscribe
    /// made while an unsubscribe is in flight is sent after it, so the
    /// last answer decides, as the server does.
    subscription_requests: VecDeque<SubscriptionRequest>,
    /// Subscribes asked for while offline, answered after the reconnect.
    offline_subscribers: Vec<Waiter>,
    fetch_inflight: bool,
    fetch_waiters: Vec<Waiter>,
    inflight: Option<PendingOp>,
    pending: VecDeque<PendingOp>,
    /// The data before a hard rollback, for the `Loaded` event after it.
    reload_previous: Option<Option<Value>>,
    /// The latest ops applied, while the document's presence is in use.
    pub recent: VecDeque<RecentOp>,
}

impl DocState {
    pub fn has_pending(&self) -> bool {
        self.inflight.is_some()
            || !self.pending.is_empty()
            || self.fetch_inflight
            || !self.fetch_waiters.is_empty()
            || !self.subscription_requests.is_empty()
    }

    /// Whether the server will have the subscription once the requests on
    /// the wire are answered.
    fn will_be_subscribed(&self) -> bool {
        self.subscription_requests
            .back()
            .map_or(self.subscribed, |r| r.subscribe)
    }

    /// Takes the oldest request of this kind off the wire.
    fn answered(&mut self, subscribe: bool) -> Vec<Waiter> {
        let at = self
            .subscription_requests
            .iter()
            .position(|r| r.subscribe == subscribe);
        at.and_then(|i| self.subscription_requests.remove(i))
            .map(|r| r.waiters)
            .unwrap_or_default()
    }

    pub fn has_write_pending(&self) -> bool {
        self.inflight.is_some() || !self.pending.is_empty()
    }

    /// The local ops the server has not acknowledged, oldest first.
    pub fn unacknowledged(&self) -> impl Iterator<Item = &OpKind> {
        self.inflight
            .iter()
            .chain(self.pending.iter())
            .map(|op| &op.kind)
    }

    /// The transport went away: the in-flight op goes back to the queue (it
    /// is resent, with its src and seq, after the reconnect).
    pub fn on_disconnect(&mut self) {
        if let Some(op) = self.inflight.take() {
            self.pending.push_front(op);
        }
        // The server forgets the subscription with the connection: what was
        // unsubscribing is done, what was subscribing waits for the resend.
        for request in std::mem::take(&mut self.subscription_requests) {
            if request.subscribe {
                self.offline_subscribers.extend(request.waiters);
            } else {
                resolve(request.waiters, Ok(()));
            }
        }
        self.subscribed = false;
        self.fetch_inflight = false;
    }

    /// Fails every waiter (the connection closed).
    pub fn fail_all(&mut self, error: ClientError) {
        let ops = self
            .inflight
            .take()
            .into_iter()
            .chain(self.pending.drain(..));
        let waiters = ops
            .flat_map(|op| op.waiters)
            .chain(self.fetch_waiters.drain(..))
            .chain(self.subscription_requests.drain(..).flat_map(|r| r.waiters))
            .chain(self.offline_subscribers.drain(..));
        for waiter in waiters {
            let _ = waiter.send(Err(error.clone()));
        }
    }
}

fn resolve(waiters: Vec<Waiter>, result: Result<(), ClientError>) {
    for waiter in waiters {
        let _ = waiter.send(result.clone());
    }
}

fn doc_name(collection: &str, id: &str) -> String {
    format!("{collection}.{id}")
}

impl State {
    pub fn doc_mut(&mut self, collection: &str, id: &str) -> &mut DocState {
        self.docs
            .entry((collection.to_owned(), id.to_owned()))
            .or_default()
    }

    fn doc(&self, collection: &str, id: &str) -> Option<&DocState> {
        self.docs.get(&(collection.to_owned(), id.to_owned()))
    }

    /// After a handshake: subscribe or fetch what is wanted, send ops.
    pub fn resume_doc(&mut self, key: &(String, String)) {
        let (c, d) = key;
        let Some(doc) = self.docs.get(key) else {
            return;
        };
        if doc.want_subscribe && !doc.will_be_subscribed() {
            let waiters = std::mem::take(&mut self.doc_mut(c, d).offline_subscribers);
            self.send_subscription(c, d, true, waiters);
        } else if !doc.fetch_waiters.is_empty() {
            self.send_fetch(c, d);
        }
        self.flush(c, d);
    }

    fn send_fetch(&mut self, c: &str, d: &str) {
        let v = self.doc(c, d).and_then(|doc| doc.version);
        let request = DocRequest {
            c: c.to_owned(),
            d: d.to_owned(),
            v,
        };
        if self.send(ClientMessage::Fetch(request)) {
            self.doc_mut(c, d).fetch_inflight = true;
        }
    }

    /// Sends a subscribe (from the version the client has) or an
    /// unsubscribe. Offline, the waiters of a subscribe wait for the
    /// reconnect, and an unsubscribe is done at once (the server forgot).
    fn send_subscription(&mut self, c: &str, d: &str, subscribe: bool, waiters: Vec<Waiter>) {
        let request = DocRequest {
            c: c.to_owned(),
            d: d.to_owned(),
            v: if subscribe {
                self.doc(c, d).and_then(|doc| doc.version)
            } else {
                None
            },
        };
        let message = if subscribe {
            ClientMessage::Subscribe(request)
        } else {
            ClientMessage::Unsubscribe(request)
        };
        let sent = self.send(message);
        let doc = self.doc_mut(c, d);
        if sent {
            doc.subscription_requests
                .push_back(SubscriptionRequest { subscribe, waiters });
        } else if subscribe {
            doc.offline_subscribers.extend(waiters);
        } else {
            doc.subscribed = false;
            let superseded = std::mem::take(&mut doc.offline_subscribers);
            resolve(waiters.into_iter().chain(superseded).collect(), Ok(()));
        }
    }

    pub fn fetch(&mut self, c: &str, d: &str, waiter: Option<Waiter>) {
        let doc = self.doc_mut(c, d);
        doc.fetch_waiters.extend(waiter);
        if !doc.fetch_inflight {
            self.send_fetch(c, d);
        }
    }

    fn subscribe(&mut self, c: &str, d: &str, waiter: Waiter) {
        self.change_subscription(c, d, true, waiter);
    }

    fn unsubscribe(&mut self, c: &str, d: &str, waiter: Waiter) {
        self.change_subscription(c, d, false, waiter);
    }

    /// Asks for the subscription to be on or off: answered at once if it
    /// is (and nothing is on the wire), with the last request if that asks
    /// the same, else with a new request.
    fn change_subscription(&mut self, c: &str, d: &str, subscribe: bool, waiter: Waiter) {
        let doc = self.doc_mut(c, d);
        doc.want_subscribe = subscribe;
        if doc.will_be_subscribed() == subscribe {
            match doc.subscription_requests.back_mut() {
                Some(last) => last.waiters.push(waiter),
                None => {
                    // An unsubscribe also answers subscribes still waiting
                    // for a connection: they will not be made.
                    let superseded = if subscribe {
                        Vec::new()
                    } else {
                        std::mem::take(&mut doc.offline_subscribers)
                    };
                    resolve(superseded.into_iter().chain([waiter]).collect(), Ok(()));
                }
            }
            return;
        }
        self.send_subscription(c, d, subscribe, vec![waiter]);
    }

    pub fn on_fetch_reply(&mut self, c: &str, d: &str, data: Option<protocol::Snapshot>) {
        if let Some(snapshot) = data {
            self.ingest(c, d, snapshot);
        }
        let doc = self.doc_mut(c, d);
        doc.fetch_inflight = false;
        resolve(std::mem::take(&mut doc.fetch_waiters), Ok(()));
    }

    pub fn on_subscribe_reply(&mut self, c: &str, d: &str, data: Option<protocol::Snapshot>) {
        let doc = self.doc_mut(c, d);
        doc.subscribed = true;
        let waiters = doc.answered(true);
        if let Some(snapshot) = data {
            self.ingest(c, d, snapshot);
        }
        let doc = self.doc_mut(c, d);
        resolve(waiters, Ok(()));
        // Waiters of a fetch are served by a subscribe's snapshot too.
        if !doc.fetch_inflight {
            resolve(std::mem::take(&mut doc.fetch_waiters), Ok(()));
        }
    }

    pub fn on_unsubscribe_reply(&mut self, c: &str, d: &str) {
        let doc = self.doc_mut(c, d);
        doc.subscribed = false;
        resolve(doc.answered(false), Ok(()));
    }

    pub fn on_doc_request_error(&mut self, c: &str, d: &str, action: &str, error: ErrorObject) {
        let doc = self.doc_mut(c, d);
        let waiters = match action {
            "f" => {
                doc.fetch_inflight = false;
                std::mem::take(&mut doc.fetch_waiters)
            }
            "s" => {
                let waiters = doc.answered(true);
                // Not retried after a reconnect, unless asked again.
                doc.want_subscribe = doc.will_be_subscribed();
                waiters
            }
            _ => doc.answered(false),
        };
        resolve(waiters, Err(ClientError::Server(error)));
    }

    /// Takes in a snapshot from the server (a reply, a query result, a
    /// bundle), unless the document is ahead of it or has local edits.
    pub fn ingest(&mut self, c: &str, d: &str, snapshot: protocol::Snapshot) {
        let doc = self.doc_mut(c, d);
        if doc.doc_type.is_some() || doc.has_write_pending() {
            match doc.version {
                // Created locally, not acknowledged yet: the ack will say.
                None => {}
                Some(v) if snapshot.v > v => self.fetch(c, d, None),
                Some(_) => {}
            }
            return;
        }
        if doc.version.is_some_and(|v| v > snapshot.v) {
            return;
        }
        doc.version = Some(snapshot.v);
        doc.doc_type = snapshot.doc_type;
        let previous = match doc.reload_previous.take() {
            Some(previous) => previous,
            None => doc.data.take(),
        };
        doc.data = snapshot.data;
        doc.recent.clear();
        if doc.data.is_some() || previous.is_some() {
            self.events.push(ClientEvent::Loaded {
                collection: c.to_owned(),
                id: d.to_owned(),
                previous,
            });
            self.on_doc_reloaded(c, d);
        }
    }

    /// Applies a local op and queues it for the server.
    pub fn submit(&mut self, c: &str, d: &str, kind: OpKind) -> Result<Ack, ClientError> {
        let doc = self.doc_mut(c, d);
        match &kind {
            OpKind::Create(create) => {
                if doc.doc_type.is_some() {
                    return Err(ClientError::DocAlreadyExists(doc_name(c, d)));
                }
                doc.data = Some(json0::create(create.data.clone()));
                doc.doc_type = Some(json0::URI.to_owned());
            }
            OpKind::Edit(op) => {
                let Some(data) = doc.data.as_mut().filter(|_| doc.doc_type.is_some()) else {
                    return Err(ClientError::DocDoesNotExist(doc_name(c, d)));
                };
                json0::apply(data, op).map_err(|e| ClientError::InvalidOp(e.to_string()))?;
            }
            OpKind::Delete => {
                if doc.doc_type.is_none() {
                    return Err(ClientError::DocDoesNotExist(doc_name(c, d)));
                }
                doc.doc_type = None;
                doc.data = None;
            }
        }
        self.presence_past(c, d, &kind, None, true);
        let doc = self.doc_mut(c, d);
        let (tx, rx) = oneshot::channel();
        // Consecutive edits waiting to be sent travel as one op, but never
        // join one that was sent before (an in-flight op put back by a
        // disconnect): the server may have committed it already, and would
        // then acknowledge the resend without applying what joined it.
        if let (OpKind::Edit(op), Some(last)) = (&kind, doc.pending.back_mut())
            && last.seq.is_none()
            && let OpKind::Edit(previous) = &last.kind
            && let Ok(composed) = json0::compose(previous, op)
        {
            last.kind = OpKind::Edit(composed);
            last.waiters.push(tx);
            self.flush(c, d);
            return Ok(Ack(rx));
        }
        doc.pending.push_back(PendingOp {
            kind,
            src: None,
            seq: None,
            waiters: vec![tx],
        });
        self.flush(c, d);
        Ok(Ack(rx))
    }

    /// Sends the next op if none is in flight.
    pub fn flush(&mut self, c: &str, d: &str) {
        if !self.can_send() {
            return;
        }
        let id = self.id.clone();
        let mut seq = self.seq;
        let Some(doc) = self.docs.get_mut(&(c.to_owned(), d.to_owned())) else {
            return;
        };
        if doc.inflight.is_some() {
            return;
        }
        let Some(mut op) = doc.pending.pop_front() else {
            return;
        };
        if op.seq.is_none() {
            op.seq = Some(seq);
            seq += 1;
        }
        if op.src.is_none() {
            op.src = id;
        }
        let message = ClientMessage::Op(OpRequest {
            c: c.to_owned(),
            d: d.to_owned(),
            v: doc.version,
            src: op.src.clone(),
            seq: op.seq,
            kind: op.kind.clone(),
            x: None,
        });
        doc.inflight = Some(op);
        self.seq = seq;
        self.send(message);
    }

    pub fn on_ack(&mut self, c: &str, d: &str, src: Option<&str>, seq: Option<u64>, v: u64) {
        let Some(doc) = self.docs.get_mut(&(c.to_owned(), d.to_owned())) else {
            return;
        };
        let Some(inflight) = &doc.inflight else {
            return;
        };
        if inflight.seq != seq || (src.is_some() && inflight.src.as_deref() != src) {
            return;
        }
        let Some(op) = doc.inflight.take() else {
            return;
        };
        // The server sends every op before ours first, so our op applies at
        // the version we have; if not, our copy is off: refetch after.
        let in_sync = matches!(op.kind, OpKind::Create(_)) || doc.version == Some(v);
        if !in_sync {
            tracing::warn!(
                "ack for {c}.{d} at v{v}, expected v{:?}: refetching",
                doc.version
            );
        }
        doc.version = Some(v + 1);
        let keep = self.keeps_recent_ops(c, d);
        let doc = self.doc_mut(c, d);
        if keep {
            remember(&mut doc.recent, v, &op.kind, op.src.clone());
        }
        resolve(op.waiters, Ok(()));
        if !in_sync {
            self.fetch(c, d, None);
        }
        self.flush(c, d);
        self.on_doc_version(c, d);
        self.after_write(c, d);
    }

    /// Sends the presence that waited for a document's ops to be
    /// acknowledged, once none is left.
    fn after_write(&mut self, c: &str, d: &str) {
        let settled = self
            .docs
            .get(&(c.to_owned(), d.to_owned()))
            .is_some_and(|doc| !doc.has_write_pending());
        if settled {
            self.on_doc_settled(c, d);
        }
    }

    /// An op from the server: someone else's, or ours coming back while
    /// catching up (then it is our acknowledgement).
    pub fn on_op(&mut self, op: &DocOp) {
        let (c, d) = (op.c.as_str(), op.d.as_str());
        let Some(doc) = self.docs.get_mut(&(c.to_owned(), d.to_owned())) else {
            return;
        };
        if let Some(inflight) = &doc.inflight
            && op.src.is_some()
            && inflight.src == op.src
            && inflight.seq == op.seq
        {
            let src = op.src.clone();
            return self.on_ack(c, d, src.as_deref(), op.seq, op.v);
        }
        let Some(version) = doc.version else {
            return self.fetch(c, d, None);
        };
        if op.v > version {
            // A gap: catch up from what the client has.
            return self.fetch(c, d, None);
        }
        if op.v < version {
            return; // Seen already.
        }
        let keep = self.keeps_recent_ops(c, d);
        let Some(doc) = self.docs.get_mut(&(c.to_owned(), d.to_owned())) else {
            return;
        };
        if keep {
            remember(&mut doc.recent, version, &op.kind, op.src.clone());
        }
        let mut server = Some(op.kind.clone());
        let mut conflict = None;
        for local in doc.inflight.iter_mut().chain(doc.pending.iter_mut()) {
            if let Err(error) = transform_x(&mut local.kind, &mut server) {
                conflict = Some(error);
                break;
            }
        }
        if let Some(error) = conflict {
            return self.hard_rollback(c, d, error);
        }
        doc.version = Some(version + 1);
        if let Some(kind) = server
            && let Err(error) = self.apply_remote(c, d, kind, op.src.as_deref())
        {
            return self.hard_rollback(c, d, error);
        }
        self.on_doc_version(c, d);
    }

    /// Applies a remote (or, without `src`, rollback) op, one component at
    /// a time, with an event after each; presence in the document follows.
    fn apply_remote(
        &mut self,
        c: &str,
        d: &str,
        kind: OpKind,
        src: Option<&str>,
    ) -> Result<(), ClientError> {
        let moves_presence = self.keeps_recent_ops(c, d).then(|| kind.clone());
        self.apply_remote_data(c, d, kind)?;
        if let Some(kind) = moves_presence {
            self.presence_past(c, d, &kind, src, false);
        }
        Ok(())
    }

    fn apply_remote_data(&mut self, c: &str, d: &str, kind: OpKind) -> Result<(), ClientError> {
        let State { docs, events, .. } = self;
        let doc = docs.entry((c.to_owned(), d.to_owned())).or_default();
        match kind {
            OpKind::Create(CreateData { doc_type, data }) => {
                if !is_json0(&doc_type) {
                    return Err(ClientError::InvalidOp(format!("unknown type {doc_type}")));
                }
                let data = json0::create(data);
                doc.doc_type = Some(json0::URI.to_owned());
                doc.data = Some(data.clone());
                events.push(ClientEvent::Created {
                    collection: c.to_owned(),
                    id: d.to_owned(),
                    data,
                });
            }
            OpKind::Delete => {
                doc.doc_type = None;
                let previous = doc.data.take();
                events.push(ClientEvent::Deleted {
                    collection: c.to_owned(),
                    id: d.to_owned(),
                    previous,
                });
            }
            OpKind::Edit(op) => {
                let Some(data) = doc.data.as_mut() else {
                    return Err(ClientError::DocDoesNotExist(doc_name(c, d)));
                };
                for component in op {
                    json0::apply(data, &json0::Op(vec![component.clone()]))
                        .map_err(|e| ClientError::InvalidOp(e.to_string()))?;
                    let value = edited_value(data, &component);
                    events.push(ClientEvent::Op {
                        collection: c.to_owned(),
                        id: d.to_owned(),
                        component,
                        value,
                    });
                }
            }
        }
        Ok(())
    }

    /// The server rejected the in-flight op: undo it locally.
    pub fn on_op_error(&mut self, c: &str, d: &str, seq: Option<u64>, error: ErrorObject) {
        let Some(doc) = self.docs.get_mut(&(c.to_owned(), d.to_owned())) else {
            return;
        };
        if doc.inflight.as_ref().map(|op| op.seq) != Some(seq) {
            tracing::warn!("error for an op that is not in flight: {error}");
            return;
        }
        let Some(op) = doc.inflight.take() else {
            return;
        };
        // Undo by applying the inverse (transformed past the pending ops)
        // when json0 can; otherwise reload the document.
        let OpKind::Edit(edit) = &op.kind else {
            doc.inflight = Some(op);
            return self.hard_rollback(c, d, ClientError::Server(error));
        };
        let Ok(inverse) = json0::invert(edit) else {
            doc.inflight = Some(op);
            return self.hard_rollback(c, d, ClientError::Server(error));
        };
        let mut undo = Some(OpKind::Edit(inverse));
        for local in doc.pending.iter_mut() {
            if transform_x(&mut local.kind, &mut undo).is_err() {
                doc.inflight = Some(op);
                return self.hard_rollback(c, d, ClientError::Server(error));
            }
        }
        if let Some(undo) = undo
            && let Err(e) = self.apply_remote(c, d, undo, None)
        {
            self.doc_mut(c, d).inflight = Some(op);
            return self.hard_rollback(c, d, e);
        }
        let result = if error.code == ErrorCode::OpSubmitRejected {
            Ok(())
        } else {
            Err(ClientError::Server(error))
        };
        resolve(op.waiters, result);
        self.flush(c, d);
    }

    /// Drops every local op and reloads the document from the server.
    fn hard_rollback(&mut self, c: &str, d: &str, error: ClientError) {
        tracing::warn!("reloading {c}.{d}: {error}");
        let doc = self.doc_mut(c, d);
        let ops: Vec<PendingOp> = doc
            .inflight
            .take()
            .into_iter()
            .chain(doc.pending.drain(..))
            .collect();
        doc.reload_previous = Some(doc.data.take());
        doc.doc_type = None;
        doc.version = None;
        for (i, op) in ops.into_iter().enumerate() {
            let error = if i == 0 {
                error.clone()
            } else {
                ClientError::Discarded(error.to_string())
            };
            resolve(op.waiters, Err(error));
        }
        self.fetch(c, d, None);
    }
}

/// ShareDB's client `transformX`: transforms a local op and a server op
/// against each other. `server` becomes `None` when it turns into a no-op.
fn transform_x(client: &mut OpKind, server: &mut Option<OpKind>) -> Result<(), ClientError> {
    if matches!(client, OpKind::Delete) {
        *server = None;
        return Ok(());
    }
    let Some(server_kind) = server.as_mut() else {
        return Ok(());
    };
    match (client, server_kind) {
        (_, OpKind::Delete) => Err(server_error(
            ErrorCode::DocWasDeleted,
            "Document was deleted",
        )),
        (_, OpKind::Create(_)) | (OpKind::Create(_), _) => Err(server_error(
            ErrorCode::DocAlreadyCreated,
            "Document already created",
        )),
        (OpKind::Edit(local), OpKind::Edit(remote)) => {
            let local_t = json0::transform(local, remote, Side::Left)
                .map_err(|e| ClientError::InvalidOp(e.to_string()))?;
            let remote_t = json0::transform(remote, local, Side::Right)
                .map_err(|e| ClientError::InvalidOp(e.to_string()))?;
            *local = local_t;
            *remote = remote_t;
            Ok(())
        }
        (OpKind::Delete, _) => Ok(()),
    }
}

fn server_error(code: ErrorCode, message: &str) -> ClientError {
    ClientError::Server(ErrorObject::new(code, message))
}

/// The value a string, number or subtype component left at its path.
pub(crate) fn edited_value(data: &Value, component: &json0::Component) -> Option<Value> {
    use json0::Action;
    let path: &[json0::PathSegment] = match &component.action {
        Action::StringInsert(_) | Action::StringDelete(_) => {
            component.p.split_last().map(|(_, string)| string)?
        }
        Action::NumberAdd(_) | Action::Text0(_) => &component.p,
        _ => return None,
    };
    value_at(data, path).cloned()
}

/// The value at a json0 path.
pub(crate) fn value_at<'a>(data: &'a Value, path: &[json0::PathSegment]) -> Option<&'a Value> {
    path.iter().try_fold(data, |value, segment| match segment {
        json0::PathSegment::Key(key) => value.get(key.as_str()),
        json0::PathSegment::Index(i) => value.get(*i),
    })
}

impl Doc {
    pub(crate) fn new(connection: Connection, collection: &str, id: &str) -> Self {
        Self {
            connection,
            collection: collection.to_owned(),
            id: id.to_owned(),
        }
    }

    /// The collection.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    fn with<R>(&self, f: impl FnOnce(&mut State, &str, &str) -> R) -> R {
        self.connection
            .shared
            .with_state(|s| f(s, &self.collection, &self.id))
    }

    /// The version the client has (`None` before anything was loaded).
    pub fn version(&self) -> Option<u64> {
        self.with(|s, c, d| s.doc_mut(c, d).version)
    }

    /// Whether the document exists, as far as the client knows.
    pub fn exists(&self) -> bool {
        self.with(|s, c, d| s.doc_mut(c, d).doc_type.is_some())
    }

    /// A copy of the data.
    pub fn data(&self) -> Option<Value> {
        self.read(|data| data.cloned())
    }

    /// Reads the data without copying it.
    pub fn read<R>(&self, f: impl FnOnce(Option<&Value>) -> R) -> R {
        self.with(|s, c, d| f(s.doc_mut(c, d).data.as_ref()))
    }

    /// Whether the server confirmed a subscription.
    pub fn subscribed(&self) -> bool {
        self.with(|s, c, d| s.doc_mut(c, d).subscribed)
    }

    /// Whether the document has unacknowledged ops or unanswered requests.
    pub fn has_pending(&self) -> bool {
        self.with(|s, c, d| s.doc_mut(c, d).has_pending())
    }

    /// Loads the latest snapshot (or the ops since the version the client
    /// has).
    pub async fn fetch(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.with(|s, c, d| s.fetch(c, d, Some(tx)));
        Ack(rx).await
    }

    /// Loads the document and keeps it up to date; survives reconnects.
    pub async fn subscribe(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.with(|s, c, d| s.subscribe(c, d, tx));
        Ack(rx).await
    }

    /// Stops the updates; the data stays.
    pub async fn unsubscribe(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.with(|s, c, d| s.unsubscribe(c, d, tx));
        Ack(rx).await
    }

    /// Creates the document with json0 data, locally at once.
    pub fn create(&self, data: Value) -> Result<Ack, ClientError> {
        self.submit(OpKind::Create(CreateData {
            doc_type: json0::URI.to_owned(),
            data: Some(data),
        }))
    }

    /// Applies a json0 op locally at once and sends it. An op that does not
    /// apply is refused and changes nothing.
    pub fn submit_op(&self, op: json0::Op) -> Result<Ack, ClientError> {
        self.submit(OpKind::Edit(op))
    }

    /// Computes an op from the current data and submits it, atomically: no
    /// remote op can land in between. `f` returns the op (or `None` for no
    /// change) and a result; an error from `f` submits nothing.
    pub fn submit_with<R, E: From<ClientError>>(
        &self,
        f: impl FnOnce(Option<&Value>) -> Result<(Option<json0::Op>, R), E>,
    ) -> Result<(R, Option<Ack>), E> {
        self.with(|s, c, d| {
            let (op, result) = f(s.doc_mut(c, d).data.as_ref())?;
            let ack = match op {
                Some(op) if !op.is_noop() => Some(s.submit(c, d, OpKind::Edit(op))?),
                _ => None,
            };
            Ok((result, ack))
        })
    }

    /// Forgets the document if nothing about it is pending: no subscription,
    /// no unacknowledged op. Returns whether it was forgotten.
    pub fn forget(&self) -> bool {
        self.with(|s, c, d| {
            let key = (c.to_owned(), d.to_owned());
            let idle = s
                .docs
                .get(&key)
                .is_some_and(|doc| !doc.has_pending() && !doc.subscribed);
            if idle {
                s.docs.shift_remove(&key);
            }
            idle
        })
    }

    /// Deletes the document, locally at once.
    pub fn del(&self) -> Result<Ack, ClientError> {
        self.submit(OpKind::Delete)
    }

    fn submit(&self, kind: OpKind) -> Result<Ack, ClientError> {
        self.with(|s, c, d| s.submit(c, d, kind))
    }

    /// Takes in a snapshot the client got some other way (a page bundle),
    /// as if fetched.
    pub fn ingest(&self, snapshot: protocol::Snapshot) {
        self.with(|s, c, d| s.ingest(c, d, snapshot));
    }
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doc")
            .field("collection", &self.collection)
            .field("id", &self.id)
            .field("version", &self.version())
            .finish()
    }
}
