//! Milestone snapshots: a document's snapshot kept every N versions, so a
//! snapshot of the past costs the ops since the nearest milestone instead
//! of its whole history (ShareDB's `MilestoneDB`).
//!
//! The submit pipeline saves a milestone when a commit lands on a multiple
//! of [`MilestoneDb::interval`], without waiting for it; the history
//! requests (`nf`, `nt`, peloton's `hv`) start from the nearest one. A
//! milestone never changes once taken (a version of a document is
//! immutable), so losing one only costs time: the history is rebuilt from
//! further back.
//!
//! [`MemoryMilestoneDb`] (the default, every 1,000 versions) keeps them in
//! the server's memory; `MongoMilestoneDb` (feature `mongodb`) in
//! sharedb-milestone-mongo's layout, where Node ShareDB reads them.
//! This module owns where milestones live; rebuilding a snapshot from one
//! is the agent's history module's.
//!
//! ```
//! use peloton::backend::Backend;
//! use peloton::backend::milestones::MemoryMilestoneDb;
//!
//! // A milestone every 100 versions, kept in memory.
//! let backend = Backend::builder()
//!     .milestones(MemoryMilestoneDb::new().with_interval(100))
//!     .build();
//! // No milestones: past snapshots replay ops from version 0.
//! let plain = Backend::builder().without_milestones().build();
//! # drop((backend, plain));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use super::StoredSnapshot;
use super::db::DbError;

/// The interval of the default milestone stores: sharedb-milestone-mongo's.
pub const DEFAULT_INTERVAL: u64 = 1000;

/// Where milestone snapshots are kept.
#[async_trait]
pub trait MilestoneDb: Send + Sync + 'static {
    /// Every how many versions a milestone is saved (`None`: never, the
    /// store is only read).
    fn interval(&self) -> Option<u64>;

    /// Stores `snapshot` (of document `snapshot.id`, at `snapshot.v`),
    /// replacing one stored at that version.
    async fn save(&self, collection: &str, snapshot: &StoredSnapshot) -> Result<(), DbError>;

    /// The milestone with the highest version at or before `version`.
    async fn at_or_before_version(
        &self,
        collection: &str,
        id: &str,
        version: u64,
    ) -> Result<Option<StoredSnapshot>, DbError>;

    /// The latest milestone modified at or before `ts` (ms since the epoch).
    async fn at_or_before_time(
        &self,
        collection: &str,
        id: &str,
        ts: f64,
    ) -> Result<Option<StoredSnapshot>, DbError>;

    /// The earliest milestone modified after `ts` (ms since the epoch):
    /// no op after it can be from `ts` or before.
    async fn after_time(
        &self,
        collection: &str,
        id: &str,
        ts: f64,
    ) -> Result<Option<StoredSnapshot>, DbError>;
}

/// A shared store serves as well (a test or an admin tool keeps a handle).
#[async_trait]
impl<T: MilestoneDb + ?Sized> MilestoneDb for std::sync::Arc<T> {
    fn interval(&self) -> Option<u64> {
        (**self).interval()
    }

    async fn save(&self, collection: &str, snapshot: &StoredSnapshot) -> Result<(), DbError> {
        (**self).save(collection, snapshot).await
    }

    async fn at_or_before_version(
        &self,
        collection: &str,
        id: &str,
        version: u64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        (**self).at_or_before_version(collection, id, version).await
    }

    async fn at_or_before_time(
        &self,
        collection: &str,
        id: &str,
        ts: f64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        (**self).at_or_before_time(collection, id, ts).await
    }

    async fn after_time(
        &self,
        collection: &str,
        id: &str,
        ts: f64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        (**self).after_time(collection, id, ts).await
    }
}

/// The time a snapshot was last modified (`m.mtime`), if it says.
pub fn mtime(snapshot: &StoredSnapshot) -> Option<f64> {
    snapshot.m.get("mtime").and_then(Value::as_f64)
}

/// Whether a commit that reached `version` takes a milestone.
pub(crate) fn is_due(interval: Option<u64>, version: u64) -> bool {
    interval.is_some_and(|n| n > 0 && version > 0 && version.is_multiple_of(n))
}

/// Milestones in the server's memory: lost on restart (history is then
/// rebuilt from older ones, or from version 0). Each is a whole snapshot,
/// so a document of S bytes and V versions keeps about S·V/interval bytes.
#[derive(Debug)]
pub struct MemoryMilestoneDb {
    interval: Option<u64>,
    docs: Mutex<HashMap<(String, String), BTreeMap<u64, StoredSnapshot>>>,
}

