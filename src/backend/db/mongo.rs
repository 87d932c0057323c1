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
use serde_json::{Map, Value};

mod query;

use super::{Db, DbError, QueryResults};
use crate::backend::StoredSnapshot;
use crate::backend::query::{ParsedQuery, QueryError};
use crate::ot::json0::PathSegment;
use crate::protocol::{CreateData, DocOp, OpKind, OpMeta, Snapshot};

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
        self.run_query(collection, query, None).await
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

/// The snapshot document of `snapshot`, produced by op `op_id`.
fn snapshot_document(id: &str, snapshot: &StoredSnapshot, op_id: ObjectId) -> Document {
    let mut doc = match (&snapshot.doc_type, &snapshot.data) {
        (Some(_), Some(Value::Object(map))) => match to_bson(&Value::Object(map.clone())) {
            Bson::Document(doc) => doc,
            _ => Document::new(),
        },
        (Some(_), Some(data)) => doc! {"_data": to_bson(data)},
        _ => Document::new(),
    };
    doc.insert("_id", id);
    doc.insert(
        "_type",
        snapshot.doc_type.clone().map_or(Bson::Null, Bson::String),
    );
    doc.insert("_v", int(snapshot.v));
    doc.insert("_m", to_bson(&Value::Object(snapshot.m.clone())));
    doc.insert("_o", op_id);
    doc
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

/// The update that turns the stored document into `snapshot` when `op` is
/// an edit of an object document: `$set` of each top-level field the op
/// touched (as it is now) and of `_type`, `_v`, `_m` and `_o`, `$unset` of
/// each touched field that is gone. `None` when the whole document must be
/// replaced: a create or delete, an op on the root, non-object data, or a
/// touched field MongoDB cannot address by name (empty, with a `.`,
/// starting with `$`, or one of the internal names).
fn field_update(op: &DocOp, snapshot: &StoredSnapshot, op_id: ObjectId) -> Option<Document> {
    let OpKind::Edit(edit) = &op.kind else {
        return None;
    };
    let (Some(doc_type), Some(Value::Object(data))) = (&snapshot.doc_type, &snapshot.data) else {
        return None;
    };
    let mut set = Document::new();
    let mut unset = Document::new();
    for component in edit.iter() {
        let Some(PathSegment::Key(field)) = component.p.first() else {
            return None;
        };
        if !addressable(field) {
            return None;
        }
        match data.get(field) {
            Some(value) => {
                set.insert(field.clone(), to_bson(value));
            }
            None => {
                unset.insert(field.clone(), "");
            }
        }
    }
    set.insert("_type", doc_type.as_str());
    set.insert("_v", int(snapshot.v));
    set.insert("_m", to_bson(&Value::Object(snapshot.m.clone())));
    set.insert("_o", op_id);
    let mut update = doc! {"$set": set};
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    Some(update)
}

/// Whether a top-level field can be named in `$set`/`$unset` without
/// meaning something else: not empty, no `.` (a path), no leading `$`
/// (an operator), and none of the fields the layout keeps for itself.
fn addressable(field: &str) -> bool {
    !field.is_empty()
        && !field.contains('.')
        && !field.starts_with('$')
        && !["_id", "_type", "_v", "_m", "_o", "_data"].contains(&field)
}

/// A snapshot document back as a snapshot: internal fields stripped.
fn to_snapshot(id: &str, mut doc: Document) -> StoredSnapshot {
    let v = read_u64(doc.get("_v"));
    let doc_type = doc.get_str("_type").ok().map(str::to_owned);
    let m = match doc.remove("_m").map(|m| from_bson(&m)) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let op_link = doc.get_object_id("_o").ok().map(|o| o.to_hex());
    let data = doc_type.as_ref().map(|_| match doc.remove("_data") {
        Some(data) => from_bson(&data),
        None => {
            for key in ["_id", "_type", "_v", "_o"] {
                doc.remove(key);
            }
            from_bson(&Bson::Document(doc))
        }
    });
    StoredSnapshot {
        id: id.to_owned(),
        wire: Snapshot { v, doc_type, data },
        m,
        op_link,
    }
}

/// The op document of `op`: its fields, `d`, and the link to the previous op.
fn op_document(op: &DocOp, id: &str, op_id: ObjectId, previous: Option<ObjectId>) -> Document {
    let mut doc = doc! {"_id": op_id};
    if let (Some(src), Some(seq)) = (&op.src, op.seq) {
        doc.insert("src", src.as_str());
        doc.insert("seq", int(seq));
    }
    doc.insert("v", int(op.v));
    match &op.kind {
        OpKind::Edit(edit) => {
            doc.insert(
                "op",
                to_bson(&serde_json::to_value(edit).unwrap_or(Value::Null)),
            );
        }
        OpKind::Create(create) => {
            let mut c = doc! {"type": create.doc_type.as_str()};
            if let Some(data) = &create.data {
                c.insert("data", to_bson(data));
            }
            doc.insert("create", c);
        }
        OpKind::Delete => {
            doc.insert("del", true);
        }
    }
    let mut m = Document::new();
    if let Some(ts) = op.m.ts {
        m.insert("ts", ts);
    }
    if let Some(data) = &op.m.data {
        m.insert("data", to_bson(data));
    }
    doc.insert("m", m);
    doc.insert("d", id);
    if let Some(previous) = previous {
        doc.insert("o", previous);
    }
    doc
}

/// An op document back as an op.
fn to_op(collection: &str, id: &str, doc: Document) -> Result<DocOp, DbError> {
    let corrupt = |what: &str| DbError::Corrupt(format!("op of {collection}.{id}: {what}"));
    let kind = if let Some(op) = doc.get("op") {
        OpKind::Edit(
            serde_json::from_value(from_bson(op)).map_err(|e| corrupt(&format!("bad op: {e}")))?,
        )
    } else if let Ok(create) = doc.get_document("create") {
        OpKind::Create(CreateData {
            doc_type: create
                .get_str("type")
                .map_err(|_| corrupt("create without a type"))?
                .to_owned(),
            data: create.get("data").map(from_bson),
        })
    } else if doc.get_bool("del").unwrap_or(false) {
        OpKind::Delete
    } else {
        return Err(corrupt("none of op, create or del"));
    };
    let m = doc.get_document("m").ok();
    let mut op = DocOp::new(collection, id, read_u64(doc.get("v")), kind);
    op.src = doc.get_str("src").ok().map(str::to_owned);
    // Node stores an op without a source (a server-side submit) with
    // `src: null, seq: null`: no seq, not seq 0.
    op.seq = doc
        .get("seq")
        .filter(|seq| !matches!(seq, Bson::Null | Bson::Undefined))
        .map(|seq| read_u64(Some(seq)));
    Ok(op.with_meta(OpMeta {
        ts: m
            .and_then(|m| m.get("ts"))
            .and_then(Bson::as_f64)
            .or_else(|| {
                m.and_then(|m| m.get("ts"))
                    .and_then(|t| t.as_i64().map(|i| i as f64))
            }),
        data: m.and_then(|m| m.get("data")).map(from_bson),
    }))
}

/// A version or seq as MongoDB stores it: int32 where it fits, as Node does.
fn int(n: u64) -> Bson {
    match i32::try_from(n) {
        Ok(i) => Bson::Int32(i),
        Err(_) => Bson::Int64(i64::try_from(n).unwrap_or(i64::MAX)),
    }
}

fn read_u64(value: Option<&Bson>) -> u64 {
    match value {
        Some(Bson::Int32(i)) => u64::try_from(*i).unwrap_or(0),
        Some(Bson::Int64(i)) => u64::try_from(*i).unwrap_or(0),
        Some(Bson::Double(d)) if *d >= 0.0 => *d as u64,
        _ => 0,
    }
}

/// JSON to BSON as the Node driver writes JavaScript values: integers that
/// fit in 32 bits as int32, other numbers as doubles.
pub(crate) fn to_bson(value: &Value) -> Bson {
    match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => Bson::Int32(i),
            None => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(to_bson).collect()),
        Value::Object(map) => {
            Bson::Document(map.iter().map(|(k, v)| (k.clone(), to_bson(v))).collect())
        }
    }
}

