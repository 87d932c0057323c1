//! `MongoDb`: storage in MongoDB, in sharedb-mongo's layout.
//!
//! A database written by Node ShareDB with sharedb-mongo is served by
//! peloton, and the other way round:
//!
//! - collection `<c>` holds one document per snapshot: `_id` (the doc id),
//!   the data inline when it is an object (else under `_data`), `_type`
//!   (the type URI, `null` once deleted), `_v`, `_m` (`ctime`, `mtime`,
//!   `_create`, custom metadata) and `_o` (the id of the op that produced
//!   this version);
//! - collection `o_<c>` holds the ops: `src`, `seq`, `v`, one of
//!   `op`/`create`/`del`, `d` (the doc id), `m` (`ts`, and for a delete the
//!   deleted `data`) and `o` (the previous op's id), indexed by `{d, v}`
//!   and `{src, seq, v}`.
//!
//! Ops are read along the `_o`/`o` chain, so ops left behind by a lost
//! commit race never count; a commit whose snapshot write loses or fails
//! removes its op. Queries run in MongoDB itself, with every operator
//! MongoDB knows, by sharedb-mongo's rules (see `mongo/query.rs`).
//!
//! # Values other tools wrote
//!
//! Documents may hold BSON that JSON has no form for, written by migration
//! scripts or other services: dates, ObjectIds, 64-bit integers,
//! Decimal128, binary. peloton reads them as a ShareDB client receives them
//! from Node: a Date as its ISO-8601 string
//! (`"2023-11-14T22:13:20.123Z"`, as `Date.toJSON()`), an ObjectId as its
//! hex string, an Int64 as a number, a Decimal128 as
//! `{"$numberDecimal": "1.50"}`, binary as base64.
//!
//! Writing keeps them where it can: an edit of an object document updates
//! only the top-level fields its op touched (`$set`, `$unset` for removed
//! ones, plus `_type`, `_v`, `_m`, `_o`), so every field the op left alone
//! keeps its BSON type. A touched field is written from its JSON form (a
//! Date edited, or inside an edited object, becomes a string), and so is
//! the whole document when it is replaced: on a create, a delete, an op on
//! the root, non-object data, or a touched field `$set` cannot name (empty,
//! with a `.`, starting with `$`, or an internal name). `_m` is ShareDB's
//! and always written from JSON.
//!
//! This module owns the connection, indexes, and the reads and commits;
//! the document shapes are `layout`'s and query translation is `query`'s.
//! Nothing here may change what a snapshot or op means: that is the
//! backend's, and the same for every [`Db`].
//!
//! ```no_run
//! use peloton::backend::{Backend, db::MongoDb};
//!
//! # async fn run() -> Result<(), peloton::backend::DbError> {
//! let db = MongoDb::connect("mongodb://127.0.0.1:27017/myapp").await?;
//! let backend = Backend::builder().db(db).build();
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc, oid::ObjectId};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, Database, IndexModel};
use serde_json::Value;

mod layout;
mod milestones;
mod query;

pub use milestones::MongoMilestoneDb;

use layout::{
    field_update, from_bson, int, op_document, read_u64, snapshot_document, to_op, to_snapshot,
};

use super::{Db, DbError, QueryResults};
use crate::backend::StoredSnapshot;
use crate::backend::query::{ParsedQuery, QueryError};
use crate::protocol::DocOp;

/// A [`Db`] in MongoDB, with sharedb-mongo's layout (see the module docs).
#[derive(Clone)]
pub struct MongoDb {
    client: Client,
    db: Database,
    options: MongoDbOptions,
    /// Op collections whose indexes exist, or when creating them last failed.
    indexes: Arc<Mutex<HashMap<String, IndexState>>>,
}

