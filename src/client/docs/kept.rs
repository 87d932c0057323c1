//! What an offline store keeps of the documents, and taking it back: the
//! documents with unacknowledged ops (each op as its wire message), the
//! latest copies of the others, and restoring or adopting them.
//!
//! This module owns only those conversions; what a record is and where it
//! goes are `client::offline`'s.

use std::collections::VecDeque;

use super::{DocState, Docs, PendingOp};
use crate::client::offline::PendingDoc;
use crate::client::{ClientError, ClientEvent};
use crate::protocol::{ClientMessage, OpRequest};

impl Docs {
    /// The documents with ops the server has not acknowledged, as the
    /// offline store keeps them (each op as its wire message).
    pub fn pending_docs(&self) -> Vec<PendingDoc> {
        self.kept(|doc| doc.has_write_pending(), true)
    }

    /// The documents held without local writes (loaded, with a version):
    /// their latest copies, for a page opened offline.
    pub fn held_docs(&self) -> Vec<PendingDoc> {
        self.kept(
            |doc| !doc.has_write_pending() && doc.version.is_some(),
            false,
        )
    }

    /// The documents `which` picks, as kept, with their ops if `ops`, in
    /// collection and id order.
    fn kept(&self, which: impl Fn(&DocState) -> bool, ops: bool) -> Vec<PendingDoc> {
        let mut docs: Vec<PendingDoc> = (self.0.iter())
            .filter(|(_, doc)| which(doc))
            .map(|((c, d), doc)| PendingDoc {
                c: c.clone(),
                d: d.clone(),
                v: doc.version,
                doc_type: doc.doc_type.clone(),
                data: doc.data().cloned(),
                ops: if ops {
                    op_messages(c, d, doc)
                } else {
                    Vec::new()
                },
            })
            .collect();
        docs.sort_by(|a, b| (&a.c, &a.d).cmp(&(&b.c, &b.d)));
        docs
    }

    /// Takes back what an offline store kept of a document, ops and all, to
    /// be subscribed from its version and its ops sent (a connection made
    /// for that, before it connects).
    pub fn restore(&mut self, pending: PendingDoc) -> Result<(), ClientError> {
        let mut ops = VecDeque::new();
        for text in &pending.ops {
            let Ok(ClientMessage::Op(op)) = ClientMessage::parse(text) else {
                return Err(ClientError::InvalidOp(format!(
                    "a stored op of {}.{} is not an op message",
                    pending.c, pending.d
                )));
            };
            ops.push_back(PendingOp {
                kind: op.kind,
                src: op.src,
                seq: op.seq,
                waiters: Vec::new(),
            });
        }
        let doc = self.entry(&pending.c, &pending.d);
        doc.version = pending.v;
        doc.doc_type = pending.doc_type;
        doc.set_data(pending.data);
        doc.pending = ops;
        doc.want_subscribe = pending.v.is_some();
        Ok(())
    }

    /// Takes a newer copy of a document this connection shows (from a
    /// closed page's store); a copy no newer, or of a document with local
    /// writes or not shown here, changes nothing.
    pub fn take_newer(&mut self, held: PendingDoc, events: &mut Vec<ClientEvent>) {
        let Some(doc) = self.get_mut(&held.c, &held.d) else {
            return;
        };
        let newer = match (doc.version, held.v) {
            (Some(mine), Some(theirs)) => theirs > mine,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if !newer || doc.has_write_pending() {
            return;
        }
        let previous = doc.take_data();
        doc.version = held.v;
        doc.doc_type = held.doc_type;
        doc.set_data(held.data);
        events.push(ClientEvent::Loaded {
            collection: held.c,
            id: held.d,
            previous,
        });
    }

    /// Whether `c.d` has local writes the server has not acknowledged.
    pub fn has_writes(&self, c: &str, d: &str) -> bool {
        self.get(c, d).is_some_and(DocState::has_write_pending)
    }

    /// Takes a closed page's kept work into a document this connection
    /// already shows (from a page's bundle): the document goes back to the
    /// kept version with the kept ops applied, and is subscribed from
    /// there, so what the server has since arrives transformed as usual.
    pub fn adopt(
        &mut self,
        pending: PendingDoc,
        events: &mut Vec<ClientEvent>,
    ) -> Result<(), ClientError> {
        let (c, d) = (pending.c.clone(), pending.d.clone());
        let previous = self.get(&c, &d).and_then(|doc| doc.data().cloned());
        self.restore(pending)?;
        events.push(ClientEvent::Loaded {
            collection: c,
            id: d,
            previous,
        });
        Ok(())
    }
}

/// A document's unacknowledged ops, oldest first, each as its wire message
/// (with its `src`/`seq` if it was sent).
fn op_messages(c: &str, d: &str, doc: &DocState) -> Vec<String> {
    (doc.inflight.iter().chain(doc.pending.iter()))
        .map(|op| {
            let message = ClientMessage::Op(OpRequest {
                c: c.to_owned(),
                d: d.to_owned(),
                v: None,
                src: op.src.clone(),
                seq: op.seq,
                kind: op.kind.clone(),
                x: None,
            });
            serde_json::to_string(&message).unwrap_or_default()
        })
        .collect()
}
