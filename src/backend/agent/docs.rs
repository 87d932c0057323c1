//! Documents: fetches and subscribes (from a version or not), and what
//! passes the `read_snapshots` and `op` hooks on its way to the client.
//!
//! This module owns the connection's document subscriptions and the reading of
//! one document; whether it may be read is the read policy's (`access`, through
//! `may_read`), and it writes nothing: ops are committed by the submit pipeline
//! (`submit`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::backend::StoredSnapshot;
use crate::backend::access::{self};
use crate::backend::middleware::{OpContext, ReadSnapshotsContext, SnapshotKind};
use crate::backend::pubsub::{self};
use crate::protocol::{DocOp, DocRequest, ErrorCode, ErrorObject, ServerMessage};

use super::Agent;

/// What reading one document sends: its snapshot, or the ops since the
/// client's version, all passed by middleware.
pub(super) struct DocRead {
    pub(super) data: Option<crate::protocol::Snapshot>,
    pub(super) ops: Vec<Arc<DocOp>>,
    /// The version the client has next once it has these.
    pub(super) next_v: u64,
}

impl Agent {
    /// Listens to a document's channel unless the client is subscribed to
    /// the document already; whether it started listening.
    pub(super) async fn listen_doc(&mut self, c: &str, d: &str) -> Result<bool, ErrorObject> {
        if self.is_subscribed(c, d) {
            return Ok(false);
        }
        self.retain(&pubsub::doc_channel(c, d)).await?;
        Ok(true)
    }

    /// Undoes a [`listen_doc`](Self::listen_doc) that started listening,
    /// for a subscribe that failed.
    pub(super) fn unlisten_doc(&mut self, c: &str, d: &str) {
        self.channels.release(&pubsub::doc_channel(c, d));
    }

    /// Records a subscription whose channel is listened to.
    pub(super) fn subscribed(&mut self, c: &str, d: &str, next_v: u64) {
        let before = self
            .docs
            .entry(c.to_owned())
            .or_default()
            .insert(d.to_owned(), next_v);
        if before.is_none() {
            self.shared.telemetry.subscriptions.increment(1);
        }
    }

    pub(super) fn unsubscribe_doc(&mut self, c: &str, d: &str) {
        let Some(docs) = self.docs.get_mut(c) else {
            return;
        };
        if docs.remove(d).is_some() {
            self.shared.telemetry.subscriptions.decrement(1);
            if docs.is_empty() {
                self.docs.remove(c);
            }
            self.unlisten_doc(c, d);
        }
    }

    pub(super) fn is_subscribed(&self, c: &str, d: &str) -> bool {
        self.docs.get(c).is_some_and(|docs| docs.contains_key(d))
    }

    /// Refuses subscribing to `more` documents more than allowed.
    pub(super) fn check_subscriptions(&self, more: usize) -> Result<(), ErrorObject> {
        let max = self.shared.options.limits.max_subscriptions;
        let now: usize = self.docs.values().map(HashMap::len).sum();
        if more > 0 && now + more > max {
            return Err(ErrorObject::new(
                ErrorCode::TooManySubscriptions,
                format!(
                    "A connection may subscribe to {max} documents at most; unsubscribe some first"
                ),
            ));
        }
        Ok(())
    }

    /// Passes an op about to be sent to the client through the `op`
    /// middleware: the op to send, or why it may not be sent.
    pub(super) async fn sanitize_op(
        &self,
        c: &str,
        d: &str,
        mut op: Arc<DocOp>,
    ) -> Result<Arc<DocOp>, ErrorObject> {
        for m in &self.shared.middleware {
            let mut ctx = OpContext {
                agent: &self.info,
                collection: c,
                id: d,
                op: &mut op,
            };
            m.op(&mut ctx).await?;
        }
        Ok(op)
    }

    /// [`sanitize_op`](Self::sanitize_op) for ops a request sends; one
    /// rejection fails the request.
    pub(super) async fn sanitize_ops(
        &self,
        c: &str,
        d: &str,
        ops: Vec<Arc<DocOp>>,
    ) -> Result<Vec<Arc<DocOp>>, ErrorObject> {
        if self.shared.middleware.is_empty() {
            return Ok(ops);
        }
        let mut passed = Vec::with_capacity(ops.len());
        for op in ops {
            passed.push(self.sanitize_op(c, d, op).await?);
        }
        Ok(passed)
    }

