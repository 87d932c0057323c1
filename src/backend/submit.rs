//! The submit pipeline: from a submitted op to a committed, published one.
//!
//! 1. `submit` middleware;
//! 2. load the document; an op made against an older version is transformed
//!    against every op committed since (a resent op found among them is
//!    acknowledged, not applied twice);
//! 3. `apply` middleware, then the op is applied to the snapshot;
//! 4. `commit` middleware, then the op and snapshot are committed together,
//!    version-checked; losing a race with another server retries from 2;
//! 5. the op is published on its document's and collection's channels;
//! 6. `after_write` middleware.
//!
//! Submits to one document are serialized within a process (see
//! [`DocLocks`](super::doc_locks::DocLocks)), so retries only happen across
//! servers. The lock also keeps the snapshot each submit committed, so the
//! next submit to the document starts from it instead of reading (and
//! copying) it from the database; the commit's version check catches a copy
//! gone stale.

use std::sync::Arc;

use serde_json::{Value, json};
use tracing::Instrument;

use super::doc_locks::DocLock;
use super::limits;
use super::middleware::AgentInfo;
use super::milestones;
use super::pubsub::{self, Message};
use super::{Shared, StoredSnapshot};
use crate::ot::json0;
use crate::protocol::{
    DocData, DocOp, ErrorCode, ErrorObject, OpKind, OpMeta, OpRequest, is_json0, is_safe_key,
};

/// An op on its way through the pipeline; middleware sees and may change it.
#[derive(Debug)]
pub struct SubmitRequest<'a> {
    /// The submitting connection.
    pub agent: &'a AgentInfo,
    /// The document's collection.
    pub collection: String,
    /// The document's id.
    pub id: String,
    /// The op. Its `v` is the version it applies to: as submitted, then as
    /// transformed up to the snapshot's version.
    pub op: DocOp,
    /// The document: as loaded in `submit` and `apply`, with the op applied
    /// in `commit` and `after_write`.
    pub snapshot: StoredSnapshot,
    /// The op's extra data from the client (`x`).
    pub extra: Option<Value>,
    /// Where the op is published; reset to the document's and collection's
    /// channels before each `apply`.
    pub channels: Vec<String>,
    /// Set to commit without publishing.
    pub suppress_publish: bool,
    /// How often to retry after losing a commit race; `None`: no limit.
    pub max_retries: Option<u32>,
    /// How often it was retried so far.
    pub retries: u32,
    /// Data for middleware to pass between hooks.
    pub custom: http::Extensions,
    /// The op was submitted without a version: it applies to the latest.
    at_latest: bool,
    /// Committed ops it was transformed against; the client gets them
    /// before the acknowledgement.
    pub(crate) transformed_against: Vec<Arc<DocOp>>,
}

impl<'a> SubmitRequest<'a> {
    pub(crate) fn new(agent: &'a AgentInfo, request: OpRequest, max_retries: Option<u32>) -> Self {
        let OpRequest {
            c,
            d,
            v,
            src,
            seq,
            kind,
            x,
        } = request;
        let channels = channels(&c, &d);
        Self {
            agent,
            op: {
                let mut op =
                    DocOp::new(c.clone(), d.clone(), v.unwrap_or(0), kind).with_meta(OpMeta {
                        ts: Some(now_ms()),
                        data: None,
                    });
                // A client's ops are its own unless it says otherwise.
                op.src = src.or_else(|| seq.map(|_| agent.client_id.clone()));
                op.seq = seq;
                op
            },
            snapshot: StoredSnapshot::never_created(d.clone()),
            collection: c,
            id: d,
            extra: x,
            channels,
            suppress_publish: false,
            max_retries,
            retries: 0,
            custom: http::Extensions::new(),
            at_latest: v.is_none(),
            transformed_against: Vec::new(),
        }
    }
}

/// The channels an op on a document is published on.
fn channels(collection: &str, id: &str) -> Vec<String> {
    vec![
        pubsub::collection_channel(collection),
        pubsub::doc_channel(collection, id),
    ]
}

