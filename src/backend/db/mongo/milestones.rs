//! `MongoMilestoneDb`: milestone snapshots in MongoDB, in
//! sharedb-milestone-mongo's layout, so Node ShareDB with that package
//! reads peloton's milestones and peloton reads its.
//!
//! Collection `m_<c>` holds one document per milestone: `d` (the doc id),
//! `v`, `type`, `data` (the data as it is, not inlined) and `m` (`ctime`,
//! `mtime`), indexed by `{d: 1, v: 1}` (unique) and `{"m.mtime": 1}`.
//! Saving upserts by `{d, v}`. This module owns that layout only.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use serde_json::{Map, Value};

use super::layout::{from_bson, int, read_u64, to_bson};
use super::{MongoDb, backend_error};
use crate::backend::StoredSnapshot;
use crate::backend::db::DbError;
use crate::backend::milestones::{DEFAULT_INTERVAL, MilestoneDb};
use crate::protocol::{DocData, Snapshot};

/// Milestone snapshots in MongoDB (see the module docs).
///
/// ```no_run
/// use peloton::backend::Backend;
/// use peloton::backend::db::MongoDb;
///
/// # async fn run() -> Result<(), peloton::backend::DbError> {
/// let db = MongoDb::connect("mongodb://127.0.0.1:27017/myapp").await?;
/// let backend = Backend::builder()
///     .milestones(db.milestones().with_interval(500))
///     .db(db)
///     .build();
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct MongoMilestoneDb {
    db: Database,
    interval: Option<u64>,
    indexed: Arc<Mutex<HashSet<String>>>,
}

impl MongoDb {
    /// Milestone snapshots in this database, every 1,000 versions (as
    /// sharedb-milestone-mongo's default).
    pub fn milestones(&self) -> MongoMilestoneDb {
        MongoMilestoneDb::new(self.database().clone())
    }
}

impl MongoMilestoneDb {
    /// Milestones in `db`, every [`DEFAULT_INTERVAL`] versions.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            interval: Some(DEFAULT_INTERVAL),
            indexed: Arc::default(),
        }
    }

    /// The same, every `interval` versions (0: saves none, only reads).
    pub fn with_interval(mut self, interval: u64) -> Self {
        self.interval = (interval > 0).then_some(interval);
        self
    }

    /// The milestones of `collection`, with their indexes made on first
    /// use (a failure is logged and tried again next time).
    async fn collection(&self, collection: &str) -> Result<Collection<Document>, DbError> {
        if collection.is_empty() {
            return Err(DbError::Invalid("a collection name cannot be empty".into()));
        }
        let name = format!("m_{collection}");
        let milestones = self.db.collection::<Document>(&name);
        let indexed = self
            .indexed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&name);
        if !indexed {
            match create_indexes(&milestones).await {
                Ok(()) => {
                    (self.indexed.lock().unwrap_or_else(|e| e.into_inner())).insert(name);
                }
                Err(e) => tracing::warn!("creating the indexes of {name} failed: {e}"),
            }
        }
        Ok(milestones)
    }

    async fn find(
        &self,
        collection: &str,
        filter: Document,
        sort: Document,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        let found = self
            .collection(collection)
            .await?
            .find_one(filter)
            .sort(sort)
            .await
            .map_err(backend_error("milestone find"))?;
        Ok(found.map(to_snapshot))
    }
}

/// sharedb-milestone-mongo's indexes, with its very options: a server
/// may refuse an index that differs only in them.
async fn create_indexes(milestones: &Collection<Document>) -> Result<(), mongodb::error::Error> {
    #[allow(deprecated)]
    let unique = IndexOptions::builder()
        .background(true)
        .unique(true)
        .build();
    #[allow(deprecated)]
    let background = IndexOptions::builder().background(true).build();
    let by_version = IndexModel::builder()
        .keys(doc! {"d": 1, "v": 1})
        .options(unique)
        .build();
    let by_time = IndexModel::builder()
        .keys(doc! {"m.mtime": 1})
        .options(background)
        .build();
    milestones.create_indexes([by_version, by_time]).await?;
    Ok(())
}

/// A snapshot as sharedb-milestone-mongo stores it.
fn to_document(snapshot: &StoredSnapshot) -> Document {
    let mut m = Document::new();
    for key in ["ctime", "mtime"] {
        if let Some(value) = snapshot.m.get(key) {
            m.insert(key, to_bson(value));
        }
    }
    doc! {
        "d": &snapshot.id,
        "v": int(snapshot.v),
        "type": snapshot.doc_type.as_deref().map_or(Bson::Null, |t| Bson::String(t.to_owned())),
        "data": snapshot.value().map_or(Bson::Null, to_bson),
        "m": m,
    }
}

fn to_snapshot(document: Document) -> StoredSnapshot {
    let id = match document.get("d") {
        Some(Bson::String(id)) => id.clone(),
        other => other
            .map(from_bson)
            .map(|v| v.to_string())
            .unwrap_or_default(),
    };
    let doc_type = match document.get("type") {
        Some(Bson::String(t)) => Some(t.clone()),
        _ => None,
    };
    let data = doc_type
        .as_ref()
        .and(document.get("data"))
        .map(|data| DocData::new(from_bson(data)));
    let mut snapshot = StoredSnapshot::new(
        id,
        Snapshot {
            v: read_u64(document.get("v")),
            doc_type,
            data,
        },
    );
    if let Some(Bson::Document(m)) = document.get("m") {
        let m: Map<String, Value> = m.iter().map(|(k, v)| (k.clone(), from_bson(v))).collect();
        snapshot.m = m;
    }
    snapshot
}

#[async_trait]
impl MilestoneDb for MongoMilestoneDb {
    fn interval(&self) -> Option<u64> {
        self.interval
    }

    async fn save(&self, collection: &str, snapshot: &StoredSnapshot) -> Result<(), DbError> {
        self.collection(collection)
            .await?
            .update_one(
                doc! {"d": &snapshot.id, "v": int(snapshot.v)},
                doc! {"$set": to_document(snapshot)},
            )
            .upsert(true)
            .await
            .map_err(backend_error("milestone save"))?;
        Ok(())
    }

    async fn at_or_before_version(
        &self,
        collection: &str,
        id: &str,
        version: u64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        let filter = doc! {"d": id, "v": {"$lte": int(version)}};
        self.find(collection, filter, doc! {"v": -1}).await
    }

    async fn at_or_before_time(
        &self,
        collection: &str,
        id: &str,
        ts: f64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        let filter = doc! {"d": id, "m.mtime": {"$lte": ts}};
        self.find(collection, filter, doc! {"m.mtime": -1}).await
    }

    async fn after_time(
        &self,
        collection: &str,
        id: &str,
        ts: f64,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        let filter = doc! {"d": id, "m.mtime": {"$gt": ts}};
        self.find(collection, filter, doc! {"m.mtime": 1}).await
    }
}
