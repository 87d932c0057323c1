//! A document's ops: local ones applied at once and queued (one in
//! flight), acknowledgements, and the server's ops transformed past the
//! local ones; a rejected op is undone, and a conflict reloads the
//! document.
//!
//! This module owns what happens to a document's ops; it reloads through the
//! fetch in `docs`, sends through the `Link`, and leaves what an op means for
//! presence to the caller (the connection's state), told by what these methods
//! return.

use serde_json::Value;

use super::{DocState, Docs, PendingOp, RemoteOp, doc_name};
use crate::client::ack::{Ack, resolve};
use crate::client::link::Link;
use crate::client::{ClientError, ClientEvent};
use crate::ot::{Side, json0};
use crate::protocol::{
    ClientMessage, CreateData, DocOp, ErrorCode, ErrorObject, OpKind, OpRequest, is_json0,
};

impl Docs {
    /// Applies a local op to the document, or refuses it (changing
    /// nothing); [`Docs::queue`] sends it next.
    pub fn apply_local(&mut self, c: &str, d: &str, kind: &OpKind) -> Result<(), ClientError> {
        let doc = self.entry(c, d);
        match kind {
            OpKind::Create(create) => {
                if doc.doc_type.is_some() {
                    return Err(ClientError::DocAlreadyExists(doc_name(c, d)));
                }
                doc.set_data(Some(json0::create(create.data.clone())));
                doc.doc_type = Some(json0::URI.to_owned());
            }
            OpKind::Edit(op) => {
                let exists = doc.doc_type.is_some();
                let Some(data) = doc.data.as_mut().filter(|_| exists) else {
                    return Err(ClientError::DocDoesNotExist(doc_name(c, d)));
                };
                data.apply(op)
                    .map_err(|e| ClientError::InvalidOp(e.to_string()))?;
            }
            OpKind::Delete => {
                if doc.doc_type.is_none() {
                    return Err(ClientError::DocDoesNotExist(doc_name(c, d)));
                }
                doc.doc_type = None;
                doc.set_data(None);
            }
        }
        Ok(())
    }

