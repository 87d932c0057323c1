//! Presence: who else is here, and where (ShareDB's client `Presence` and
//! `DocPresence`).
//!
//! A presence channel relays small, ephemeral values between the clients
//! subscribed to it: a name, a cursor, a selection. Nothing is stored; a
//! client that disconnects is announced as gone.
//!
//! A document's presence ([`DocPresence`]) is a channel named after the
//! document whose values follow its edits: a caret stays on the text it
//! was at while anyone types (see [`json0::transform_presence`] for the
//! shape of such a value). Each value travels with the document version it
//! refers to; the server moves it to the latest version, and each client
//! moves it past what it applied since, and past its own unsent edits.

use std::collections::{HashMap, VecDeque};

use futures::channel::oneshot;
use serde_json::Value;

use super::connection::{Connection, State};
use super::doc::Ack;
use super::{ClientError, ClientEvent};
use crate::ot::json0;
use crate::protocol::{self, ClientMessage, OpKind};

/// How many of a document's latest ops a client keeps to move presence
/// that arrives late (made before an op the client already applied).
const RECENT_OPS: usize = 64;

/// A presence channel of a [`Connection`].
#[derive(Clone)]
pub struct Presence {
    connection: Connection,
    channel: String,
}

/// This client's presence under one id.
struct Own {
    value: Value,
    pv: u64,
    /// Not sent yet: a document presence waits until the document has no
    /// unacknowledged op, so its version says what the value refers to.
    unsent: bool,
}

/// Someone else's presence under one id.
struct Other {
    value: Value,
    pv: u64,
    /// The client that sent it, to tell its own ops apart.
    src: Option<String>,
}

/// A channel's state in its connection.
#[derive(Default)]
pub(crate) struct PresenceState {
    wanted: bool,
    seq: u64,
    waiters: Vec<oneshot::Sender<Result<(), ClientError>>>,
    /// This client's presences on the channel, by presence id.
    own: HashMap<String, Own>,
    /// Everyone else's, by presence id.
    others: HashMap<String, Other>,
    /// For a document's presence: the document (collection, id).
    doc: Option<(String, String)>,
    /// Others' presence made at a version the document has not reached.
    early: HashMap<String, protocol::PresenceUpdate>,
}

/// An op a document applied, kept to move late presence past it.
pub(crate) struct RecentOp {
    /// The version it took the document from.
    v: u64,
    kind: OpKind,
    src: Option<String>,
}

/// Moves a presence value past an op (create and delete clear it).
fn value_past(value: &Value, kind: &OpKind, own: bool) -> Value {
    match kind {
        OpKind::Edit(op) => json0::transform_presence(value, op, own),
        OpKind::Create(_) | OpKind::Delete => Value::Null,
    }
}

impl State {
    fn presence_mut(&mut self, channel: &str) -> &mut PresenceState {
        self.presences.entry(channel.to_owned()).or_default()
    }

    /// The channel of a document's presence, if this client uses it.
    fn doc_presence(&mut self, c: &str, d: &str) -> Option<&mut PresenceState> {
        self.presences
            .get_mut(&doc_channel(c, d))
            .filter(|p| p.doc.is_some())
    }

    /// Whether a document's ops should be kept for late presence.
    pub fn keeps_recent_ops(&self, c: &str, d: &str) -> bool {
        self.presences
            .get(&doc_channel(c, d))
            .is_some_and(|p| p.doc.is_some())
    }

    fn send_presence(&self, channel: &str, id: &str, own: &Own) -> bool {
        let doc = self.presences.get(channel).and_then(|p| p.doc.clone());
        let (c, d, v, t) = match doc {
            Some((c, d)) => {
                let v = self
                    .docs
                    .get(&(c.clone(), d.clone()))
                    .and_then(|doc| doc.version);
                (Some(c), Some(d), v, Some(json0::URI.to_owned()))
            }
            None => (None, None, None, None),
        };
        self.send(ClientMessage::Presence(protocol::PresenceUpdate {
            ch: channel.to_owned(),
            id: id.to_owned(),
            p: own.value.clone(),
            pv: own.pv,
            c,
            d,
            v,
            t,
            src: None,
        }))
    }

