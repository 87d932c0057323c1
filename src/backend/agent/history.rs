//! Snapshots of the past: a document at a version or a time, rebuilt from
//! the nearest milestone snapshot and the ops since; and the list of its
//! versions.
//!
//! This module owns rebuilding past snapshots only; applying an op is the
//! submit pipeline's (`submit::apply_op`), taking milestones is too, and
//! nothing rebuilt is stored or cached.

use std::sync::Arc;

use crate::backend::StoredSnapshot;
use crate::backend::middleware::SnapshotKind;
use crate::backend::milestones::mtime;
use crate::backend::submit::{self, internal};
use crate::protocol::{DocOp, ErrorCode, ErrorObject, MAX_HISTORY_VERSIONS, VersionInfo};

use super::Agent;

/// Where in a document's history to take a snapshot.
pub(super) enum Point {
    Version(Option<u64>),
    Time(Option<f64>),
}

/// Rebuilds a document by applying `ops` to `start` (a milestone, or the
/// document before its first op).
pub(super) fn replay(
    mut snapshot: StoredSnapshot,
    ops: &[Arc<DocOp>],
) -> Result<StoredSnapshot, ErrorObject> {
    for op in ops {
        snapshot.v = op.v;
        submit::apply_op(&mut snapshot, op).map_err(|e| {
            internal(
                "rebuilding a snapshot",
                &format!("op v{} of {}: {e}", op.v, snapshot.id),
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

    /// The milestone to rebuild from: the one found, or the document before
    /// its first op. A failing milestone store only costs time.
    fn start_from(
        &self,
        c: &str,
        d: &str,
        found: Result<Option<StoredSnapshot>, crate::backend::DbError>,
    ) -> StoredSnapshot {
        match found {
            Ok(Some(milestone)) => milestone,
            Ok(None) => StoredSnapshot::never_created(d),
            Err(e) => {
                tracing::warn!(
                    collection = c,
                    id = d,
                    "reading milestones failed, replaying from version 0: {e}"
                );
                StoredSnapshot::never_created(d)
            }
        }
    }

    /// The ops of `c.d` with versions in `from..to`.
    async fn ops_between(
        &self,
        c: &str,
        d: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<DocOp>>, ErrorObject> {
        self.shared
            .db
            .get_ops(c, d, from, to)
            .await
            .map_err(|e| e.to_client("snapshot fetch"))
    }

    /// The document at version `v` (below the current one).
    async fn rebuild_at_version(
        &self,
        c: &str,
        d: &str,
        v: u64,
    ) -> Result<StoredSnapshot, ErrorObject> {
        let found = self.shared.milestones.at_or_before_version(c, d, v).await;
        let start = self.start_from(c, d, found);
        self.check_replay(v - start.v)?;
        let ops = self.ops_between(c, d, start.v, Some(v)).await?;
        replay(start, &ops)
    }

    /// The document as it was at time `ts` (before the current one's).
    async fn rebuild_at_time(
        &self,
        c: &str,
        d: &str,
        ts: f64,
        current_v: u64,
    ) -> Result<StoredSnapshot, ErrorObject> {
        let milestones = &self.shared.milestones;
        let start = self.start_from(c, d, milestones.at_or_before_time(c, d, ts).await);
        // No op after the first milestone taken after `ts` can count.
        let end = match milestones.after_time(c, d, ts).await {
            Ok(Some(after)) if after.v > start.v => after.v,
            _ => current_v,
        };
        self.check_replay(end - start.v)?;
        let ops = self.ops_between(c, d, start.v, Some(end)).await?;
        let until = ops
            .iter()
            .position(|op| op.m.ts.is_some_and(|t| t > ts))
            .unwrap_or(ops.len());
        replay(start, &ops[..until])
    }

    /// A document as it was at a version or a time.
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
            Point::Version(Some(v)) => (
                self.rebuild_at_version(c, d, v).await?,
                SnapshotKind::ByVersion,
            ),
            Point::Time(Some(ts)) => {
                if mtime(&current).is_some_and(|mtime| mtime <= ts) {
                    (current, SnapshotKind::ByTimestamp)
                } else {
                    let v = current.v;
                    (
                        self.rebuild_at_time(c, d, ts, v).await?,
                        SnapshotKind::ByTimestamp,
                    )
                }
            }
        };
        let mut snapshot = self.read_snapshot(c, snapshot, kind).await?;
        snapshot.m.clear();
        Ok(snapshot.into_wire())
    }

    /// The versions of `c.d` from `from` (at least 1) up to `to`
    /// (exclusive), at most [`MAX_HISTORY_VERSIONS`].
    pub(super) async fn versions(
        &self,
        c: &str,
        d: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<VersionInfo>, ErrorObject> {
        self.may_read(c, d).await?;
        let first_op = from.max(1) - 1;
        let last_op = first_op + MAX_HISTORY_VERSIONS as u64;
        let end = to.map_or(last_op, |to| to.saturating_sub(1).min(last_op));
        if end <= first_op {
            return Ok(Vec::new());
        }
        let ops = self.ops_between(c, d, first_op, Some(end)).await?;
        Ok(ops.iter().map(|op| VersionInfo::of(op)).collect())
    }
}