/// Settings of a [`MongoDb`]; the defaults are sharedb-mongo's.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MongoDbOptions {
    /// Runs queries that execute JavaScript on the database server:
    /// `$where` and `$mapReduce` (sharedb-mongo's `allowJSQueries`).
    /// Default: refused, with sharedb-mongo's codes 4103 and 4104.
    pub allow_js_queries: bool,
    /// Runs `$aggregate` pipelines (sharedb-mongo's
    /// `allowAggregateQueries`). Default: refused with code 4105, since a
    /// pipeline reads any field of any document.
    pub allow_aggregate_queries: bool,
    /// Creates the op collections' indexes `{d: 1, v: 1}` and
    /// `{src: 1, seq: 1, v: 1}` on first use (default). Turn it off to
    /// manage indexes yourself (sharedb-mongo's `disableIndexCreation`).
    pub create_indexes: bool,
    /// After creating an index failed, how long to wait before trying
    /// again; commits go on meanwhile. Default: 10 s.
    pub index_retry_delay: Duration,
}

impl Default for MongoDbOptions {
    fn default() -> Self {
        Self {
            allow_js_queries: false,
            allow_aggregate_queries: false,
            create_indexes: true,
            index_retry_delay: Duration::from_secs(10),
        }
    }
}

/// Whether an op collection's indexes were made.
#[derive(Clone, Copy, Debug)]
enum IndexState {
    Created,
    Failed(Instant),
}

impl std::fmt::Debug for MongoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoDb")
            .field("database", &self.db.name())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The map holds plain values, each update a single insert: still
    // consistent after a panic elsewhere.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Exactly sharedb-mongo's indexes, options included: MongoDB 4.2+ ignores
/// `background`, but a server that compares options (SecantusDB) would
/// refuse sharedb-mongo's same-named index.
async fn create_op_indexes(ops: &Collection<Document>) -> Result<(), mongodb::error::Error> {
    for keys in [doc! {"d": 1, "v": 1}, doc! {"src": 1, "seq": 1, "v": 1}] {
        #[allow(deprecated)]
        let options = IndexOptions::builder().background(true).build();
        let index = IndexModel::builder().keys(keys).options(options).build();
        ops.create_index(index).await?;
    }
    Ok(())
}

/// A failed query: what the server refused as malformed (an unknown
/// operator, a bad regex, an exceeded `$maxTimeMS`) goes back to the
/// client with the server's code and reason; anything else is a backend
/// failure.
fn query_error(during: &'static str, e: mongodb::error::Error) -> DbError {
    use mongodb::error::ErrorKind;
    match &*e.kind {
        // 13 and 18: not authorized / authentication failed, the
        // deployment's problem, not the query's.
        ErrorKind::Command(command) if ![13, 18].contains(&command.code) => {
            DbError::Query(QueryError::Refused {
                code: i64::from(command.code),
                message: format!("MongoDB refused the query: {}", command.message),
            })
        }
        _ => backend_error(during)(e),
    }
}

fn backend_error(during: &str) -> impl Fn(mongodb::error::Error) -> DbError + '_ {
    move |e| DbError::backend(format!("MongoDB {during}"), e)
}

