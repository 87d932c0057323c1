//! The documents of a connection: each one's data and version, its
//! unacknowledged ops, and its fetches and subscriptions on the wire.
//!
//! Local ops apply at once and queue: one is in flight (sent, not yet
//! acknowledged), the others pending (consecutive edits compose into one).
//! A remote op is transformed against both (the local ops as json0's left
//! side, as the server transforms them) before it applies, so every client
//! converges on the server's order.
//!
//! This module owns the documents' state and their requests (fetches,
//! subscriptions); [`ops`] their ops, `kept` what an offline store keeps
//! of them. Both send through the [`Link`]; what
//! presence must do when a document changes is the caller's (the
//! connection's state), told by what these methods return.

mod kept;
mod ops;

use std::collections::VecDeque;

use indexmap::IndexMap;
use serde_json::Value;

use super::ack::{Waiter, resolve};
use super::link::Link;
use super::{ClientError, ClientEvent};
use crate::protocol::{self, ClientMessage, DocData, DocRequest, ErrorObject, OpKind};

pub(crate) use ops::edited_value;

/// How many of a document's latest ops a client keeps to move presence
/// that arrives late (made before an op the client already applied).
const RECENT_OPS: usize = 64;

/// A local op not yet acknowledged.
struct PendingOp {
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

/// An op a document applied, kept to move late presence past it.
pub(crate) struct RecentOp {
    /// The version it took the document from.
    pub v: u64,
    pub kind: OpKind,
    pub src: Option<String>,
}

/// One document as the client has it.
#[derive(Default)]
pub(crate) struct DocState {
    version: Option<u64>,
    doc_type: Option<String>,
    /// Shared with the snapshot it came from; copied on the first edit.
    data: Option<DocData>,
    /// What the application asked for last.
    want_subscribe: bool,
    /// Whether the server has the subscription, as its answers so far say.
    subscribed: bool,
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
    recent: VecDeque<RecentOp>,
}

impl DocState {
    /// The version the client has (`None` before anything was loaded).
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// Whether the document exists, as far as the client knows.
    pub fn exists(&self) -> bool {
        self.doc_type.is_some()
    }

    pub fn data(&self) -> Option<&Value> {
        self.data.as_deref()
    }

    /// The data as it is shared with the snapshot it came from.
    pub fn shared_data(&self) -> Option<&DocData> {
        self.data.as_ref()
    }

    /// Takes the data out, copying it only if it is shared.
    fn take_data(&mut self) -> Option<Value> {
        self.data.take().map(DocData::into_value)
    }

    fn set_data(&mut self, data: Option<Value>) {
        self.data = data.map(DocData::new);
    }

    /// Whether the server confirmed a subscription.
    pub fn subscribed(&self) -> bool {
        self.subscribed
    }

    /// The op that took the document from version `v`, if it is among the
    /// latest kept.
    pub fn recent_op(&self, v: u64) -> Option<&RecentOp> {
        self.recent.iter().find(|op| op.v == v)
    }

    /// Whether any op is unacknowledged or any request unanswered.
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

    /// Keeps an op the document applied, for late presence.
    fn remember(&mut self, v: u64, kind: &OpKind, src: Option<String>) {
        if self.recent.len() == RECENT_OPS {
            self.recent.pop_front();
        }
        self.recent.push_back(RecentOp {
            v,
            kind: kind.clone(),
            src,
        });
    }

    /// The transport went away: the in-flight op goes back to the queue (it
    /// is resent, with its src and seq, after the reconnect).
    fn on_disconnect(&mut self) {
        self.subscribed = false;
        self.fetch_inflight = false;
        if self.inflight.is_none() && self.subscription_requests.is_empty() {
            // Nothing on the wire (every document of a finished render).
            return;
        }
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
    }