/// BSON to JSON as a ShareDB client receives it from Node (the driver's
/// values through `JSON.stringify`): every number is a number (integral
/// ones printed without a fraction), a Date is its ISO-8601 string
/// (`Date.toJSON()`), an ObjectId its hex string, binary data base64, a
/// Decimal128 `{"$numberDecimal": "…"}`, a Timestamp `{"$timestamp": "…"}`;
/// other types are MongoDB's relaxed Extended JSON.
pub(crate) fn from_bson(value: &Bson) -> Value {
    match value {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Int32(i) => Value::from(*i),
        Bson::Int64(i) => Value::from(*i),
        Bson::Double(d) if d.fract() == 0.0 && d.abs() < 9_007_199_254_740_992.0 => {
            Value::from(*d as i64)
        }
        Bson::Double(d) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
        Bson::String(s) | Bson::Symbol(s) => Value::String(s.clone()),
        Bson::Array(items) => Value::Array(items.iter().map(from_bson).collect()),
        Bson::Document(doc) => {
            Value::Object(doc.iter().map(|(k, v)| (k.clone(), from_bson(v))).collect())
        }
        Bson::ObjectId(o) => Value::String(o.to_hex()),
        Bson::DateTime(t) => js_date_json(t.timestamp_millis()),
        Bson::Binary(binary) => Value::String(base64(&binary.bytes)),
        Bson::Decimal128(d) => serde_json::json!({"$numberDecimal": d.to_string()}),
        Bson::Timestamp(t) => {
            let packed = (u64::from(t.time) << 32) | u64::from(t.increment);
            serde_json::json!({"$timestamp": packed.to_string()})
        }
        other => other.clone().into_relaxed_extjson(),
    }
}