impl Default for MemoryMilestoneDb {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryMilestoneDb {
    /// A store that takes a milestone every [`DEFAULT_INTERVAL`] versions.
    pub fn new() -> Self {
        Self {
            interval: Some(DEFAULT_INTERVAL),
            docs: Mutex::default(),
        }
    }

    /// The same, every `interval` versions (0: never).
    pub fn with_interval(mut self, interval: u64) -> Self {
        self.interval = (interval > 0).then_some(interval);
        self
    }

    fn with_doc<R>(
        &self,
        collection: &str,
        id: &str,
        f: impl FnOnce(&BTreeMap<u64, StoredSnapshot>) -> Option<R>,
    ) -> Option<R> {
        let docs = self.docs.lock().unwrap_or_else(|e| e.into_inner());
        docs.get(&(collection.to_owned(), id.to_owned()))
            .and_then(f)
    }
}

#[async_trait]
impl MilestoneDb for MemoryMilestoneDb {
    fn interval(&self) -> Option<u64> {
        self.interval
    }

    async fn save(&self, collection: &str, snapshot: &StoredSnapshot) -> Result<(), DbError> {
        let mut docs = self.docs.lock().unwrap_or_else(|e| e.into_inner());
        docs.entry((collection.to_owned(), snapshot.id.clone()))
            .or_default()
            .insert(snapshot.v, snapshot.clone());
        Ok(())
    }

    async fn at_or_before_version(
        &self,
        collection: &str,
        id: &str,
        version: u64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        Ok(self.with_doc(collection, id, |m| {
            m.range(..=version).next_back().map(|(_, s)| s.clone())
        }))
    }

    async fn at_or_before_time(
        &self,
        collection: &str,
        id: &str,
        ts: f64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        Ok(self.with_doc(collection, id, |m| {
            m.values()
                .rev()
                .find(|s| mtime(s).is_some_and(|t| t <= ts))
                .cloned()
        }))
    }

    async fn after_time(
        &self,
        collection: &str,
        id: &str,
        ts: f64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        Ok(self.with_doc(collection, id, |m| {
            m.values()
                .find(|s| mtime(s).is_some_and(|t| t > ts))
                .cloned()
        }))
    }
}

/// No milestones: every snapshot of the past is rebuilt from version 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMilestones;

#[async_trait]
impl MilestoneDb for NoMilestones {
    fn interval(&self) -> Option<u64> {
        None
    }

    async fn save(&self, _: &str, _: &StoredSnapshot) -> Result<(), DbError> {
        Ok(())
    }

    async fn at_or_before_version(
        &self,
        _: &str,
        _: &str,
        _: u64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        Ok(None)
    }

    async fn at_or_before_time(
        &self,
        _: &str,
        _: &str,
        _: f64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        Ok(None)
    }

    async fn after_time(
        &self,
        _: &str,
        _: &str,
        _: f64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Snapshot;
    use serde_json::json;

    fn at(v: u64, mtime: f64) -> StoredSnapshot {
        let mut s = StoredSnapshot::new("d", Snapshot::nonexistent(v));
        s.m.insert("mtime".into(), json!(mtime));
        s
    }

    #[tokio::test]
    async fn the_nearest_milestone_is_found_by_version_and_by_time() {
        let db = MemoryMilestoneDb::new().with_interval(10);
        for (v, t) in [(10, 100.0), (20, 200.0), (30, 300.0)] {
            db.save("c", &at(v, t)).await.unwrap();
        }
        let v = |s: Option<StoredSnapshot>| s.map(|s| s.v);
        assert_eq!(v(db.at_or_before_version("c", "d", 9).await.unwrap()), None);
        assert_eq!(
            v(db.at_or_before_version("c", "d", 25).await.unwrap()),
            Some(20)
        );
        assert_eq!(
            v(db.at_or_before_version("c", "d", 30).await.unwrap()),
            Some(30)
        );
        assert_eq!(
            v(db.at_or_before_time("c", "d", 250.0).await.unwrap()),
            Some(20)
        );
        assert_eq!(v(db.after_time("c", "d", 250.0).await.unwrap()), Some(30));
        assert_eq!(v(db.after_time("c", "d", 200.0).await.unwrap()), Some(30));
        assert_eq!(v(db.after_time("c", "d", 300.0).await.unwrap()), None);
        assert_eq!(
            v(db.at_or_before_version("c", "other", 30).await.unwrap()),
            None
        );
    }

    #[test]
    fn milestones_fall_on_multiples_of_the_interval() {
        assert!(is_due(Some(10), 20));
        assert!(!is_due(Some(10), 21));
        assert!(!is_due(Some(10), 0));
        assert!(!is_due(None, 1000));
    }
}
