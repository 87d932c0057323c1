//! Presence: who else is here, and where (ShareDB's client `Presence`).
//!
//! A presence channel relays small, ephemeral values between the clients
//! subscribed to it: a name, a cursor, a selection. Nothing is stored; a
//! client that disconnects is announced as gone.

use std::collections::HashMap;

use futures::channel::oneshot;
use serde_json::Value;

use super::connection::{Connection, State};
use super::doc::Ack;
use super::{ClientError, ClientEvent};
use crate::protocol::{self, ClientMessage};

/// A presence channel of a [`Connection`].
#[derive(Clone)]
pub struct Presence {
    connection: Connection,
    channel: String,
}

/// A channel's state in its connection.
#[derive(Default)]
pub(crate) struct PresenceState {
    wanted: bool,
    seq: u64,
    waiters: Vec<oneshot::Sender<Result<(), ClientError>>>,
    /// This client's presences on the channel, by presence id, with their
    /// version.
    own: HashMap<String, (Value, u64)>,
    /// Everyone else's, by presence id.
    pub others: HashMap<String, Value>,
}

impl State {
    fn presence_mut(&mut self, channel: &str) -> &mut PresenceState {
        self.presences.entry(channel.to_owned()).or_default()
    }

    fn send_presence(&self, channel: &str, id: &str, value: &Value, pv: u64) -> bool {
        self.send(ClientMessage::Presence(protocol::Presence {
            ch: channel.to_owned(),
            id: id.to_owned(),
            p: value.clone(),
            pv,
            c: None,
            d: None,
            v: None,
            t: None,
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
            self.send(ClientMessage::PresenceSubscribe {
                ch: channel.clone(),
                seq,
            });
            self.announce(&channel);
        }
    }

    /// Sends this client's presences on a channel (after a request, or a
    /// reconnect).
    fn announce(&mut self, channel: &str) {
        let own: Vec<(String, Value, u64)> = self
            .presence_mut(channel)
            .own
            .iter()
            .map(|(id, (value, pv))| (id.clone(), value.clone(), *pv))
            .collect();
        for (id, value, pv) in own {
            self.send_presence(channel, &id, &value, pv);
        }
    }

    pub fn on_presence_subscribed(&mut self, channel: &str) {
        let presence = self.presence_mut(channel);
        for waiter in presence.waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
    }

    pub fn on_presence(&mut self, message: protocol::Presence) {
        if message.src.is_some() && message.src == self.id {
            return;
        }
        let Some(presence) = self.presences.get_mut(&message.ch) else {
            return;
        };
        let value = if message.p.is_null() {
            presence.others.remove(&message.id);
            None
        } else {
            presence
                .others
                .insert(message.id.clone(), message.p.clone());
            Some(message.p)
        };
        self.events.push(ClientEvent::Presence {
            channel: message.ch,
            id: message.id,
            value,
        });
    }

    pub fn on_presence_request(&mut self, channel: &str) {
        self.announce(channel);
    }
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
            let pv = presence.own.get(id).map_or(1, |(_, pv)| pv + 1);
            presence.own.insert(id.to_owned(), (value.clone(), pv));
            s.send_presence(&self.channel, id, &value, pv);
        });
    }

    /// Withdraws this client's presence `id`.
    pub fn leave(&self, id: &str) {
        self.connection.shared.with_state(|s| {
            if let Some((_, pv)) = s.presence_mut(&self.channel).own.remove(id) {
                s.send_presence(&self.channel, id, &Value::Null, pv + 1);
            }
        });
    }

    /// The presence of everyone else on the channel, by presence id.
    pub fn others(&self) -> HashMap<String, Value> {
        self.connection
            .shared
            .with_state(|s| s.presence_mut(&self.channel).others.clone())
    }
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presence")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}