/// Milliseconds since the Unix epoch, as ShareDB timestamps are.
pub(crate) fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .map(f64::floor)
        .unwrap_or(0.0)
}

/// Runs the whole pipeline. On `ERR_OP_ALREADY_SUBMITTED` the request's
/// `op.v` is the version the op was committed at.
///
/// Each submit is a `debug` span (collection, doc, the version it was made
/// at and the one it committed at, its outcome) and counts in the metrics.
pub(crate) async fn submit(
    shared: &Shared,
    req: &mut SubmitRequest<'_>,
) -> Result<(), ErrorObject> {
    let span = tracing::debug_span!(
        "submit",
        collection = %req.collection,
        doc = %req.id,
        v = req.op.v,
        committed_v = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let result = pipeline(shared, req).instrument(span.clone()).await;
    shared.telemetry.submitted(started, &result);
    let _entered = span.enter();
    match &result {
        Ok(()) => {
            span.record("committed_v", req.op.v);
            span.record("outcome", "committed");
            tracing::debug!("op committed");
        }
        Err(error) => {
            span.record("outcome", tracing::field::display(&error.code));
            tracing::debug!("op refused: {}", error.message);
        }
    }
    result
}

/// [`submit`], unobserved.
async fn pipeline(shared: &Shared, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
    check_op(&req.op)?;
    check_depth(&req.op, shared.options.limits.max_depth)?;
    for m in &shared.middleware {
        m.submit(req).await?;
    }
    let lock = shared
        .doc_locks
        .lock(&req.collection, &req.id, shared.options.limits.db_timeout)
        .await?;
    let held = lock.held(&req.collection, &req.id);
    held.scope(commit(shared, req, lock)).await?;
    for m in &shared.middleware {
        m.after_write(req).await?;
    }
    Ok(())
}

/// Steps 2 to 5, under the document's lock (if it was had).
async fn commit(
    shared: &Shared,
    req: &mut SubmitRequest<'_>,
    mut lock: DocLock<'_>,
) -> Result<(), ErrorObject> {
    let (mut cached, mut bytes) = lock.take_cached(&req.collection, &req.id);
    let at_latest = req.at_latest;
    loop {
        let from_cache = load_and_transform(shared, req, cached.take()).await?;
        if !from_cache {
            bytes = None;
        }
        req.channels = channels(&req.collection, &req.id);
        for m in &shared.middleware {
            m.apply(req).await?;
        }
        let before = bytes.take();
        apply(req)?;
        bytes = check_size(req, before, shared.options.limits.max_snapshot_bytes)?;
        for m in &shared.middleware {
            m.commit(req).await?;
        }
        if matches!(req.op.kind, OpKind::Create(_)) {
            req.snapshot.m.insert(
                "_create".into(),
                json!({"src": req.op.src, "seq": req.op.seq, "v": req.op.v}),
            );
        }
        let op = Arc::new(req.op.clone());
        let committed = shared
            .db
            .commit(&req.collection, &req.id, &op, &mut req.snapshot)
            .await
            .map_err(|e| e.to_client("commit"))?;
        if committed {
            if milestones::is_due(shared.milestones.interval(), req.snapshot.v) {
                save_milestone(shared, &req.collection, req.snapshot.clone());
            }
            // Without middleware nothing reads the request's snapshot
            // again: it moves into the stripe instead of being copied.
            let snapshot = if shared.middleware.is_empty() {
                std::mem::replace(&mut req.snapshot, StoredSnapshot::never_created(""))
            } else {
                req.snapshot.clone()
            };
            lock.cache(&req.collection, &req.id, snapshot, bytes);
            if !req.suppress_publish {
                publish(shared, &req.channels, op).await;
            }
            return Ok(());
        }
        if from_cache {
            // Another server wrote since: not a race this submit lost.
            // Start again from the database, as if nothing was cached.
            req.at_latest = at_latest;
            continue;
        }
        req.retries += 1;
        if req.max_retries.is_some_and(|max| req.retries > max) {
            return Err(ErrorObject::new(
                ErrorCode::MaxSubmitRetriesExceeded,
                format!(
                    "Op submit failed. Exceeded max submit retries of {}",
                    req.retries - 1
                ),
            ));
        }
        tracing::debug!(collection = %req.collection, id = %req.id, retries = req.retries, "commit race lost, retrying");
    }
}

/// Refuses an op that would nest its document deeper than `max` (checked
/// before anything is loaded: the op alone tells).
fn check_depth(op: &DocOp, max: usize) -> Result<(), ErrorObject> {
    match &op.kind {
        OpKind::Create(create) => match &create.data {
            Some(data) if limits::depth(data) > max => Err(limits::too_deep(max)),
            _ => Ok(()),
        },
        OpKind::Edit(edit) => edit
            .iter()
            .try_for_each(|c| limits::check_component_depth(c, max)),
        OpKind::Delete => Ok(()),
    }
}

/// Refuses an op that made its document larger than `max` bytes as JSON
/// (the snapshot is applied, not committed: the caller drops it). Returns
/// an estimate of the document's size, never below it, to start from
/// next time; `before` is the previous estimate, if known. The document
/// is measured only when the estimate comes near the limit.
fn check_size(
    req: &SubmitRequest<'_>,
    before: Option<usize>,
    max: usize,
) -> Result<Option<usize>, ErrorObject> {
    let measure = |req: &SubmitRequest<'_>| req.snapshot.value().map_or(0, limits::json_bytes);
    let grows = match &req.op.kind {
        OpKind::Create(_) => return check_measured(measure(req), max),
        OpKind::Delete => return Ok(Some(0)),
        OpKind::Edit(edit) => limits::growth(edit),
    };
    let Some(before) = before else {
        return if grows == 0 {
            Ok(None)
        } else {
            check_measured(measure(req), max)
        };
    };
    match before.saturating_add(grows) {
        estimate if estimate <= max => Ok(Some(estimate)),
        _ => check_measured(measure(req), max),
    }
}

fn check_measured(bytes: usize, max: usize) -> Result<Option<usize>, ErrorObject> {
    if bytes > max {
        return Err(ErrorObject::new(
            ErrorCode::DocTooLarge,
            format!("Document would be {bytes} bytes as JSON, over the server's limit of {max}"),
        ));
    }
    Ok(Some(bytes))
}

/// ShareDB's `checkOp`: the op's form, before anything is loaded.
fn check_op(op: &DocOp) -> Result<(), ErrorObject> {
    if let OpKind::Create(create) = &op.kind
        && !is_json0(&create.doc_type)
    {
        return Err(ErrorObject::new(
            ErrorCode::DocTypeNotRecognized,
            format!(
                "Unknown type {:?}: peloton documents are json0",
                create.doc_type
            ),
        ));
    }
    if let OpKind::Edit(edit) = &op.kind
        && edit
            .iter()
            .flat_map(|c| &c.p)
            .any(|segment| matches!(segment, json0::PathSegment::Key(k) if !is_safe_key(k)))
    {
        return Err(ErrorObject::new(
            ErrorCode::OtOpNotApplied,
            "Invalid path segment",
        ));
    }
    if op.src.is_some() != op.seq.is_some() {
        return Err(ErrorObject::new(
            ErrorCode::OtOpBadlyFormed,
            "Both src and seq must be set together",
        ));
    }
    Ok(())
}

/// Saves a milestone snapshot without holding up the submit: a lost one
/// only makes history requests replay more ops.
fn save_milestone(shared: &Shared, collection: &str, snapshot: StoredSnapshot) {
    let milestones = shared.milestones.clone();
    let collection = collection.to_owned();
    tokio::spawn(async move {
        if let Err(e) = milestones.save(&collection, &snapshot).await {
            tracing::warn!(
                collection, id = %snapshot.id, v = snapshot.v,
                "saving a milestone snapshot failed: {e}"
            );
        }
    });
}

async fn publish(shared: &Shared, channels: &[String], op: Arc<DocOp>) {
    // The op is committed: a pub/sub failure must not fail the submit.
    // Subscribers that miss it catch up on their next op or fetch.
    if let Err(e) = shared.pubsub.publish(channels, Message::Op(op)).await {
        tracing::error!("publishing a committed op failed: {e}");
    }
}

/// Loads the snapshot (the one cached from the last commit, unless the op is
/// newer than it) and brings the op up to its version. Returns whether the
/// cached snapshot was used.
async fn load_and_transform(
    shared: &Shared,
    req: &mut SubmitRequest<'_>,
    cached: Option<StoredSnapshot>,
) -> Result<bool, ErrorObject> {
    let db = &shared.db;
    // The database decides for an op newer than the cached snapshot (made
    // on another server's commit) and for a create (whether the document
    // exists is the database's to say).
    let cached = cached.filter(|s| {
        !matches!(req.op.kind, OpKind::Create(_)) && (req.at_latest || req.op.v <= s.v)
    });
    let from_cache = cached.is_some();
    let mut snapshot = match cached {
        Some(snapshot) => snapshot,
        None => db
            .get_snapshot(&req.collection, &req.id)
            .await
            .map_err(|e| e.to_client("load"))?,
    };
    let ts = req.op.m.ts.unwrap_or_else(now_ms);
    match &req.op.kind {
        OpKind::Create(_) => {
            snapshot.m.insert("ctime".into(), json!(ts));
        }
        OpKind::Delete => req.op.m.data = snapshot.value().cloned(),
        OpKind::Edit(_) => {}
    }
    snapshot.m.insert("mtime".into(), json!(ts));
    req.snapshot = snapshot;

    if req.at_latest {
        req.at_latest = false;
        if matches!(req.op.kind, OpKind::Create(_)) && req.snapshot.exists() && req.op.src.is_some()
        {
            return Err(match created_by(db.as_ref(), req).await? {
                Some(v) => {
                    req.op.v = v;
                    already_submitted()
                }
                None => ErrorObject::new(
                    ErrorCode::DocAlreadyCreated,
                    "Invalid op submitted. Document already created",
                ),
            });
        }
        req.op.v = req.snapshot.v;
    }

    let snapshot_v = req.snapshot.v;
    if req.op.v > snapshot_v {
        return Err(ErrorObject::new(
            ErrorCode::OpVersionNewerThanCurrentSnapshot,
            "Invalid op submitted. Op version newer than current snapshot",
        ));
    }
    if req.op.v == snapshot_v {
        return Ok(from_cache);
    }
    let ops = db
        .get_ops(&req.collection, &req.id, req.op.v, Some(snapshot_v))
        .await
        .map_err(|e| e.to_client("load ops"))?;
    if ops.len() as u64 != snapshot_v - req.op.v {
        return Err(ErrorObject::new(
            ErrorCode::SubmitTransformOpsNotFound,
            "Op submit failed. DB missing ops needed to transform it up to the current snapshot version",
        ));
    }
    for applied in ops {
        if req.op.src.is_some() && req.op.src == applied.src && req.op.seq == applied.seq {
            // A resent op (e.g. after a reconnect) that was committed already.
            req.op.v = applied.v;
            return Err(already_submitted());
        }
        transform(&mut req.op, &applied)?;
        req.transformed_against.push(applied);
    }
    Ok(from_cache)
}

/// The version a create with the request's src and seq was committed at,
/// if it was.
async fn created_by(
    db: &dyn super::Db,
    req: &SubmitRequest<'_>,
) -> Result<Option<u64>, ErrorObject> {
    let same_op =
        |src: Option<&str>, seq: Option<u64>| src == req.op.src.as_deref() && seq == req.op.seq;
    if let Some(create) = req.snapshot.m.get("_create") {
        let src = create.get("src").and_then(Value::as_str);
        let seq = create.get("seq").and_then(Value::as_u64);
        return Ok(same_op(src, seq).then(|| create.get("v").and_then(Value::as_u64).unwrap_or(0)));
    }
    // Snapshots written without `_create` (older ShareDB, other tools):
    // ask the journal. No such op means a second create.
    let (Some(src), Some(seq)) = (req.op.src.as_deref(), req.op.seq) else {
        return Ok(None);
    };
    db.committed_op_version(&req.collection, &req.id, src, seq)
        .await
        .map_err(|e| e.to_client("load ops"))
}

fn already_submitted() -> ErrorObject {
    ErrorObject::new(ErrorCode::OpAlreadySubmitted, "Op already submitted")
}

/// Transforms `op` (the incoming op, json0's left side) against an op
/// committed at the same version, as ShareDB's `ot.transform` does.
pub(crate) fn transform(op: &mut DocOp, applied: &DocOp) -> Result<(), ErrorObject> {
    if op.v != applied.v {
        return Err(ErrorObject::new(
            ErrorCode::Other("ERR_OP_VERSION_MISMATCH_DURING_TRANSFORM".into()),
            "Op submit failed. Versions mismatched during op transform",
        ));
    }
    match (&mut op.kind, &applied.kind) {
        (OpKind::Create(_) | OpKind::Edit(_), OpKind::Delete) => {
            return Err(ErrorObject::new(
                ErrorCode::DocWasDeleted,
                "Document was deleted",
            ));
        }
        (_, OpKind::Create(_)) | (OpKind::Create(_), OpKind::Edit(_)) => {
            return Err(ErrorObject::new(
                ErrorCode::DocAlreadyCreated,
                "Document was created remotely",
            ));
        }
        (OpKind::Edit(edit), OpKind::Edit(other)) => {
            *edit = json0::transform(edit, other, json0::Side::Left)
                .map_err(|e| ErrorObject::new(ErrorCode::OtOpNotApplied, e.to_string()))?;
        }
        (OpKind::Delete, _) => {}
    }
    op.v += 1;
    Ok(())
}

/// Applies the request's op to its snapshot (ShareDB's `ot.apply`).
fn apply(req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
    apply_op(&mut req.snapshot, &req.op)
}

/// Applies an op to a snapshot and advances its version. On error the
/// snapshot is unchanged.
pub(crate) fn apply_op(snapshot: &mut StoredSnapshot, op: &DocOp) -> Result<(), ErrorObject> {
    match &op.kind {
        OpKind::Create(create) => {
            if snapshot.exists() {
                return Err(ErrorObject::new(
                    ErrorCode::DocAlreadyCreated,
                    "Document already exists",
                ));
            }
            snapshot.data = Some(DocData::new(json0::create(create.data.clone())));
            snapshot.doc_type = Some(json0::URI.to_owned());
        }
        OpKind::Delete => {
            snapshot.data = None;
            snapshot.doc_type = None;
        }
        OpKind::Edit(edit) => {
            let Some(doc_type) = &snapshot.doc_type else {
                return Err(ErrorObject::new(
                    ErrorCode::DocDoesNotExist,
                    "Document does not exist",
                ));
            };
            if !is_json0(doc_type) {
                return Err(ErrorObject::new(
                    ErrorCode::DocTypeNotRecognized,
                    format!("Unknown type {doc_type:?}: peloton applies json0 ops only"),
                ));
            }
            // Copied first if anyone else holds it (a cache, a message).
            let data = snapshot.data.get_or_insert_default();
            data.apply(edit)
                .map_err(|e| ErrorObject::new(ErrorCode::OtOpNotApplied, e.to_string()))?;
        }
    }
    snapshot.v += 1;
    Ok(())
}

/// An internal failure: logged in full, reported to the client briefly.
pub(crate) fn internal(during: &str, error: &dyn std::fmt::Display) -> ErrorObject {
    tracing::error!("{during} failed: {error}");
    ErrorObject::unknown(format!("Internal error during {during}"))
}

/// Metadata for a server-side op without a client.
pub(crate) fn server_agent() -> AgentInfo {
    AgentInfo::new(String::new(), true)
}