    /// After a handshake: subscribe again and announce this client again.
    pub fn resume_presence(&mut self) {
        let channels: Vec<String> = self
            .presences
            .iter()
            .filter(|(_, p)| p.wanted)
            .map(|(ch, _)| ch.clone())
            .collect();
        for channel in channels {
            let presence = self.presence_mut(&channel);
            presence.seq += 1;
            let seq = presence.seq;
            presence.others.clear();
            presence.early.clear();
            self.send(ClientMessage::PresenceSubscribe {
                ch: channel.clone(),
                seq,
            });
            self.announce(&channel, true);
        }
    }

    /// Sends this client's presences on a channel: all of them (`all`,
    /// after a request or a reconnect) or those not sent yet. A document's
    /// presence waits while the document has unacknowledged ops.
    fn announce(&mut self, channel: &str, all: bool) {
        let doc = self.presences.get(channel).and_then(|p| p.doc.clone());
        if let Some((c, d)) = doc
            && self
                .docs
                .get(&(c, d))
                .is_some_and(|doc| doc.has_write_pending() || doc.version.is_none())
        {
            for own in self.presence_mut(channel).own.values_mut() {
                own.unsent = true;
            }
            return;
        }
        let ids: Vec<String> = self
            .presence_mut(channel)
            .own
            .iter()
            .filter(|(_, own)| all || own.unsent)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let sent = match self.presences.get(channel).and_then(|p| p.own.get(&id)) {
                Some(own) => self.send_presence(channel, &id, own),
                None => false,
            };
            if let Some(own) = self.presence_mut(channel).own.get_mut(&id) {
                own.unsent = !sent;
                if own.value.is_null() && sent {
                    self.presence_mut(channel).own.remove(&id);
                }
            }
        }
    }

    /// A document has nothing unacknowledged any more: send the presence
    /// that waited for it.
    pub fn on_doc_settled(&mut self, c: &str, d: &str) {
        if self.doc_presence(c, d).is_some() {
            self.announce(&doc_channel(c, d), false);
        }
    }

    pub fn on_presence_subscribed(&mut self, channel: &str) {
        let presence = self.presence_mut(channel);
        for waiter in presence.waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
    }

    pub fn on_presence(&mut self, message: protocol::PresenceUpdate) {
        if message.src.is_some() && message.src == self.id {
            return;
        }
        let Some(presence) = self.presences.get(&message.ch) else {
            return;
        };
        let stale = presence
            .others
            .get(&message.id)
            .is_some_and(|other| message.pv < other.pv);
        if stale {
            return;
        }
        match presence.doc.clone() {
            Some((c, d)) if message.v.is_some() && !message.p.is_null() => {
                self.on_doc_presence(&c, &d, message)
            }
            _ => self.set_other(message),
        }
    }

    /// Someone's presence in a document: moved to what this client has
    /// (the versions it applied since, then its own unacknowledged edits),
    /// or kept until the document reaches the version it was made at.
    fn on_doc_presence(&mut self, c: &str, d: &str, mut message: protocol::PresenceUpdate) {
        let key = (c.to_owned(), d.to_owned());
        let Some(doc) = self.docs.get(&key) else {
            return self.set_other(message);
        };
        let (Some(have), Some(at)) = (doc.version, message.v) else {
            return self.set_other(message);
        };
        if at > have {
            let channel = message.ch.clone();
            self.presence_mut(&channel)
                .early
                .insert(message.id.clone(), message);
            return;
        }
        for v in at..have {
            match doc.recent.iter().find(|op| op.v == v) {
                Some(op) => {
                    let own = op.src.is_some() && op.src == message.src;
                    message.transform(&op.kind, own);
                }
                None => {
                    // Too old to move: ask for it again.
                    self.send(ClientMessage::PresenceRequest { ch: message.ch });
                    return;
                }
            }
        }
        for local in doc.unacknowledged() {
            message.p = value_past(&message.p, local, false);
        }
        self.set_other(message);
    }

    /// Records (or, for `null`, removes) someone's presence and tells the
    /// listeners.
    fn set_other(&mut self, message: protocol::PresenceUpdate) {
        let Some(presence) = self.presences.get_mut(&message.ch) else {
            return;
        };
        let value = if message.p.is_null() {
            presence.others.remove(&message.id);
            None
        } else {
            presence.others.insert(
                message.id.clone(),
                Other {
                    value: message.p.clone(),
                    pv: message.pv,
                    src: message.src.clone(),
                },
            );
            Some(message.p)
        };
        self.events.push(ClientEvent::Presence {
            channel: message.ch,
            id: message.id,
            value,
        });
    }

    /// A document applied an op (`local`: this client's own edit; else one
    /// from `src`, or a rollback): every presence in it moves past it.
    pub fn presence_past(
        &mut self,
        c: &str,
        d: &str,
        kind: &OpKind,
        src: Option<&str>,
        local: bool,
    ) {
        let channel = doc_channel(c, d);
        let Some(presence) = self.doc_presence(c, d) else {
            return;
        };
        for own in presence.own.values_mut() {
            own.value = value_past(&own.value, kind, local);
        }
        let mut changed = Vec::new();
        for (id, other) in &mut presence.others {
            let own = !local && src.is_some() && other.src.as_deref() == src;
            let moved = value_past(&other.value, kind, own);
            if moved != other.value {
                other.value = moved.clone();
                changed.push((id.clone(), moved));
            }
        }
        for (id, value) in changed {
            self.events.push(ClientEvent::Presence {
                channel: channel.clone(),
                id,
                value: (!value.is_null()).then_some(value),
            });
        }
    }

    /// A document reached a new version: presence made at it can show now.
    pub fn on_doc_version(&mut self, c: &str, d: &str) {
        let Some(version) = self
            .docs
            .get(&(c.to_owned(), d.to_owned()))
            .and_then(|doc| doc.version)
        else {
            return;
        };
        let Some(presence) = self.doc_presence(c, d) else {
            return;
        };
        let ready: Vec<String> = presence
            .early
            .iter()
            .filter(|(_, p)| p.v.is_some_and(|v| v <= version))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ready {
            if let Some(message) = presence_early(self, c, d, &id) {
                self.on_doc_presence(c, d, message);
            }
        }
    }

    /// A document was replaced by a snapshot: the presence in it no longer
    /// applies; ask everyone for theirs again.
    pub fn on_doc_reloaded(&mut self, c: &str, d: &str) {
        let channel = doc_channel(c, d);
        let Some(presence) = self.doc_presence(c, d) else {
            return;
        };
        presence.early.clear();
        let gone: Vec<String> = presence.others.drain().map(|(id, _)| id).collect();
        for id in gone {
            self.events.push(ClientEvent::Presence {
                channel: channel.clone(),
                id,
                value: None,
            });
        }
        self.send(ClientMessage::PresenceRequest { ch: channel });
    }

    pub fn on_presence_request(&mut self, channel: &str) {
        self.announce(channel, true);
    }
}