    /// Fails every waiter (the connection closed).
    fn fail_all(&mut self, error: &ClientError) {
        if !self.has_pending() && self.offline_subscribers.is_empty() {
            return;
        }
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
        resolve(waiters, Err(error.clone()));
    }
}

/// What a server op did to its document.
pub(crate) enum RemoteOp {
    /// Nothing (an unknown document, an op seen already, or one past a gap,
    /// which is fetched instead).
    Ignored,
    /// It was this client's in-flight op coming back: its acknowledgement.
    Acked,
    /// It applied, as the given op once transformed past the local ones
    /// (`None` if that left nothing to apply); the document is one version
    /// on.
    Applied(Option<OpKind>),
    /// It could not apply: the local ops were dropped and the document is
    /// being reloaded.
    RolledBack,
}

/// A connection's documents, in the order they were first used: after a
/// reconnect, documents resubscribe and resend in that order. Hashed with
/// foldhash (randomly seeded): SipHash was 5% of a server render, which
/// looks up each of its documents a few times.
#[derive(Default)]
pub(crate) struct Docs(IndexMap<(String, String), DocState, foldhash::fast::RandomState>);

fn key(c: &str, d: &str) -> (String, String) {
    (c.to_owned(), d.to_owned())
}

/// A document's key, borrowed: finds a document without allocating its
/// names (every model read of a shared document looks one up). It hashes
/// as the owned `(String, String)` key does: field by field, each as a
/// `str`.
#[derive(Hash)]
struct Borrowed<'a>(&'a str, &'a str);

impl indexmap::Equivalent<(String, String)> for Borrowed<'_> {
    fn equivalent(&self, key: &(String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

fn doc_name(collection: &str, id: &str) -> String {
    format!("{collection}.{id}")
}

impl Docs {
    /// The document `c.d`, added (empty) if it is new.
    pub fn entry(&mut self, c: &str, d: &str) -> &mut DocState {
        match self.0.get_index_of(&Borrowed(c, d)) {
            Some(index) => &mut self.0[index],
            None => self.0.entry(key(c, d)).or_default(),
        }
    }

    pub fn get(&self, c: &str, d: &str) -> Option<&DocState> {
        self.0.get(&Borrowed(c, d))
    }

    fn get_mut(&mut self, c: &str, d: &str) -> Option<&mut DocState> {
        self.0.get_mut(&Borrowed(c, d))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Room for `more` documents: a query's results grow the map once.
    pub fn reserve(&mut self, more: usize) {
        self.0.reserve(more);
    }

    /// The documents of collection `c` that exist here, by id, in id order.
    pub fn collection(&self, c: &str) -> Vec<(String, Value)> {
        let mut docs: Vec<(String, Value)> = (self.0.iter())
            .filter(|((dc, _), doc)| dc == c && doc.exists())
            .filter_map(|((_, id), doc)| Some((id.clone(), doc.data()?.clone())))
            .collect();
        docs.sort_by(|a, b| a.0.cmp(&b.0));
        docs
    }

    /// Whether any document has an unacknowledged op or unanswered request.
    pub fn has_pending(&self) -> bool {
        self.0.values().any(DocState::has_pending)
    }

    /// Forgets `c.d` if nothing about it is pending; whether it did.
    pub fn forget(&mut self, c: &str, d: &str) -> bool {
        let idle = self
            .get(c, d)
            .is_some_and(|doc| !doc.has_pending() && !doc.subscribed);
        if idle {
            self.0.shift_remove(&Borrowed(c, d));
        }
        idle
    }

    /// After a handshake: subscribe or fetch what is wanted, send ops.
    pub fn resume(&mut self, link: &mut Link) {
        let keys: Vec<(String, String)> = self.0.keys().cloned().collect();
        for (c, d) in keys {
            let Some(doc) = self.get_mut(&c, &d) else {
                continue;
            };
            if doc.want_subscribe && !doc.will_be_subscribed() {
                let waiters = std::mem::take(&mut doc.offline_subscribers);
                self.send_subscription(&c, &d, true, waiters, link);
            } else if !doc.fetch_waiters.is_empty() {
                self.send_fetch(&c, &d, link);
            }
            self.flush(&c, &d, link);
        }
    }

    /// The transport went away (or, with `closed`, the connection closed
    /// for good: every waiter fails).
    pub fn on_disconnect(&mut self, closed: bool) {
        for doc in self.0.values_mut() {
            doc.on_disconnect();
            if closed {
                doc.fail_all(&ClientError::Closed);
            }
        }
    }

    fn send_fetch(&mut self, c: &str, d: &str, link: &Link) {
        let v = self.get(c, d).and_then(|doc| doc.version);
        let request = DocRequest {
            c: c.to_owned(),
            d: d.to_owned(),
            v,
        };
        if link.send(ClientMessage::Fetch(request)) {
            self.entry(c, d).fetch_inflight = true;
        }
    }

    /// Sends a subscribe (from the version the client has) or an
    /// unsubscribe. Offline, the waiters of a subscribe wait for the
    /// reconnect, and an unsubscribe is done at once (the server forgot).
    fn send_subscription(
        &mut self,
        c: &str,
        d: &str,
        subscribe: bool,
        waiters: Vec<Waiter>,
        link: &Link,
    ) {
        let request = DocRequest {
            c: c.to_owned(),
            d: d.to_owned(),
            v: if subscribe {
                self.get(c, d).and_then(|doc| doc.version)
            } else {
                None
            },
        };
        let message = if subscribe {
            ClientMessage::Subscribe(request)
        } else {
            ClientMessage::Unsubscribe(request)
        };
        let sent = link.send(message);
        let doc = self.entry(c, d);
        if sent {
            doc.subscription_requests
                .push_back(SubscriptionRequest { subscribe, waiters });
        } else if subscribe {
            doc.offline_subscribers.extend(waiters);
        } else {
            doc.subscribed = false;
            let superseded = std::mem::take(&mut doc.offline_subscribers);
            resolve(waiters.into_iter().chain(superseded), Ok(()));
        }
    }

    /// Loads the latest snapshot, or the ops since the version the client
    /// has; `waiter` hears when it is in.
    pub fn fetch(&mut self, c: &str, d: &str, waiter: Option<Waiter>, link: &Link) {
        let doc = self.entry(c, d);
        doc.fetch_waiters.extend(waiter);
        if !doc.fetch_inflight {
            self.send_fetch(c, d, link);
        }
    }

    /// Asks for the subscription to be on or off: answered at once if it
    /// is (and nothing is on the wire), with the last request if that asks
    /// the same, else with a new request.
    pub fn change_subscription(
        &mut self,
        c: &str,
        d: &str,
        subscribe: bool,
        waiter: Waiter,
        link: &Link,
    ) {
        let doc = self.entry(c, d);
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
                    resolve(superseded.into_iter().chain([waiter]), Ok(()));
                }
            }
            return;
        }
        self.send_subscription(c, d, subscribe, vec![waiter], link);
    }

    /// A fetch's answer; whether the document was replaced by its snapshot
    /// (see [`Docs::ingest`]).
    #[must_use]
    pub fn on_fetch_reply(
        &mut self,
        c: &str,
        d: &str,
        data: Option<protocol::Snapshot>,
        link: &Link,
        events: &mut Vec<ClientEvent>,
    ) -> bool {
        let reloaded = data.is_some_and(|snapshot| self.ingest(c, d, snapshot, link, events));
        let doc = self.entry(c, d);
        doc.fetch_inflight = false;
        resolve(std::mem::take(&mut doc.fetch_waiters), Ok(()));
        reloaded
    }

    /// A subscribe's answer; whether the document was replaced by its
    /// snapshot (see [`Docs::ingest`]).
    #[must_use]
    pub fn on_subscribe_reply(
        &mut self,
        c: &str,
        d: &str,
        data: Option<protocol::Snapshot>,
        link: &Link,
        events: &mut Vec<ClientEvent>,
    ) -> bool {
        let doc = self.entry(c, d);
        doc.subscribed = true;
        let waiters = doc.answered(true);
        let reloaded = data.is_some_and(|snapshot| self.ingest(c, d, snapshot, link, events));
        let doc = self.entry(c, d);
        resolve(waiters, Ok(()));
        // Waiters of a fetch are served by a subscribe's snapshot too.
        if !doc.fetch_inflight {
            resolve(std::mem::take(&mut doc.fetch_waiters), Ok(()));
        }
        reloaded
    }

    pub fn on_unsubscribe_reply(&mut self, c: &str, d: &str) {
        let doc = self.entry(c, d);
        doc.subscribed = false;
        resolve(doc.answered(false), Ok(()));
    }

    /// The server refused a fetch (`f`), subscribe (`s`) or unsubscribe.
    pub fn on_request_error(&mut self, c: &str, d: &str, action: &str, error: ErrorObject) {
        let doc = self.entry(c, d);
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
    /// Returns whether the document was replaced by it: then the presence
    /// in it no longer applies.
    #[must_use]
    pub fn ingest(
        &mut self,
        c: &str,
        d: &str,
        snapshot: protocol::Snapshot,
        link: &Link,
        events: &mut Vec<ClientEvent>,
    ) -> bool {
        let doc = self.entry(c, d);
        if doc.doc_type.is_some() || doc.has_write_pending() {
            match doc.version {
                // Created locally, not acknowledged yet: the ack will say.
                None => {}
                Some(v) if snapshot.v > v => self.fetch(c, d, None, link),
                Some(_) => {}
            }
            return false;
        }
        if doc.version.is_some_and(|v| v > snapshot.v) {
            return false;
        }
        doc.version = Some(snapshot.v);
        doc.doc_type = snapshot.doc_type;
        let previous = match doc.reload_previous.take() {
            Some(previous) => previous,
            None => doc.take_data(),
        };
        doc.data = snapshot.data;
        doc.recent.clear();
        if doc.data.is_none() && previous.is_none() {
            return false;
        }
        events.push(ClientEvent::Loaded {
            collection: c.to_owned(),
            id: d.to_owned(),
            previous,
        });
        true
    }
}
