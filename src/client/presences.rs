//! The presence channels of a connection: this client's presence on each,
//! and everyone else's as last heard.
//!
//! A document's channel (see [`super::DocPresence`]) moves its values with
//! the document: past what the document applied since a value was made,
//! and past this client's unacknowledged edits; a value made at a version
//! the document has not reached waits for it. This module reads the
//! documents ([`Docs`]) for that and sends through the [`Link`]; it never
//! changes a document.

use std::collections::HashMap;

use serde_json::Value;

use super::ClientEvent;
use super::ack::{Waiter, resolve};
use super::docs::Docs;
use super::link::Link;
use crate::ot::json0;
use crate::protocol::{self, ClientMessage, OpKind};

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

/// One channel.
#[derive(Default)]
struct Channel {
    wanted: bool,
    seq: u64,
    waiters: Vec<Waiter>,
    /// This client's presences on the channel, by presence id.
    own: HashMap<String, Own>,
    /// Everyone else's, by presence id.
    others: HashMap<String, Other>,
    /// For a document's presence: the document (collection, id).
    doc: Option<(String, String)>,
    /// Others' presence made at a version the document has not reached.
    early: HashMap<String, protocol::PresenceUpdate>,
}

/// Moves a presence value past an op (create and delete clear it).
fn value_past(value: &Value, kind: &OpKind, own: bool) -> Value {
    match kind {
        OpKind::Edit(op) => json0::transform_presence(value, op, own),
        OpKind::Create(_) | OpKind::Delete => Value::Null,
    }
}

/// The presence channel of a document, as ShareDB names it.
pub(crate) fn doc_channel(collection: &str, id: &str) -> String {
    format!("{collection}.{id}")
}

/// A connection's presence channels, by name.
#[derive(Default)]
pub(crate) struct Presences(HashMap<String, Channel>);

impl Presences {
    fn channel(&mut self, channel: &str) -> &mut Channel {
        self.0.entry(channel.to_owned()).or_default()
    }

    /// The channel of a document's presence, if this client uses it.
    fn of_doc(&mut self, c: &str, d: &str) -> Option<&mut Channel> {
        // Most connections (every server render) use no presence: skip
        // building the channel's name for each document they load.
        if self.0.is_empty() {
            return None;
        }
        self.0
            .get_mut(&doc_channel(c, d))
            .filter(|p| p.doc.is_some())
    }

    /// Makes `channel` the presence of the document `c.d`.
    pub fn bind_doc(&mut self, channel: &str, c: &str, d: &str) {
        self.channel(channel).doc = Some((c.to_owned(), d.to_owned()));
    }

    /// Whether a document's ops should be kept for late presence.
    pub fn keeps_recent_ops(&self, c: &str, d: &str) -> bool {
        !self.0.is_empty()
            && self
                .0
                .get(&doc_channel(c, d))
                .is_some_and(|p| p.doc.is_some())
    }

    /// Starts receiving others' presence on `channel`; `waiter` hears when
    /// the server confirmed.
    pub fn subscribe(&mut self, channel: &str, waiter: Waiter, link: &Link) {
        let state = self.channel(channel);
        state.wanted = true;
        state.seq += 1;
        state.waiters.push(waiter);
        let seq = state.seq;
        link.send(ClientMessage::PresenceSubscribe {
            ch: channel.to_owned(),
            seq,
        });
    }

    /// Stops receiving others' presence on `channel`.
    pub fn unsubscribe(&mut self, channel: &str, link: &Link) {
        let state = self.channel(channel);
        state.wanted = false;
        state.seq += 1;
        state.others.clear();
        state.early.clear();
        let seq = state.seq;
        link.send(ClientMessage::PresenceUnsubscribe {
            ch: channel.to_owned(),
            seq,
        });
    }

    /// Publishes this client's presence `id` on `channel` (`null`: leaves).
    pub fn submit(&mut self, channel: &str, id: &str, value: Value, docs: &Docs, link: &Link) {
        let state = self.channel(channel);
        let pv = state.own.get(id).map_or(1, |own| own.pv + 1);
        state.own.insert(
            id.to_owned(),
            Own {
                value,
                pv,
                unsent: true,
            },
        );
        self.announce(channel, false, docs, link);
    }

    /// Withdraws this client's presence `id`, if it has one.
    pub fn leave(&mut self, channel: &str, id: &str, docs: &Docs, link: &Link) {
        if let Some(own) = self.channel(channel).own.get_mut(id) {
            own.value = Value::Null;
            own.pv += 1;
            own.unsent = true;
            self.announce(channel, false, docs, link);
        }
    }