impl MongoDb {
    /// Connects to `url` (`mongodb://host:port/database`; the database
    /// defaults to `peloton`).
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        let options = ClientOptions::parse(url).await.map_err(|e| {
            let url = crate::backend::redact_password(url);
            DbError::Invalid(format!("MongoDB URL {url:?}: {e}"))
        })?;
        let name = options
            .default_database
            .clone()
            .unwrap_or_else(|| "peloton".into());
        let client = Client::with_options(options).map_err(backend_error("client"))?;
        Ok(Self::new(client, &name))
    }

    /// Uses database `name` of a connected client.
    pub fn new(client: Client, name: &str) -> Self {
        Self {
            db: client.database(name),
            client,
            options: MongoDbOptions::default(),
            indexes: Arc::default(),
        }
    }

    /// Replaces the settings.
    pub fn with_options(mut self, options: MongoDbOptions) -> Self {
        self.options = options;
        self
    }

    /// The MongoDB database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    fn snapshots(&self, collection: &str) -> Result<Collection<Document>, DbError> {
        if collection.is_empty() {
            return Err(DbError::Invalid("a collection name cannot be empty".into()));
        }
        if is_reserved(collection) {
            return Err(DbError::ReservedCollection(collection.to_owned()));
        }
        Ok(self.db.collection(collection))
    }

    async fn ops(&self, collection: &str) -> Result<Collection<Document>, DbError> {
        self.snapshots(collection)?;
        let name = format!("o_{collection}");
        let ops = self.db.collection::<Document>(&name);
        if self.options.create_indexes && self.needs_indexes(&name) {
            let state = match create_op_indexes(&ops).await {
                Ok(()) => IndexState::Created,
                Err(e) => {
                    tracing::warn!(
                        "creating the indexes of {name} failed (retrying in {:?}): {e}",
                        self.options.index_retry_delay
                    );
                    IndexState::Failed(Instant::now())
                }
            };
            lock(&self.indexes).insert(name, state);
        }
        Ok(ops)
    }

    /// Whether the indexes of op collection `name` are still to be made:
    /// never tried, or the last try failed long enough ago.
    fn needs_indexes(&self, name: &str) -> bool {
        match lock(&self.indexes).get(name) {
            None => true,
            Some(IndexState::Created) => false,
            Some(IndexState::Failed(at)) => at.elapsed() >= self.options.index_retry_delay,
        }
    }

    /// Runs a query (see the `query` module for what runs and how); `projection`
    /// limits the fields of result documents.
    async fn run_query(
        &self,
        collection: &str,
        query: &ParsedQuery,
        projection: Option<Document>,
    ) -> Result<QueryResults, DbError> {
        let snapshots = self.snapshots(collection)?;
        let mut plan = query::plan(query, &self.options)?;
        let failed = |during: &'static str| move |e| query_error(during, e);
        let extra = match std::mem::replace(&mut plan.action, query::Action::Find) {
            query::Action::Find => {
                plan.find.projection = projection;
                let filter = std::mem::take(&mut plan.filter);
                let mut cursor = snapshots
                    .find(filter)
                    .with_options(plan.find)
                    .await
                    .map_err(failed("query"))?;
                let mut results = Vec::new();
                while let Some(doc) = cursor.try_next().await.map_err(failed("query"))? {
                    let id = doc.get_str("_id").unwrap_or_default().to_owned();
                    results.push(to_snapshot(&id, doc));
                }
                return Ok(QueryResults {
                    snapshots: results,
                    extra: None,
                });
            }
            query::Action::Count => {
                let options = plan.count_options();
                let count = snapshots
                    .count_documents(std::mem::take(&mut plan.filter))
                    .with_options(options)
                    .await
                    .map_err(failed("count"))?;
                Value::from(count)
            }
            query::Action::Explain(verbosity) => {
                let command = plan.explain_command(collection, &verbosity);
                let explained = self
                    .db
                    .run_command(command)
                    .await
                    .map_err(failed("explain"))?;
                from_bson(&Bson::Document(explained))
            }
            query::Action::Distinct(field) => {
                let values = snapshots
                    .distinct(field, std::mem::take(&mut plan.filter))
                    .await
                    .map_err(failed("distinct"))?;
                Value::Array(values.iter().map(from_bson).collect())
            }
            query::Action::Aggregate(pipeline) => {
                let documents: Vec<Document> = snapshots
                    .aggregate(pipeline)
                    .await
                    .map_err(failed("aggregate"))?
                    .try_collect()
                    .await
                    .map_err(failed("aggregate"))?;
                Value::Array(
                    documents
                        .into_iter()
                        .map(|d| from_bson(&Bson::Document(d)))
                        .collect(),
                )
            }
            query::Action::MapReduce { map, reduce, scope } => {
                let command = doc! {
                    "mapReduce": collection,
                    "map": Bson::JavaScriptCode(map),
                    "reduce": Bson::JavaScriptCode(reduce),
                    "query": std::mem::take(&mut plan.filter),
                    "scope": scope,
                    "out": {"inline": 1},
                };
                let reply = self
                    .db
                    .run_command(command)
                    .await
                    .map_err(failed("mapReduce"))?;
                reply
                    .get("results")
                    .map_or(Value::Array(Vec::new()), from_bson)
            }
        };
        Ok(QueryResults {
            snapshots: Vec::new(),
            extra: Some(extra),
        })
    }

    /// The snapshot's `_v` and `_o` (the head of its op chain).
    async fn head(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Option<(u64, Option<Bson>)>, DbError> {
        let found = self
            .snapshots(collection)?
            .find_one(doc! {"_id": id})
            .projection(doc! {"_v": 1, "_o": 1})
            .await
            .map_err(backend_error("read"))?;
        Ok(found.map(|doc| (read_u64(doc.get("_v")), doc.get("_o").cloned())))
    }
}

