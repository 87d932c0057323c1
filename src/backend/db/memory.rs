//! `MemoryDb`: the embedded database, in process memory.
//!
//! This module owns the in-memory storage only: it keeps what the submit
//! pipeline commits, checking versions and nothing else, and leaves matching,
//! sorting and paging to `query` (`ParsedQuery::run`). It remembers the
//! results of the last queries of each collection until the collection
//! changes: pages that many people load run the same query over the same
//! documents again and again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use indexmap::IndexMap;

use super::{Db, DbError, QueryResults};
use crate::backend::StoredSnapshot;
use crate::backend::query::ParsedQuery;
use crate::protocol::DocOp;

/// A [`Db`] that keeps everything in memory: the default, for development,
/// tests and single-process apps whose data may vanish on restart.
///
/// Documents keep their insertion order, which is the order of query
/// results without `$sort`. Queries run in peloton's matcher: one using an
/// operator it does not evaluate (see [`crate::backend::query`]) is refused
/// with [`QueryError::Unsupported`](crate::backend::query::QueryError::Unsupported).
///
/// A query that ran before on a collection that has not changed since is
/// answered from its remembered results (up to 32 queries per
/// collection), without matching or sorting again.
#[derive(Debug, Default)]
pub struct MemoryDb {
    collections: RwLock<HashMap<String, Arc<RwLock<Collection>>>>,
}

/// How many distinct queries' results a collection remembers; when one
/// more comes, it forgets them all (a page queries a few, over and over).
const QUERY_CACHE: usize = 32;

#[derive(Debug, Default)]
struct Collection {
    docs: IndexMap<String, Doc>,
    /// Results of queries since the last commit, by `cache_key`. Behind
    /// its own lock: queries fill it holding the collection's read lock; a
    /// commit, which holds the write lock, empties it. Shared, so that the
    /// lock is held for a lookup, not for a copy of the results.
    queries: Mutex<HashMap<String, Arc<QueryResults>>>,
}

impl Collection {
    /// `query`'s results: remembered, or worked out and remembered.
    fn query(&self, query: &ParsedQuery) -> QueryResults {
        let key = query.cache_key();
        let remembered = lock(&self.queries).get(&key).cloned();
        if let Some(results) = remembered {
            return QueryResults::clone(&results);
        }
        let outcome = query.run(live_docs(self));
        let results = QueryResults {
            snapshots: (outcome.ids.into_iter())
                .filter_map(|id| {
                    let wire = self.docs.get(&id)?.snapshot.to_wire();
                    Some(StoredSnapshot::new(id, wire))
                })
                .collect(),
            extra: outcome.extra,
        };
        let remembered = Arc::new(results.clone());
        let mut cache = lock(&self.queries);
        if cache.len() >= QUERY_CACHE {
            cache.clear();
        }
        cache.insert(key, remembered);
        results
    }
}

#[derive(Debug)]
struct Doc {
    snapshot: StoredSnapshot,
    ops: Vec<Arc<DocOp>>,
}

impl MemoryDb {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    fn collection(&self, name: &str) -> Option<Arc<RwLock<Collection>>> {
        read(&self.collections).get(name).cloned()
    }

    fn collection_or_create(&self, name: &str) -> Arc<RwLock<Collection>> {
        if let Some(c) = self.collection(name) {
            return c;
        }
        write(&self.collections)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }
}

// A poisoned lock means a thread panicked mid-update of plain data; the data
// is still consistent (every update is a single insert or push), so go on.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

fn lock<T>(lock: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl Db for MemoryDb {
    async fn commit(
        &self,
        collection: &str,
        id: &str,
        op: &Arc<DocOp>,
        snapshot: &mut StoredSnapshot,
    ) -> Result<bool, DbError> {
        let collection = self.collection_or_create(collection);
        let mut collection = write(&collection);
        let doc = collection.docs.entry(id.to_owned()).or_insert_with(|| Doc {
            snapshot: StoredSnapshot::never_created(id),
            ops: Vec::new(),
        });
        if doc.snapshot.v != op.v || snapshot.v != op.v + 1 {
            return Ok(false);
        }
        doc.snapshot = snapshot.clone();
        doc.ops.push(op.clone());
        // Every remembered result may have changed.
        collection
            .queries
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(true)
    }

    async fn get_snapshot(&self, collection: &str, id: &str) -> Result<StoredSnapshot, DbError> {
        Ok(self
            .collection(collection)
            .and_then(|c| read(&c).docs.get(id).map(|doc| doc.snapshot.clone()))
            .unwrap_or_else(|| StoredSnapshot::never_created(id)))
    }

    async fn get_snapshot_bulk(
        &self,
        collection: &str,
        ids: &[String],
    ) -> Result<HashMap<String, StoredSnapshot>, DbError> {
        let collection = self.collection(collection);
        let collection = collection.as_ref().map(|c| read(c));
        Ok(ids
            .iter()
            .map(|id| {
                let snapshot = collection
                    .as_ref()
                    .and_then(|c| c.docs.get(id))
                    .map(|doc| doc.snapshot.clone())
                    .unwrap_or_else(|| StoredSnapshot::never_created(id.as_str()));
                (id.clone(), snapshot)
            })
            .collect())
    }

    async fn get_ops(
        &self,
        collection: &str,
        id: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<DocOp>>, DbError> {
        let Some(collection) = self.collection(collection) else {
            return Ok(Vec::new());
        };
        let collection = read(&collection);
        let Some(doc) = collection.docs.get(id) else {
            return Ok(Vec::new());
        };
        let len = doc.ops.len();
        let to = to.map_or(len, |to| usize::try_from(to).unwrap_or(len).min(len));
        let from = usize::try_from(from).unwrap_or(len).min(to);
        Ok(doc.ops[from..to].to_vec())
    }

    async fn query(&self, collection: &str, query: &ParsedQuery) -> Result<QueryResults, DbError> {
        query.require_portable("MemoryDb")?;
        let Some(collection) = self.collection(collection) else {
            let extra = query.run(std::iter::empty()).extra;
            return Ok(QueryResults {
                snapshots: Vec::new(),
                extra,
            });
        };
        Ok(read(&collection).query(query))
    }

    async fn query_ids(
        &self,
        collection: &str,
        query: &ParsedQuery,
    ) -> Result<(Vec<String>, Option<serde_json::Value>), DbError> {
        query.require_portable("MemoryDb")?;
        let Some(collection) = self.collection(collection) else {
            return Ok((Vec::new(), query.run(std::iter::empty()).extra));
        };
        let outcome = query.run(live_docs(&read(&collection)));
        Ok((outcome.ids, outcome.extra))
    }
}

/// The documents that exist, with their data, in insertion order.
fn live_docs(collection: &Collection) -> impl Iterator<Item = (&str, &serde_json::Value)> {
    collection.docs.iter().filter_map(|(id, doc)| {
        doc.snapshot
            .exists()
            .then_some(())
            .and(doc.snapshot.value())
            .map(|data| (id.as_str(), data))
    })
}