fn presence_early(
    state: &mut State,
    c: &str,
    d: &str,
    id: &str,
) -> Option<protocol::PresenceUpdate> {
    state.doc_presence(c, d)?.early.remove(id)
}

/// The presence channel of a document, as ShareDB names it.
fn doc_channel(collection: &str, id: &str) -> String {
    format!("{collection}.{id}")
}

/// Keeps the latest ops of a document for late presence.
pub(crate) fn remember(
    recent: &mut VecDeque<RecentOp>,
    v: u64,
    kind: &OpKind,
    src: Option<String>,
) {
    if recent.len() == RECENT_OPS {
        recent.pop_front();
    }
    recent.push_back(RecentOp {
        v,
        kind: kind.clone(),
        src,
    });
}

impl Presence {
    pub(crate) fn new(connection: Connection, channel: &str) -> Self {
        Self {
            connection,
            channel: channel.to_owned(),
        }
    }

    /// The channel's name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Starts receiving the presence of others on the channel (and asks
    /// them to send it); resolves once the server confirmed.
    pub async fn subscribe(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.connection.shared.with_state(|s| {
            let presence = s.presence_mut(&self.channel);
            presence.wanted = true;
            presence.seq += 1;
            presence.waiters.push(tx);
            let seq = presence.seq;
            s.send(ClientMessage::PresenceSubscribe {
                ch: self.channel.clone(),
                seq,
            });
        });
        Ack::from_receiver(rx).await
    }