    /// This client's presence `id`, as it is now.
    pub fn local(&mut self, channel: &str, id: &str) -> Option<Value> {
        self.channel(channel)
            .own
            .get(id)
            .map(|own| own.value.clone())
            .filter(|v| !v.is_null())
    }

    /// Everyone else's presence on `channel`, by presence id.
    pub fn others(&mut self, channel: &str) -> HashMap<String, Value> {
        self.channel(channel)
            .others
            .iter()
            .map(|(id, other)| (id.clone(), other.value.clone()))
            .collect()
    }

    fn send_presence(&self, channel: &str, id: &str, own: &Own, docs: &Docs, link: &Link) -> bool {
        let doc = self.0.get(channel).and_then(|p| p.doc.clone());
        let (c, d, v, t) = match doc {
            Some((c, d)) => {
                let v = docs.get(&c, &d).and_then(|doc| doc.version());
                (Some(c), Some(d), v, Some(json0::URI.to_owned()))
            }
            None => (None, None, None, None),
        };
        link.send(ClientMessage::Presence(protocol::PresenceUpdate {
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
    pub fn resume(&mut self, docs: &Docs, link: &Link) {
        let channels: Vec<String> = self
            .0
            .iter()
            .filter(|(_, p)| p.wanted)
            .map(|(ch, _)| ch.clone())
            .collect();
        for channel in channels {
            let state = self.channel(&channel);
            state.seq += 1;
            let seq = state.seq;
            state.others.clear();
            state.early.clear();
            link.send(ClientMessage::PresenceSubscribe {
                ch: channel.clone(),
                seq,
            });
            self.announce(&channel, true, docs, link);
        }
    }

    /// Sends this client's presences on a channel: all of them (`all`,
    /// after a request or a reconnect) or those not sent yet. A document's
    /// presence waits while the document has unacknowledged ops.
    fn announce(&mut self, channel: &str, all: bool, docs: &Docs, link: &Link) {
        let doc = self.0.get(channel).and_then(|p| p.doc.clone());
        if let Some((c, d)) = doc
            && docs
                .get(&c, &d)
                .is_some_and(|doc| doc.has_write_pending() || doc.version().is_none())
        {
            for own in self.channel(channel).own.values_mut() {
                own.unsent = true;
            }
            return;
        }
        let ids: Vec<String> = self
            .channel(channel)
            .own
            .iter()
            .filter(|(_, own)| all || own.unsent)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let sent = match self.0.get(channel).and_then(|p| p.own.get(&id)) {
                Some(own) => self.send_presence(channel, &id, own, docs, link),
                None => false,
            };
            let state = self.channel(channel);
            if let Some(own) = state.own.get_mut(&id) {
                own.unsent = !sent;
                if own.value.is_null() && sent {
                    state.own.remove(&id);
                }
            }
        }
    }

    /// A document has nothing unacknowledged any more: send the presence
    /// that waited for it.
    pub fn on_doc_settled(&mut self, c: &str, d: &str, docs: &Docs, link: &Link) {
        if self.of_doc(c, d).is_some() {
            self.announce(&doc_channel(c, d), false, docs, link);
        }
    }

    /// The server confirmed a subscribe.
    pub fn on_subscribed(&mut self, channel: &str) {
        resolve(self.channel(channel).waiters.drain(..), Ok(()));
    }

    /// Someone asked for everyone's presence on `channel`.
    pub fn on_request(&mut self, channel: &str, docs: &Docs, link: &Link) {
        self.announce(channel, true, docs, link);
    }

    /// Someone's presence arrived.
    pub fn on_presence(
        &mut self,
        message: protocol::PresenceUpdate,
        docs: &Docs,
        link: &Link,
        events: &mut Vec<ClientEvent>,
    ) {
        if message.src.is_some() && message.src.as_deref() == link.id() {
            return;
        }
        let Some(state) = self.0.get(&message.ch) else {
            return;
        };
        let stale = state
            .others
            .get(&message.id)
            .is_some_and(|other| message.pv < other.pv);
        if stale {
            return;
        }
        match state.doc.clone() {
            Some((c, d)) if message.v.is_some() && !message.p.is_null() => {
                self.on_doc_presence(&c, &d, message, docs, link, events)
            }
            _ => self.set_other(message, events),
        }
    }

    /// Someone's presence in a document: moved to what this client has
    /// (the versions it applied since, then its own unacknowledged edits),
    /// or kept until the document reaches the version it was made at.
    fn on_doc_presence(
        &mut self,
        c: &str,
        d: &str,
        mut message: protocol::PresenceUpdate,
        docs: &Docs,
        link: &Link,
        events: &mut Vec<ClientEvent>,
    ) {
        let Some(doc) = docs.get(c, d) else {
            return self.set_other(message, events);
        };
        let (Some(have), Some(at)) = (doc.version(), message.v) else {
            return self.set_other(message, events);
        };
        if at > have {
            let channel = message.ch.clone();
            self.channel(&channel)
                .early
                .insert(message.id.clone(), message);
            return;
        }
        for v in at..have {
            match doc.recent_op(v) {
                Some(op) => {
                    let own = op.src.is_some() && op.src == message.src;
                    message.transform(&op.kind, own);
                }
                None => {
                    // Too old to move: ask for it again.
                    link.send(ClientMessage::PresenceRequest { ch: message.ch });
                    return;
                }
            }
        }
        for local in doc.unacknowledged() {
            message.p = value_past(&message.p, local, false);
        }
        self.set_other(message, events);
    }

    /// Records (or, for `null`, removes) someone's presence and tells the
    /// listeners.
    fn set_other(&mut self, message: protocol::PresenceUpdate, events: &mut Vec<ClientEvent>) {
        let Some(state) = self.0.get_mut(&message.ch) else {
            return;
        };
        let value = if message.p.is_null() {
            state.others.remove(&message.id);
            None
        } else {
            state.others.insert(
                message.id.clone(),
                Other {
                    value: message.p.clone(),
                    pv: message.pv,
                    src: message.src.clone(),
                },
            );
            Some(message.p)
        };
        events.push(ClientEvent::Presence {
            channel: message.ch,
            id: message.id,
            value,
        });
    }

    /// A document applied an op (`local`: this client's own edit; else one
    /// from `src`, or a rollback): every presence in it moves past it.
    pub fn past(
        &mut self,
        (c, d): (&str, &str),
        kind: &OpKind,
        src: Option<&str>,
        local: bool,
        events: &mut Vec<ClientEvent>,
    ) {
        let Some(state) = self.of_doc(c, d) else {
            return;
        };
        let channel = doc_channel(c, d);
        for own in state.own.values_mut() {
            own.value = value_past(&own.value, kind, local);
        }
        let mut changed = Vec::new();
        for (id, other) in &mut state.others {
            let own = !local && src.is_some() && other.src.as_deref() == src;
            let moved = value_past(&other.value, kind, own);
            if moved != other.value {
                other.value = moved.clone();
                changed.push((id.clone(), moved));
            }
        }
        for (id, value) in changed {
            events.push(ClientEvent::Presence {
                channel: channel.clone(),
                id,
                value: (!value.is_null()).then_some(value),
            });
        }
    }

    /// A document reached a new version: presence made at it can show now.
    pub fn on_doc_version(
        &mut self,
        c: &str,
        d: &str,
        docs: &Docs,
        link: &Link,
        events: &mut Vec<ClientEvent>,
    ) {
        let Some(version) = docs.get(c, d).and_then(|doc| doc.version()) else {
            return;
        };
        let Some(state) = self.of_doc(c, d) else {
            return;
        };
        let ready: Vec<String> = state
            .early
            .iter()
            .filter(|(_, p)| p.v.is_some_and(|v| v <= version))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ready {
            let early = self.of_doc(c, d).and_then(|state| state.early.remove(&id));
            if let Some(message) = early {
                self.on_doc_presence(c, d, message, docs, link, events);
            }
        }
    }

    /// A document was replaced by a snapshot: the presence in it no longer
    /// applies; ask everyone for theirs again.
    pub fn on_doc_reloaded(
        &mut self,
        c: &str,
        d: &str,
        link: &Link,
        events: &mut Vec<ClientEvent>,
    ) {
        let Some(state) = self.of_doc(c, d) else {
            return;
        };
        let channel = doc_channel(c, d);
        state.early.clear();
        for id in state.others.drain().map(|(id, _)| id) {
            events.push(ClientEvent::Presence {
                channel: channel.clone(),
                id,
                value: None,
            });
        }
        link.send(ClientMessage::PresenceRequest { ch: channel });
    }
}