    /// Queues an applied local op for the server; [`Docs::flush`] sends
    /// it (the connection waits a tick first, so the writes of one
    /// synchronous run compose into one op, as ShareDB's client does).
    pub fn queue(&mut self, c: &str, d: &str, kind: OpKind) -> Ack {
        let doc = self.entry(c, d);
        let (tx, ack) = Ack::new();
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
        } else {
            doc.pending.push_back(PendingOp {
                kind,
                src: None,
                seq: None,
                waiters: vec![tx],
            });
        }
        ack
    }

    /// Sends the next op if none is in flight.
    pub fn flush(&mut self, c: &str, d: &str, link: &mut Link) {
        if !link.can_send() {
            return;
        }
        let Some(doc) = self.get_mut(c, d) else {
            return;
        };
        if doc.inflight.is_some() {
            return;
        }
        let Some(mut op) = doc.pending.pop_front() else {
            return;
        };
        link.stamp(&mut op.src, &mut op.seq);
        let message = ClientMessage::Op(OpRequest {
            c: c.to_owned(),
            d: d.to_owned(),
            v: doc.version,
            src: op.src.clone(),
            seq: op.seq,
            kind: op.kind.clone(),
            x: None,
        });
        tracing::debug!(
            seq = op.seq,
            "sending an op on {c}.{d} at v{:?}",
            doc.version
        );
        doc.inflight = Some(op);
        link.send(message);
    }

    /// The server acknowledged an op at version `v`; whether it was the one
    /// in flight (then the document is at `v + 1`). `keep_recent`: keep the
    /// op for late presence.
    #[must_use]
    pub fn on_ack(
        &mut self,
        (c, d): (&str, &str),
        src: Option<&str>,
        seq: Option<u64>,
        v: u64,
        keep_recent: bool,
        link: &mut Link,
    ) -> bool {
        let Some(doc) = self.get_mut(c, d) else {
            return false;
        };
        let Some(inflight) = &doc.inflight else {
            return false;
        };
        if inflight.seq != seq || (src.is_some() && inflight.src.as_deref() != src) {
            return false;
        }
        let Some(op) = doc.inflight.take() else {
            return false;
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
        if keep_recent {
            doc.remember(v, &op.kind, op.src.clone());
        }
        tracing::debug!(seq, "op on {c}.{d} acknowledged at v{v}");
        resolve(op.waiters, Ok(()));
        if !in_sync {
            self.fetch(c, d, None, link);
        }
        self.flush(c, d, link);
        true
    }

    /// An op from the server: someone else's, or ours coming back while
    /// catching up (then it is our acknowledgement, which the caller
    /// handles as one). `keep_recent`: keep the op for late presence.
    pub fn on_op(
        &mut self,
        op: &DocOp,
        keep_recent: bool,
        link: &Link,
        events: &mut Vec<ClientEvent>,
    ) -> RemoteOp {
        let (c, d) = (op.c.as_str(), op.d.as_str());
        let Some(doc) = self.get_mut(c, d) else {
            return RemoteOp::Ignored;
        };
        if let Some(inflight) = &doc.inflight
            && op.src.is_some()
            && inflight.src == op.src
            && inflight.seq == op.seq
        {
            return RemoteOp::Acked;
        }
        let Some(version) = doc.version else {
            self.fetch(c, d, None, link);
            return RemoteOp::Ignored;
        };
        if op.v > version {
            // A gap: catch up from what the client has.
            self.fetch(c, d, None, link);
            return RemoteOp::Ignored;
        }
        if op.v < version {
            return RemoteOp::Ignored; // Seen already.
        }
        if keep_recent {
            doc.remember(version, &op.kind, op.src.clone());
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
            self.hard_rollback(c, d, error, link, events);
            return RemoteOp::RolledBack;
        }
        doc.version = Some(version + 1);
        if let Some(kind) = &server
            && let Err(error) = apply_remote(doc, c, d, kind.clone(), events)
        {
            self.hard_rollback(c, d, error, link, events);
            return RemoteOp::RolledBack;
        }
        RemoteOp::Applied(server)
    }

    /// The server rejected the in-flight op: undo it locally. Returns the
    /// op that undid it, if one applied (else the document is reloaded).
    pub fn on_op_error(
        &mut self,
        (c, d): (&str, &str),
        seq: Option<u64>,
        error: ErrorObject,
        link: &mut Link,
        events: &mut Vec<ClientEvent>,
    ) -> Option<OpKind> {
        let doc = self.get_mut(c, d)?;
        if doc.inflight.as_ref().map(|op| op.seq) != Some(seq) {
            tracing::warn!("error for an op that is not in flight: {error}");
            return None;
        }
        let op = doc.inflight.take()?;
        // Undo by applying the inverse (transformed past the pending ops)
        // when json0 can; otherwise reload the document.
        let inverse = match &op.kind {
            OpKind::Edit(edit) => json0::invert(edit).ok(),
            _ => None,
        };
        let Some(inverse) = inverse else {
            doc.inflight = Some(op);
            self.hard_rollback(c, d, ClientError::Server(error), link, events);
            return None;
        };
        let mut undo = Some(OpKind::Edit(inverse));
        for local in doc.pending.iter_mut() {
            if transform_x(&mut local.kind, &mut undo).is_err() {
                doc.inflight = Some(op);
                self.hard_rollback(c, d, ClientError::Server(error), link, events);
                return None;
            }
        }
        if let Some(undo) = &undo
            && let Err(e) = apply_remote(doc, c, d, undo.clone(), events)
        {
            doc.inflight = Some(op);
            self.hard_rollback(c, d, e, link, events);
            return None;
        }
        // A rejection by the server's policy is silent, as in ShareDB;
        // anything else is also told to the connection's listeners.
        let result = if error.code == ErrorCode::OpSubmitRejected {
            Ok(())
        } else {
            events.push(ClientEvent::Rejected {
                collection: c.to_owned(),
                id: d.to_owned(),
                error: ClientError::Server(error.clone()),
            });
            Err(ClientError::Server(error))
        };
        resolve(op.waiters, result);
        self.flush(c, d, link);
        undo
    }

    /// Drops every local op and reloads the document from the server.
    fn hard_rollback(
        &mut self,
        c: &str,
        d: &str,
        error: ClientError,
        link: &Link,
        events: &mut Vec<ClientEvent>,
    ) {
        tracing::warn!("reloading {c}.{d}: {error}");
        events.push(ClientEvent::Rejected {
            collection: c.to_owned(),
            id: d.to_owned(),
            error: error.clone(),
        });
        let doc = self.entry(c, d);
        let ops: Vec<PendingOp> = doc
            .inflight
            .take()
            .into_iter()
            .chain(doc.pending.drain(..))
            .collect();
        doc.reload_previous = Some(doc.take_data());
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
        self.fetch(c, d, None, link);
    }
}

/// Applies a remote (or, rolling back, an inverse) op, one component at a
/// time, with an event after each.
fn apply_remote(
    doc: &mut DocState,
    c: &str,
    d: &str,
    kind: OpKind,
    events: &mut Vec<ClientEvent>,
) -> Result<(), ClientError> {
    match kind {
        OpKind::Create(CreateData { doc_type, data }) => {
            if !is_json0(&doc_type) {
                return Err(ClientError::InvalidOp(format!("unknown type {doc_type}")));
            }
            let data = json0::create(data);
            doc.doc_type = Some(json0::URI.to_owned());
            doc.set_data(Some(data.clone()));
            events.push(ClientEvent::Created {
                collection: c.to_owned(),
                id: d.to_owned(),
                data,
            });
        }
        OpKind::Delete => {
            doc.doc_type = None;
            let previous = doc.take_data();
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
                data.apply(&json0::Op(vec![component.clone()]))
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