    /// Sends an op from a subscription, unless middleware rejects it.
    pub(super) async fn forward_op(&self, op: Arc<DocOp>) {
        if self.shared.middleware.is_empty() {
            return self.send(ServerMessage::Op(op));
        }
        let committed = op.clone();
        match self.sanitize_op(&committed.c, &committed.d, op).await {
            Ok(op) => self.send(ServerMessage::Op(op)),
            Err(error) => tracing::debug!(
                collection = %committed.c,
                id = %committed.d,
                "op not sent: {error}"
            ),
        }
    }

    /// Passes snapshots through the `read_snapshots` middleware; the
    /// rejections by index.
    pub(super) async fn read_snapshots(
        &self,
        collection: &str,
        snapshots: &mut [StoredSnapshot],
        kind: SnapshotKind,
    ) -> Result<Vec<(usize, ErrorObject)>, ErrorObject> {
        let mut rejected = Vec::new();
        for m in &self.shared.middleware {
            let mut ctx = ReadSnapshotsContext {
                agent: &self.info,
                collection,
                snapshots,
                kind,
                rejected: Vec::new(),
            };
            m.read_snapshots(&mut ctx).await?;
            rejected.append(&mut ctx.rejected);
        }
        Ok(rejected)
    }

    /// One snapshot through `read_snapshots`; a rejection is the error.
    pub(super) async fn read_snapshot(
        &self,
        collection: &str,
        mut snapshot: StoredSnapshot,
        kind: SnapshotKind,
    ) -> Result<StoredSnapshot, ErrorObject> {
        let rejected = self
            .read_snapshots(collection, std::slice::from_mut(&mut snapshot), kind)
            .await?;
        match rejected.into_iter().next() {
            Some((_, error)) => Err(error),
            None => Ok(snapshot),
        }
    }

    /// Whether this connection may read `c.d` (the read policy, asked
    /// before anything stored is looked at).
    pub(super) async fn may_read(&self, c: &str, d: &str) -> Result<(), ErrorObject> {
        access::doc(&self.shared, &self.info, c, d).await
    }

    /// A fetch: the snapshot, or with a version the ops since.
    pub(super) async fn fetch(
        &self,
        r: &DocRequest,
    ) -> Result<Option<crate::protocol::Snapshot>, ErrorObject> {
        self.may_read(&r.c, &r.d).await?;
        let read = self.read_doc(&r.c, &r.d, r.v).await?;
        self.send_ops(read.ops);
        Ok(read.data)
    }

    /// Reads a document for a fetch or subscribe; nothing is sent yet.
    pub(super) async fn read_doc(
        &self,
        c: &str,
        d: &str,
        v: Option<u64>,
    ) -> Result<DocRead, ErrorObject> {
        match v {
            None => {
                let snapshot = self.load(c, d).await?;
                let snapshot = self
                    .read_snapshot(c, snapshot, SnapshotKind::Current)
                    .await?;
                Ok(DocRead {
                    next_v: snapshot.v,
                    data: Some(snapshot.into_wire()),
                    ops: Vec::new(),
                })
            }
            Some(v) => {
                let ops = self.ops_since(c, d, v).await?;
                let next_v = ops.last().map_or(v, |op| op.v.saturating_add(1));
                Ok(DocRead {
                    data: None,
                    ops: self.sanitize_ops(c, d, ops).await?,
                    next_v,
                })
            }
        }
    }

    pub(super) async fn load(&self, c: &str, d: &str) -> Result<StoredSnapshot, ErrorObject> {
        self.shared
            .db
            .get_snapshot(c, d)
            .await
            .map_err(|e| e.to_client("fetch"))
    }

    pub(super) async fn ops_since(
        &self,
        c: &str,
        d: &str,
        v: u64,
    ) -> Result<Vec<Arc<DocOp>>, ErrorObject> {
        self.shared
            .db
            .get_ops(c, d, v, None)
            .await
            .map_err(|e| e.to_client("fetch ops"))
    }

    /// A subscribe: listen first, then read, so no op is missed. A read
    /// that fails leaves the subscriptions as they were.
    pub(super) async fn subscribe(
        &mut self,
        r: &DocRequest,
    ) -> Result<Option<crate::protocol::Snapshot>, ErrorObject> {
        self.may_read(&r.c, &r.d).await?;
        self.check_subscriptions(usize::from(!self.is_subscribed(&r.c, &r.d)))?;
        let started = self.listen_doc(&r.c, &r.d).await?;
        match self.read_doc(&r.c, &r.d, r.v).await {
            Ok(read) => {
                self.subscribed(&r.c, &r.d, read.next_v);
                self.send_ops(read.ops);
                Ok(read.data)
            }
            Err(error) => {
                if started {
                    self.unlisten_doc(&r.c, &r.d);
                }
                Err(error)
            }
        }
    }
}
