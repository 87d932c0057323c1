//! The submit pipeline and live queries against a database double: a
//! `MemoryDb` whose commits can be made to lose races, and which counts
//! the queries it runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use peloton::backend::query::ParsedQuery;
use peloton::backend::{
    Backend, BackendOptions, Db, DbError, MemoryDb, QueryResults, StoredSnapshot,
};
use peloton::ot::json0;
use peloton::protocol::{CreateData, DocOp, OpKind};
use serde_json::{Value, json};

use crate::util::{RawSocket, serve};

#[derive(Clone, Default)]
struct TestDb(Arc<State>);

#[derive(Default)]
struct State {
    inner: MemoryDb,
    /// How many of the next commits lose their race.
    to_lose: AtomicU32,
    /// What the rival that wins a race commits first, if anything.
    rival: Mutex<Option<json0::Op>>,
    commits: AtomicU32,
    queries: AtomicU32,
    polls: AtomicU32,
}

impl TestDb {
    fn lose_next(&self, commits: u32, rival: Option<json0::Op>) {
        *self.0.rival.lock().unwrap() = rival;
        self.0.to_lose.store(commits, Ordering::SeqCst);
    }

    fn count(counter: &AtomicU32) -> u32 {
        counter.load(Ordering::SeqCst)
    }

    /// Commits `op` as another server would, at the document's version.
    async fn rival_commit(&self, collection: &str, id: &str, op: json0::Op) {
        let mut snapshot = self.0.inner.get_snapshot(collection, id).await.unwrap();
        let mut data = snapshot.value().cloned().unwrap();
        json0::apply(&mut data, &op).unwrap();
        let committed = Arc::new(
            DocOp::new(collection, id, snapshot.v, OpKind::Edit(op)).with_source("rival", 1),
        );
        snapshot.data = Some(data.into());
        snapshot.v += 1;
        assert!(
            self.0
                .inner
                .commit(collection, id, &committed, &mut snapshot)
                .await
                .unwrap()
        );
    }
}

#[async_trait]
impl Db for TestDb {
    async fn commit(
        &self,
        collection: &str,
        id: &str,
        op: &Arc<DocOp>,
        snapshot: &mut StoredSnapshot,
    ) -> Result<bool, DbError> {
        self.0.commits.fetch_add(1, Ordering::SeqCst);
        let lose = self
            .0
            .to_lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if lose {
            let rival = self.0.rival.lock().unwrap().take();
            if let Some(rival) = rival {
                self.rival_commit(collection, id, rival).await;
            }
            return Ok(false);
        }
        self.0.inner.commit(collection, id, op, snapshot).await
    }

    async fn get_snapshot(&self, collection: &str, id: &str) -> Result<StoredSnapshot, DbError> {
        self.0.inner.get_snapshot(collection, id).await
    }

    async fn get_snapshot_bulk(
        &self,
        collection: &str,
        ids: &[String],
    ) -> Result<HashMap<String, StoredSnapshot>, DbError> {
        self.0.inner.get_snapshot_bulk(collection, ids).await
    }