#[async_trait]
impl Db for MongoDb {
    async fn commit(
        &self,
        collection: &str,
        id: &str,
        op: &Arc<DocOp>,
        snapshot: &mut StoredSnapshot,
    ) -> Result<bool, DbError> {
        let snapshots = self.snapshots(collection)?;
        let ops = self.ops(collection).await?;
        let op_id = ObjectId::new();
        let previous = snapshot
            .op_link
            .as_deref()
            .and_then(|link| ObjectId::parse_str(link).ok());
        ops.insert_one(op_document(op, id, op_id, previous))
            .await
            .map_err(backend_error("op insert"))?;
        let written = write_snapshot(&snapshots, id, op, snapshot, op_id).await;
        if matches!(written, Ok(true)) {
            snapshot.op_link = Some(op_id.to_hex());
        } else {
            // Lost the race, or the write failed: the op must not stay in
            // the journal. Were it left, reads along the chain would skip
            // it anyway, so a failed clean-up is only logged.
            if let Err(e) = ops.delete_one(doc! {"_id": op_id}).await {
                tracing::warn!("removing the uncommitted op {op_id} of {collection}.{id}: {e}");
            }
        }
        written
    }

    async fn get_snapshot(&self, collection: &str, id: &str) -> Result<StoredSnapshot, DbError> {
        let found = self
            .snapshots(collection)?
            .find_one(doc! {"_id": id})
            .await
            .map_err(backend_error("read"))?;
        Ok(found.map_or_else(
            || StoredSnapshot::never_created(id),
            |doc| to_snapshot(id, doc),
        ))
    }

    async fn get_snapshot_bulk(
        &self,
        collection: &str,
        ids: &[String],
    ) -> Result<HashMap<String, StoredSnapshot>, DbError> {
        let mut cursor = self
            .snapshots(collection)?
            .find(doc! {"_id": {"$in": ids}})
            .await
            .map_err(backend_error("read"))?;
        let mut map = HashMap::with_capacity(ids.len());
        while let Some(doc) = cursor.try_next().await.map_err(backend_error("read"))? {
            let id = doc.get_str("_id").unwrap_or_default().to_owned();
            map.insert(id.clone(), to_snapshot(&id, doc));
        }
        for id in ids {
            map.entry(id.clone())
                .or_insert_with(|| StoredSnapshot::never_created(id.as_str()));
        }
        Ok(map)
    }

