//! Snapshots of the past: a document at a version or a time, rebuilt from
//! its ops.
//!
//! This module owns rebuilding past snapshots only; applying an op is the
//! submit pipeline's (`submit::apply_op`), and nothing rebuilt is stored or
//! cached.

use std::sync::Arc;

use serde_json::Value;

use crate::backend::StoredSnapshot;
use crate::backend::middleware::SnapshotKind;
use crate::backend::submit::{self, internal};
use crate::protocol::{DocOp, ErrorCode, ErrorObject};

use super::Agent;

/// Where in a document's history to take a snapshot.
pub(super) enum Point {
    Version(Option<u64>),
    Time(Option<f64>),
}

/// Rebuilds a document by applying its ops from the start.
pub(super) fn replay(id: &str, ops: &[Arc<DocOp>]) -> Result<StoredSnapshot, ErrorObject> {
    let mut snapshot = StoredSnapshot::never_created(id);
    for op in ops {
        snapshot.v = op.v;
        submit::apply_op(&mut snapshot, op).map_err(|e| {
            internal(
                "rebuilding a snapshot",
                &format!("op v{} of {id}: {e}", op.v),
            )
        })?;
    }
    Ok(snapshot)
}

impl Agent {
    /// Refuses rebuilding a snapshot from more ops than allowed.
    pub(super) fn check_replay(&self, ops: u64) -> Result<(), ErrorObject> {
        let max = self.shared.options.limits.max_replay_ops;
        if ops > max as u64 {
            return Err(ErrorObject::new(
                ErrorCode::HistoryTooLong,
                format!(
                    "Rebuilding this snapshot would replay {ops} ops; this server replays {max} at most"
                ),
            ));
        }
        Ok(())
    }

    /// A document as it was at a version or a time, rebuilt from its ops.
    pub(super) async fn snapshot_at(
        &self,
        c: &str,
        d: &str,
        point: Point,
    ) -> Result<crate::protocol::Snapshot, ErrorObject> {
        self.may_read(c, d).await?;
        let current = self.load(c, d).await?;
        let (snapshot, kind) = match point {
            Point::Version(None) | Point::Time(None) => (current, SnapshotKind::Current),
            Point::Version(Some(v)) if v >= current.v => {
                if v > current.v {
                    return Err(ErrorObject::new(
                        ErrorCode::OpVersionNewerThanCurrentSnapshot,
                        "Requested version exceeds latest snapshot version",
                    ));
                }
                (current, SnapshotKind::ByVersion)
            }
            Point::Version(Some(v)) => {
                self.check_replay(v)?;
                let ops = self
                    .shared
                    .db
                    .get_ops(c, d, 0, Some(v))
                    .await
                    .map_err(|e| e.to_client("snapshot fetch"))?;
                (replay(d, &ops)?, SnapshotKind::ByVersion)
            }
            Point::Time(Some(ts)) => {
                let mtime = current.m.get("mtime").and_then(Value::as_f64);
                if mtime.is_some_and(|mtime| mtime <= ts) {
                    (current, SnapshotKind::ByTimestamp)
                } else {
                    self.check_replay(current.v)?;
                    let ops = self.ops_since(c, d, 0).await?;
                    let until = ops
                        .iter()
                        .position(|op| op.m.ts.is_some_and(|t| t > ts))
                        .unwrap_or(ops.len());
                    (replay(d, &ops[..until])?, SnapshotKind::ByTimestamp)
                }
            }
        };
        let mut snapshot = self.read_snapshot(c, snapshot, kind).await?;
        snapshot.m.clear();
        Ok(snapshot.into_wire())
    }
}