    /// Stops receiving the presence of others.
    pub fn unsubscribe(&self) {
        self.connection.shared.with_state(|s| {
            let presence = s.presence_mut(&self.channel);
            presence.wanted = false;
            presence.seq += 1;
            presence.others.clear();
            presence.early.clear();
            let seq = presence.seq;
            s.send(ClientMessage::PresenceUnsubscribe {
                ch: self.channel.clone(),
                seq,
            });
        });
    }

    /// Publishes this client's presence `id` (a client may have several,
    /// e.g. one per open editor) with `value`.
    pub fn submit(&self, id: &str, value: Value) {
        self.connection.shared.with_state(|s| {
            let presence = s.presence_mut(&self.channel);
            let pv = presence.own.get(id).map_or(1, |own| own.pv + 1);
            presence.own.insert(
                id.to_owned(),
                Own {
                    value,
                    pv,
                    unsent: true,
                },
            );
            s.announce(&self.channel, false);
        });
    }

    /// Withdraws this client's presence `id`.
    pub fn leave(&self, id: &str) {
        self.connection.shared.with_state(|s| {
            let presence = s.presence_mut(&self.channel);
            if let Some(own) = presence.own.get_mut(id) {
                own.value = Value::Null;
                own.pv += 1;
                own.unsent = true;
                s.announce(&self.channel, false);
            }
        });
    }

    /// This client's presence `id`, as it is now (a document's presence
    /// moves with the document's edits).
    pub fn local(&self, id: &str) -> Option<Value> {
        self.connection.shared.with_state(|s| {
            s.presence_mut(&self.channel)
                .own
                .get(id)
                .map(|own| own.value.clone())
                .filter(|v| !v.is_null())
        })
    }

    /// The presence of everyone else on the channel, by presence id: the
    /// id the other client gave, scoped by the server to its connection
    /// (`<length>:<client id>:<id>`), so no client can replace another's.
    pub fn others(&self) -> HashMap<String, Value> {
        self.connection.shared.with_state(|s| {
            s.presence_mut(&self.channel)
                .others
                .iter()
                .map(|(id, other)| (id.clone(), other.value.clone()))
                .collect()
        })
    }
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presence")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// The presence channel of one document, whose values follow its edits:
/// ShareDB's client `DocPresence` (`connection.getDocPresence`), for json0
/// presence values ([`json0::transform_presence`]).
///
/// It is a [`Presence`] (subscribe, submit, others) named `collection.id`;
/// the document must be loaded (fetched or subscribed) for the values to
/// move with it.
///
/// ```
/// # #[cfg(feature = "ssr")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), peloton::client::ClientError> {
/// use peloton::backend::Backend;
/// use peloton::client::Connection;
/// use serde_json::json;
///
/// let backend = Backend::new();
/// let (ann, bob) = (Connection::new(backend.clone()), Connection::new(backend));
/// let note = ann.get("notes", "n1");
/// note.create(json!({"text": "hello"}))?.await?;
/// bob.get("notes", "n1").subscribe().await?;
/// let seen = bob.doc_presence("notes", "n1");
/// seen.subscribe().await?;
///
/// // Ann's caret after "hello".
/// ann.doc_presence("notes", "n1").submit("ann", json!({"p": ["text"], "s": 5, "e": 5}));
/// # for _ in 0..100 { if !seen.others().is_empty() { break } tokio::task::yield_now().await; }
/// // Keyed by an id the server scoped to Ann's connection.
/// let (id, caret) = seen.others().into_iter().next().unwrap();
/// assert!(id.ends_with(":ann"));
/// assert_eq!(caret["s"], 5);
/// # Ok(()) }
/// # #[cfg(not(feature = "ssr"))]
/// # fn main() {}
/// ```
#[derive(Clone, Debug)]
pub struct DocPresence {
    presence: Presence,
}

impl DocPresence {
    pub(crate) fn new(connection: Connection, collection: &str, id: &str) -> Self {
        let channel = doc_channel(collection, id);
        connection.shared.with_state(|s| {
            s.presence_mut(&channel).doc = Some((collection.to_owned(), id.to_owned()));
        });
        Self {
            presence: Presence::new(connection, &channel),
        }
    }
}

impl std::ops::Deref for DocPresence {
    type Target = Presence;
    fn deref(&self) -> &Presence {
        &self.presence
    }
}
