//! Deliveries from pub/sub: ops of subscribed documents and of queried
//! collections, and presence.
//!
//! This module owns the routing of what pub/sub brings only: ops go out through
//! `docs` (`forward_op`), query changes are worked out by `live_query` and
//! turned into messages by `queries`, and presence is passed by `presence`. It
//! publishes nothing.

use std::sync::Arc;

use crate::backend::pubsub::{Delivery, Message};
use crate::protocol::{DocOp, ServerMessage};

use super::Agent;
use super::channels::{is_collection_channel, is_doc_channel};
use super::queries::query_echo;

impl Agent {
    /// Handles a message from pub/sub.
    pub(super) async fn deliver(&mut self, delivery: Delivery) {
        self.shared.telemetry.delivered(delivery.sent);
        match delivery.message {
            Message::Op(op) => self.deliver_op(&delivery.channel, op).await,
            Message::Presence(presence) => {
                if presence.src.as_deref() != Some(&self.info.client_id)
                    && self.presence_channels.contains(&presence.ch)
                {
                    let message = self.pass_presence((*presence).clone()).await;
                    self.send(message);
                }
            }
            Message::PresenceRequest { ch, src } => {
                if src != self.info.client_id && self.presence_channels.contains(&ch) {
                    self.send(ServerMessage::PresenceRequest { ch });
                }
            }
        }
    }

    pub(super) fn is_own(&self, op: &DocOp) -> bool {
        op.src.as_deref() == Some(self.info.client_id.as_str())
    }

    /// Handles an op from pub/sub. The channel it came on says whether it
    /// is for a document subscription or for live queries, but names
    /// collide (see [`Channels`]), so the op must be the channel's own: as
    /// ShareDB does, an op whose collection and id do not make the channel
    /// is not this channel's.
    pub(super) async fn deliver_op(&mut self, channel: &str, op: Arc<DocOp>) {
        if is_doc_channel(channel, &op.c, &op.d) {
            self.deliver_doc_op(op).await;
        } else if is_collection_channel(channel, &op.c) {
            // Boxed, as requests are (see `Agent::handle`): updating live
            // queries takes a large future, a document's op a small one.
            Box::pin(self.deliver_collection_op(op)).await;
        }
    }

    /// An op of a subscribed document: forwarded unless the client has it.
    pub(super) async fn deliver_doc_op(&mut self, op: Arc<DocOp>) {
        let Some(next_v) = self
            .docs
            .get_mut(&op.c)
            .and_then(|docs| docs.get_mut(&op.d))
        else {
            return;
        };
        if op.v < *next_v {
            return;
        }
        *next_v = op.v.saturating_add(1);
        if !self.is_own(&op) {
            self.forward_op(op).await;
        }
    }

    /// An op in a collection: updates the collection's live queries, and is
    /// forwarded if its document is in their results.
    pub(super) async fn deliver_collection_op(&mut self, op: Arc<DocOp>) {
        let mut forward = false;
        let shared = self.shared.clone();
        let ids: Vec<u64> = self
            .queries
            .iter()
            .filter(|(_, q)| q.collection == op.c)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(query) = self.queries.get_mut(&id) else {
                continue;
            };
            let was_result = query.holds(&op.d);
            match query.update(&shared, &self.info, &op).await {
                Ok(update) => {
                    forward |= was_result;
                    match self.update_messages(id, &op.c, update).await {
                        Ok(messages) => {
                            for message in messages {
                                self.send(message);
                            }
                        }
                        Err(error) => self.send(ServerMessage::error(query_echo(id), error)),
                    }
                }
                Err(error) => tracing::error!("live query update failed: {error}"),
            }
        }
        if forward && !self.is_subscribed(&op.c, &op.d) && !self.is_own(&op) {
            self.forward_op(op).await;
        }
    }
}