    async fn get_ops(
        &self,
        collection: &str,
        id: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<DocOp>>, DbError> {
        let Some((version, head)) = self.head(collection, id).await? else {
            return Ok(Vec::new());
        };
        if from >= version || to.is_some_and(|to| to <= from) {
            return Ok(Vec::new());
        }
        let mut cursor = self
            .ops(collection)
            .await?
            .find(doc! {"d": id, "v": {"$gte": int(from)}})
            .sort(doc! {"v": 1})
            .await
            .map_err(backend_error("ops read"))?;
        let mut found = Vec::new();
        while let Some(doc) = cursor.try_next().await.map_err(backend_error("ops read"))? {
            found.push(doc);
        }
        // Follow the chain back from the snapshot's head, dropping orphans.
        let mut link = head;
        let mut chain = Vec::new();
        for doc in found.into_iter().rev() {
            let Some(wanted) = &link else { break };
            if doc.get("_id") != Some(wanted) {
                continue;
            }
            link = doc.get("o").cloned().filter(|o| !matches!(o, Bson::Null));
            chain.push(doc);
        }
        chain.reverse();
        let ops = chain
            .into_iter()
            .map(|doc| to_op(collection, id, doc))
            .collect::<Result<Vec<_>, _>>()?;
        if ops.first().is_some_and(|op| op.v != from) || ops.len() as u64 != version - from {
            return Err(DbError::Corrupt(format!(
                "the op journal of {collection}.{id} is missing ops between v{from} and v{version}"
            )));
        }
        Ok(ops
            .into_iter()
            .filter(|op| to.is_none_or(|to| op.v < to))
            .map(Arc::new)
            .collect())
    }

    async fn committed_op_version(
        &self,
        collection: &str,
        id: &str,
        src: &str,
        seq: u64,
    ) -> Result<Option<u64>, DbError> {
        // The earliest op with this src and seq (served by the
        // {src, seq, v} index); none means it was never committed, even
        // for a document without an op chain.
        let first = self
            .ops(collection)
            .await?
            .find_one(doc! {"src": src, "seq": int(seq), "d": id})
            .sort(doc! {"v": 1})
            .projection(doc! {"v": 1})
            .await
            .map_err(backend_error("ops read"))?;
        let Some(first) = first else {
            return Ok(None);
        };
        // Found: it counts only if it is on the chain (a lost race leaves
        // orphans with the same src and seq).
        let from = read_u64(first.get("v"));
        Ok(self
            .get_ops(collection, id, from, None)
            .await?
            .iter()
            .rev()
            .find(|op| op.src.as_deref() == Some(src) && op.seq == Some(seq))
            .map(|op| op.v))
    }

    async fn query(&self, collection: &str, query: &ParsedQuery) -> Result<QueryResults, DbError> {
        // What sharedb-mongo projects by default: no metadata, no op link.
        self.run_query(collection, query, Some(doc! {"_m": 0, "_o": 0}))
            .await
    }

    async fn query_ids(
        &self,
        collection: &str,
        query: &ParsedQuery,
    ) -> Result<(Vec<String>, Option<Value>), DbError> {
        let results = self
            .run_query(collection, query, Some(doc! {"_id": 1}))
            .await?;
        Ok((
            results.snapshots.into_iter().map(|s| s.id).collect(),
            results.extra,
        ))
    }

    async fn close(&self) {
        self.client.clone().shutdown().await;
    }
}

/// The collection names sharedb-mongo refuses: exactly `system`, and
/// `o_*` (op journals); `systems` or `system_users` are ordinary names.
fn is_reserved(collection: &str) -> bool {
    collection == "system" || collection.starts_with("o_")
}

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    matches!(&*e.kind, ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == 11000)
        || e.to_string().contains("E11000")
}

/// Writes the snapshot that `op` (stored as `op_id`) produced, if the
/// stored document is still at the version before it. `Ok(false)`: another
/// commit got there first.
///
/// Version 1 is an insert (a duplicate `_id` means the race was lost). An
/// edit of an object document updates only the top-level fields the op
/// touched (see [`field_update`]), so what other tools wrote in fields the
/// op left alone keeps its BSON type; anything else replaces the document.
async fn write_snapshot(
    snapshots: &Collection<Document>,
    id: &str,
    op: &DocOp,
    snapshot: &StoredSnapshot,
    op_id: ObjectId,
) -> Result<bool, DbError> {
    if snapshot.v == 1 {
        return match snapshots
            .insert_one(snapshot_document(id, snapshot, op_id))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(backend_error("snapshot insert")(e)),
        };
    }
    let current = doc! {"_id": id, "_v": int(snapshot.v - 1)};
    let result = match field_update(op, snapshot, op_id) {
        Some(update) => snapshots.update_one(current, update).await,
        None => {
            snapshots
                .replace_one(current, snapshot_document(id, snapshot, op_id))
                .await
        }
    };
    Ok(result
        .map_err(backend_error("snapshot write"))?
        .modified_count
        > 0)
}