    async fn get_ops(
        &self,
        collection: &str,
        id: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<DocOp>>, DbError> {
        self.0.inner.get_ops(collection, id, from, to).await
    }

    async fn query(&self, collection: &str, query: &ParsedQuery) -> Result<QueryResults, DbError> {
        self.0.queries.fetch_add(1, Ordering::SeqCst);
        self.0.inner.query(collection, query).await
    }

    async fn query_ids(
        &self,
        collection: &str,
        query: &ParsedQuery,
    ) -> Result<(Vec<String>, Option<Value>), DbError> {
        self.0.polls.fetch_add(1, Ordering::SeqCst);
        self.0.inner.query_ids(collection, query).await
    }
}

fn create(data: Value) -> OpKind {
    OpKind::Create(CreateData {
        doc_type: "json0".into(),
        data: Some(data),
    })
}

fn op(value: Value) -> json0::Op {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn a_lost_commit_race_is_retried_against_the_winner() {
    let db = TestDb::default();
    let backend = Backend::builder().db(db.clone()).build();
    backend
        .submit("c", "d", create(json!({"items": []})))
        .await
        .unwrap();
    let mut ws = RawSocket::connect(serve(backend.clone()).await).await;
    let src = ws.handshake(None).await;

    db.lose_next(1, Some(op(json!([{"p": ["items", 0], "li": "theirs"}]))));
    ws.send(json!({"a": "op", "c": "c", "d": "d", "v": 1, "seq": 1,
        "op": [{"p": ["items", 0], "li": "mine"}]}))
        .await;
    // The rival's op, then the ack of this one, one version later.
    let theirs = ws.next(|m| m["a"] == "op").await;
    assert_eq!(
        theirs,
        json!({"a": "op", "c": "c", "d": "d", "v": 1, "src": "rival", "seq": 1,
            "op": [{"p": ["items", 0], "li": "theirs"}]})
    );
    let ack = ws.next(|m| m["a"] == "op").await;
    assert_eq!(
        ack,
        json!({"a": "op", "c": "c", "d": "d", "src": src, "seq": 1, "v": 2})
    );

    let snapshot = backend.fetch("c", "d").await.unwrap();
    assert_eq!(snapshot.v, 3);
    assert_eq!(
        snapshot.value().cloned(),
        Some(json!({"items": ["mine", "theirs"]}))
    );
    let journal = backend.db().get_ops("c", "d", 0, None).await.unwrap();
    let versions: Vec<(u64, Option<&str>)> =
        journal.iter().map(|op| (op.v, op.src.as_deref())).collect();
    assert_eq!(
        versions,
        vec![(0, None), (1, Some("rival")), (2, Some(src.as_str()))]
    );
    // The create, the lost commit, the retry.
    assert_eq!(TestDb::count(&db.0.commits), 3);
}

#[tokio::test]
async fn losing_more_races_than_allowed_fails_and_stores_nothing() {
    let db = TestDb::default();
    let backend = Backend::builder()
        .db(db.clone())
        .options({
            let mut options = BackendOptions::default();
            options.max_submit_retries = Some(2);
            options
        })
        .build();
    // Created by another server: this one has no snapshot of its own
    // commit to start from, and reads it from the database.
    Backend::builder()
        .db(db.clone())
        .build()
        .submit("c", "d", create(json!({"n": 0})))
        .await
        .unwrap();
    let mut ws = RawSocket::connect(serve(backend.clone()).await).await;
    ws.handshake(None).await;

    db.lose_next(3, None);
    ws.send(
        json!({"a": "op", "c": "c", "d": "d", "v": 1, "seq": 1, "op": [{"p": ["n"], "na": 1}]}),
    )
    .await;
    let reply = ws.next(|m| m["a"] == "op").await;
    assert_eq!(
        reply["error"]["code"], "ERR_MAX_SUBMIT_RETRIES_EXCEEDED",
        "{reply}"
    );
    assert_eq!(reply["seq"], 1);
    assert_eq!(TestDb::count(&db.0.commits), 1 + 3);
    let snapshot = backend.fetch("c", "d").await.unwrap();
    assert_eq!(
        (snapshot.v, snapshot.wire.value().cloned()),
        (1, Some(json!({"n": 0})))
    );

    // Two lost races are within the limit: the third try commits.
    db.lose_next(2, None);
    ws.send(
        json!({"a": "op", "c": "c", "d": "d", "v": 1, "seq": 2, "op": [{"p": ["n"], "na": 1}]}),
    )
    .await;
    let ack = ws.next(|m| m["a"] == "op").await;
    assert!(ack.get("error").is_none(), "{ack}");
    assert_eq!(ack["v"], 1);
    assert_eq!(TestDb::count(&db.0.commits), 1 + 3 + 3);
    assert_eq!(
        backend.fetch("c", "d").await.unwrap().value().cloned(),
        Some(json!({"n": 1}))
    );
}

#[tokio::test]
async fn a_snapshot_kept_from_the_last_commit_is_checked_against_other_servers() {
    let db = TestDb::default();
    let options = {
        let mut options = BackendOptions::default();
        options.max_submit_retries = Some(0);
        options
    };
    let server = |db: &TestDb| {
        Backend::builder()
            .db(db.clone())
            .options(options.clone())
            .build()
    };
    let (a, b) = (server(&db), server(&db));
    let add = |n: f64| OpKind::Edit(op(json!([{"p": ["n"], "na": n}])));
    a.submit("c", "d", create(json!({"n": 0}))).await.unwrap();
    // `a` keeps v1; `b` commits v2 behind its back.
    assert_eq!(b.submit("c", "d", add(1.0)).await.unwrap(), 1);
    // `a`'s copy is stale: its commit fails the version check and it starts
    // again from the database, which is not a lost race (no retries allowed).
    assert_eq!(a.submit("c", "d", add(10.0)).await.unwrap(), 2);
    assert_eq!(
        a.fetch("c", "d").await.unwrap().value().cloned(),
        Some(json!({"n": 11}))
    );

    // A client of `a` that saw `b`'s next op submits on top of it: newer
    // than what `a` kept, so `a` reads the database instead of refusing.
    assert_eq!(b.submit("c", "d", add(100.0)).await.unwrap(), 3);
    let mut ws = RawSocket::connect(serve(a.clone()).await).await;
    ws.handshake(None).await;
    ws.send(json!({"a": "op", "c": "c", "d": "d", "v": 4, "seq": 1,
        "op": [{"p": ["n"], "na": 1000}]}))
        .await;
    let ack = ws.next(|m| m["a"] == "op").await;
    assert!(ack.get("error").is_none(), "{ack}");
    assert_eq!(ack["v"], 4);
    let stored = db.get_snapshot("c", "d").await.unwrap();
    assert_eq!(
        (stored.v, stored.wire.value().cloned()),
        (5, Some(json!({"n": 1111})))
    );
}

/// The `(type, ids)` of the diffs received so far, taking them.
fn diffs(ws: &mut RawSocket) -> Vec<(String, Vec<String>)> {
    ws.take_all()
        .iter()
        .filter(|m| m["a"] == "q")
        .flat_map(|m| m["diff"].as_array().cloned().unwrap_or_default())
        .map(|step| {
            let ids = step["values"]
                .as_array()
                .map(|values| {
                    values
                        .iter()
                        .map(|v| v["d"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (step["type"].as_str().unwrap().to_owned(), ids)
        })
        .collect()
}

/// Reads everything up to now: a diff that has not arrived by then never
/// will (see `RawSocket::flush`).
async fn settle(ws: &mut RawSocket, backend: &Backend) {
    ws.flush(backend).await;
}

#[tokio::test]
async fn a_filter_decided_by_the_document_alone_is_updated_without_querying() {
    let db = TestDb::default();
    let backend = Backend::builder().db(db.clone()).build();
    backend
        .submit("c", "a", create(json!({"kind": "fruit", "n": 1})))
        .await
        .unwrap();
    backend
        .submit("c", "b", create(json!({"kind": "veg", "n": 2})))
        .await
        .unwrap();
    let mut ws = RawSocket::connect(serve(backend.clone()).await).await;
    ws.send(json!({"a": "qs", "id": 1, "c": "c", "q": {"kind": "fruit"}}))
        .await;
    let reply = ws.next(|m| m["a"] == "qs").await;
    assert_eq!(reply["data"][0]["d"], "a");
    assert_eq!(TestDb::count(&db.0.queries), 1);

    let edit = |value: Value| OpKind::Edit(op(value));
    backend
        .submit("c", "e", create(json!({"kind": "fruit", "n": 5})))
        .await
        .unwrap();
    backend
        .submit(
            "c",
            "a",
            edit(json!([{"p": ["kind"], "od": "fruit", "oi": "veg"}])),
        )
        .await
        .unwrap();
    backend
        .submit("c", "f", create(json!({"kind": "veg"})))
        .await
        .unwrap();
    backend
        .submit("c", "e", edit(json!([{"p": ["n"], "na": 1}])))
        .await
        .unwrap();
    backend
        .submit(
            "c",
            "b",
            edit(json!([{"p": ["kind"], "od": "veg", "oi": "fruit"}])),
        )
        .await
        .unwrap();
    ws.seen(|m| m["a"] == "q" && m["diff"][0]["values"][0]["d"] == "b")
        .await;
    settle(&mut ws, &backend).await;
    assert_eq!(
        diffs(&mut ws),
        vec![
            ("insert".into(), vec!["e".into()]),
            ("remove".into(), vec![]),
            ("insert".into(), vec!["b".into()]),
        ]
    );
    assert_eq!(
        TestDb::count(&db.0.queries),
        1,
        "the query ran once, to subscribe"
    );
    assert_eq!(TestDb::count(&db.0.polls), 0, "and was never polled");

    // A sorted query is decided by the whole list: each change polls it.
    ws.send(json!({"a": "qs", "id": 2, "c": "c", "q": {"kind": "fruit", "$sort": {"n": -1}}}))
        .await;
    ws.next(|m| m["a"] == "qs").await;
    backend
        .submit("c", "g", create(json!({"kind": "fruit", "n": 9})))
        .await
        .unwrap();
    crate::util::until("the sorted query polled", || {
        TestDb::count(&db.0.polls) == 1
    })
    .await;
    settle(&mut ws, &backend).await;
    assert_eq!(TestDb::count(&db.0.polls), 1, "once");
}

#[tokio::test]
async fn subscribers_of_one_query_share_its_evaluation_of_each_op() {
    let db = TestDb::default();
    let backend = Backend::builder().db(db.clone()).build();
    for (id, n) in [("a", 1), ("b", 2), ("c", 3)] {
        backend
            .submit("c", id, create(json!({"n": n})))
            .await
            .unwrap();
    }
    let addr = serve(backend.clone()).await;
    let mut sockets = Vec::new();
    for _ in 0..20 {
        let mut ws = RawSocket::connect(addr).await;
        ws.handshake(None).await;
        ws.send(json!({"a": "qs", "id": 1, "c": "c", "q": {"$sort": {"n": -1}}}))
            .await;
        let reply = ws.next(|m| m["a"] == "qs").await;
        assert_eq!(reply["data"].as_array().unwrap().len(), 3);
        sockets.push(ws);
    }

    // Three ops, each moving a document to the top of the results.
    for (k, id) in ["a", "b", "c"].into_iter().enumerate() {
        backend
            .submit(
                "c",
                id,
                OpKind::Edit(op(json!([{"p": ["n"], "na": 10 * (k + 1)}]))),
            )
            .await
            .unwrap();
    }
    for ws in &mut sockets {
        // The last op comes after its query update.
        ws.seen(|m| m["a"] == "op" && m["d"] == "c").await;
        settle(ws, &backend).await;
    }
    // Each op polled once for all 20 subscribers (not 20 times).
    assert_eq!(TestDb::count(&db.0.polls), 3);
}