/// What JavaScript's `Date.prototype.toJSON` gives for a time in ms since
/// the epoch: `YYYY-MM-DDTHH:mm:ss.sssZ` (years outside 0..=9999 as a
/// signed six-digit year), or `null` beyond the ±8.64e15 ms a JS Date holds.
fn js_date_json(ms: i64) -> Value {
    const LIMIT: i64 = 8_640_000_000_000_000;
    if !(-LIMIT..=LIMIT).contains(&ms) {
        return Value::Null;
    }
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Days to a civil date (proleptic Gregorian), after Howard Hinnant's
    // `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())
    };
    Value::String(format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    ))
}

/// Standard base64 with padding, as Node's `Buffer.toString('base64')`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_javascript_prints_them() {
        for (ms, json) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (-62_198_755_200_000, "-000001-01-01T00:00:00.000Z"),
            (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
        ] {
            assert_eq!(js_date_json(ms), Value::from(json), "{ms}");
        }
        assert_eq!(js_date_json(8_640_000_000_000_001), Value::Null);
    }

    #[test]
    fn binary_reads_as_base64() {
        for (bytes, text) in [
            (&b""[..], ""),
            (b"h", "aA=="),
            (b"hi", "aGk="),
            (b"hi!", "aGkh"),
            (b"\xff\xfe\xfd\xfc", "//79/A=="),
        ] {
            assert_eq!(base64(bytes), text);
        }
    }

    #[test]
    fn other_bson_reads_as_node_prints_it() {
        let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        assert_eq!(
            from_bson(&Bson::ObjectId(oid)),
            Value::from("65a1b2c3d4e5f60718293a4b")
        );
        assert_eq!(from_bson(&Bson::Int64(1 << 40)), Value::from(1i64 << 40));
        let decimal: mongodb::bson::Decimal128 = "1.50".parse().unwrap();
        assert_eq!(
            from_bson(&Bson::Decimal128(decimal)),
            serde_json::json!({"$numberDecimal": "1.50"})
        );
    }
}
