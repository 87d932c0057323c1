//! Presence: a client's own, relayed under ids scoped to its connection
//! and moved to the document's latest version; others', passed through
//! `send_presence` on their way in.
//!
//! This module owns the connection's presence channels and its own presence;
//! who may follow or publish on a channel is the read policy's (`access`), and
//! presence is never written to the database: it only travels through pub/sub.

use std::sync::Arc;

use serde_json::Value;

use crate::backend::middleware::PresenceContext;
use crate::backend::pubsub::{self, Message};
use crate::backend::submit::internal;
use crate::protocol::{ErrorCode, ErrorObject, PresenceUpdate, ServerMessage, is_json0};

use super::Agent;
use crate::backend::access;

/// The id a presence is relayed under: the client's own, prefixed with
/// the connection's id (and its length, so no two connections can make
/// the same one), so no connection can replace another's presence.
pub(crate) fn scoped_presence_id(client_id: &str, id: &str) -> String {
    format!("{}:{client_id}:{id}", client_id.len())
}

impl Agent {
    /// This client's presence (`p`): checked by the read policy and the
    /// `receive_presence` hooks, moved to the document's latest version,
    /// relayed; the client is answered with it, under its own id.
    pub(super) async fn publish_presence(
        &mut self,
        presence: &PresenceUpdate,
    ) -> Result<Option<ServerMessage>, ErrorObject> {
        if !self.shared.options.presence {
            return Ok(None);
        }
        access::presence(&self.shared, &self.info, &presence.ch, true).await?;
        if let (Some(c), Some(d)) = (&presence.c, &presence.d) {
            self.may_read(c, d).await?;
        }
        let mut presence = presence.clone();
        presence.src = Some(self.info.client_id.clone());
        for m in &self.shared.middleware {
            let mut ctx = PresenceContext {
                agent: &self.info,
                presence: &mut presence,
            };
            m.receive_presence(&mut ctx).await?;
        }
        self.catch_up_presence(&mut presence).await?;
        self.broadcast_presence(&presence).await?;
        Ok(Some(ServerMessage::Presence(presence)))
    }

    /// Follows a presence channel (`ps`). One the client may not follow is
    /// answered as an empty one: acknowledged, and silent.
    pub(super) async fn follow_presence(
        &mut self,
        ch: &str,
        seq: u64,
    ) -> Result<Option<ServerMessage>, ErrorObject> {
        if !self.shared.options.presence {
            return Ok(None);
        }
        if !self.presence_channels.contains(ch) && !self.unread_channels.contains(ch) {
            let max = self.shared.options.limits.max_presence_channels;
            if self.presence_channels.len() + self.unread_channels.len() >= max {
                return Err(ErrorObject::new(
                    ErrorCode::TooManyPresenceChannels,
                    format!(
                        "A connection may follow {max} presence channels at most; unsubscribe some first"
                    ),
                ));
            }
            if access::presence(&self.shared, &self.info, ch, false)
                .await
                .is_ok()
            {
                self.retain(&pubsub::presence_channel(ch)).await?;
                self.presence_channels.insert(ch.to_owned());
                self.request_presence(ch).await?;
            } else {
                self.unread_channels.insert(ch.to_owned());
            }
        }
        Ok(Some(ServerMessage::PresenceSubscribe {
            ch: ch.to_owned(),
            seq,
        }))
    }

    /// Stops following a presence channel (`pu`).
    pub(super) fn unfollow_presence(&mut self, ch: &str, seq: u64) -> ServerMessage {
        self.unread_channels.remove(ch);
        if self.presence_channels.remove(ch) {
            self.channels.release(&pubsub::presence_channel(ch));
        }
        ServerMessage::PresenceUnsubscribe {
            ch: ch.to_owned(),
            seq,
        }
    }

    /// Asks everyone on a channel for their presence (`pr`), if the client
    /// may follow it.
    pub(super) async fn ask_for_presence(&self, ch: &str) -> Result<ServerMessage, ErrorObject> {
        if access::presence(&self.shared, &self.info, ch, false)
            .await
            .is_ok()
        {
            self.request_presence(ch).await?;
        }
        Ok(ServerMessage::PresenceRequest { ch: ch.to_owned() })
    }

    /// Moves a document presence made at an older version past the ops
    /// since, so every subscriber gets it at the latest version (ShareDB's
    /// `transformPresenceToLatestVersion`). A subscribed client's latest
    /// version is known without reading the journal.
    pub(super) async fn catch_up_presence(
        &self,
        presence: &mut PresenceUpdate,
    ) -> Result<(), ErrorObject> {
        let (Some(c), Some(d), Some(v)) = (&presence.c, &presence.d, presence.v) else {
            return Ok(());
        };
        if let Some(t) = presence.t.as_deref().filter(|t| !is_json0(t)) {
            return Err(ErrorObject::new(
                ErrorCode::TypeDoesNotSupportPresence,
                format!("Type does not support presence: {t}"),
            ));
        }
        let known = self.docs.get(c).and_then(|docs| docs.get(d));
        if presence.p.is_null() || known.is_some_and(|next| v >= *next) {
            return Ok(());
        }
        let (c, d) = (c.clone(), d.clone());
        for op in self.ops_since(&c, &d, v).await? {
            let own = op.src.is_some() && op.src == presence.src;
            presence.transform(&op.kind, own);
        }
        Ok(())
    }

    /// Relays this client's presence to the channel, under an id scoped to
    /// the connection (see [`scoped_presence_id`]).
    pub(super) async fn broadcast_presence(
        &mut self,
        presence: &PresenceUpdate,
    ) -> Result<(), ErrorObject> {
        let key = (presence.ch.clone(), presence.id.clone());
        let mut relayed = presence.clone();
        relayed.id = scoped_presence_id(&self.info.client_id, &presence.id);
        if presence.p.is_null() {
            self.own_presence.remove(&key);
        } else {
            self.own_presence.insert(key, relayed.clone());
        }
        self.shared
            .pubsub
            .publish(
                &[pubsub::presence_channel(&presence.ch)],
                Message::Presence(Arc::new(relayed)),
            )
            .await
            .map_err(|e| internal("presence", &e))
    }

    pub(super) async fn request_presence(&self, ch: &str) -> Result<(), ErrorObject> {
        self.shared
            .pubsub
            .publish(
                &[pubsub::presence_channel(ch)],
                Message::PresenceRequest {
                    ch: ch.to_owned(),
                    src: self.info.client_id.clone(),
                },
            )
            .await
            .map_err(|e| internal("presence", &e))
    }

    /// Another client's presence through `send_presence` middleware: what
    /// this connection is sent, the presence or the error.
    pub(super) async fn pass_presence(&self, mut presence: PresenceUpdate) -> ServerMessage {
        let mut ctx = PresenceContext {
            agent: &self.info,
            presence: &mut presence,
        };
        for m in &self.shared.middleware {
            if let Err(error) = m.send_presence(&mut ctx).await {
                let echo = serde_json::Map::from_iter([
                    ("a".to_owned(), Value::from("p")),
                    ("ch".to_owned(), Value::from(ctx.presence.ch.clone())),
                    ("id".to_owned(), Value::from(ctx.presence.id.clone())),
                ]);
                return ServerMessage::error(echo, error);
            }
        }
        ServerMessage::Presence(presence)
    }
}
