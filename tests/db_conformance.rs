//! One conformance suite for every `Db`: MemoryDb, and MongoDb against a
//! real MongoDB-wire server (PELOTON_TEST_MONGO_URL; `scripts/services.sh
//! start` runs one).

mod util;

use std::sync::Arc;

use peloton::backend::db::MongoDb;
use peloton::backend::query::Query;
use peloton::backend::{Db, MemoryDb, Snapshot};
use peloton::ot::json0::{Component, Op};
use peloton::protocol::{CreateData, DocOp, OpKind, OpMeta};
use serde_json::{Map, Value, json};

/// A Db to test: a fresh one per test.
async fn mongo() -> MongoDb {
    let url = util::mongo_url();
    let name = format!("conformance_{}", util::unique());
    MongoDb::connect(&format!("{}/{name}", url.trim_end_matches('/')))
        .await
        .unwrap()
}

fn op(v: u64, kind: OpKind) -> Arc<DocOp> {
    Arc::new(
        DocOp::new("things", "x", v, kind)
            .with_source("tester", v + 1)
            .with_meta(OpMeta {
                ts: Some(1000.0 + v as f64),
                data: None,
            }),
    )
}

fn create(data: Value) -> OpKind {
    OpKind::Create(CreateData {
        doc_type: "http://sharejs.org/types/JSONv0".into(),
        data: Some(data),
    })
}

fn edit(c: Component) -> OpKind {
    OpKind::Edit(Op::from(c))
}

fn snapshot(id: &str, v: u64, data: Option<Value>, previous: &Snapshot) -> Snapshot {
    Snapshot {
        id: id.into(),
        v,
        doc_type: data
            .as_ref()
            .map(|_| "http://sharejs.org/types/JSONv0".into()),
        data,
        m: Map::from_iter([("mtime".to_string(), json!(1000 + v))]),
        op_link: previous.op_link.clone(),
    }
}

/// Commits `kind` on top of what is stored, producing `data`.
async fn commit(db: &dyn Db, c: &str, id: &str, kind: OpKind, data: Option<Value>) -> bool {
    let current = db.get_snapshot(c, id).await.unwrap();
    let mut o = (*op(current.v, kind)).clone();
    o.c = c.into();
    o.d = id.into();
    let next = snapshot(id, current.v + 1, data, &current);
    db.commit(c, id, &Arc::new(o), &next).await.unwrap()
}

async fn snapshots_and_ops(db: &dyn Db) {
    let missing = db.get_snapshot("things", "x").await.unwrap();
    assert_eq!(
        (missing.v, missing.exists(), missing.data),
        (0, false, None)
    );

    assert!(
        commit(
            db,
            "things",
            "x",
            create(json!({"n": 1})),
            Some(json!({"n": 1}))
        )
        .await
    );
    assert!(
        commit(
            db,
            "things",
            "x",
            edit(Component::number_add(["n"], 2.0)),
            Some(json!({"n": 3}))
        )
        .await
    );
    let s = db.get_snapshot("things", "x").await.unwrap();
    assert_eq!((s.v, s.data.clone()), (2, Some(json!({"n": 3}))));
    assert_eq!(s.m.get("mtime"), Some(&json!(1002)), "metadata round trip");

    assert!(commit(db, "things", "x", OpKind::Delete, None).await);
    let deleted = db.get_snapshot("things", "x").await.unwrap();
    assert_eq!(
        (deleted.v, deleted.exists(), deleted.data),
        (3, false, None)
    );
    assert!(
        commit(
            db,
            "things",
            "x",
            create(json!([1, 2])),
            Some(json!([1, 2]))
        )
        .await,
        "re-create"
    );
    let again = db.get_snapshot("things", "x").await.unwrap();
    assert_eq!(
        (again.v, again.data),
        (4, Some(json!([1, 2]))),
        "non-object data"
    );

    let all = db.get_ops("things", "x", 0, None).await.unwrap();
    assert_eq!(all.iter().map(|o| o.v).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert!(matches!(all[0].kind, OpKind::Create(_)));
    assert!(matches!(all[2].kind, OpKind::Delete));
    assert_eq!(all[1].src.as_deref(), Some("tester"));
    assert_eq!(all[1].m.ts, Some(1001.0));
    let middle = db.get_ops("things", "x", 1, Some(3)).await.unwrap();
    assert_eq!(middle.iter().map(|o| o.v).collect::<Vec<_>>(), [1, 2]);
    assert!(db.get_ops("things", "x", 4, None).await.unwrap().is_empty());
    assert!(
        db.get_ops("things", "x", 2, Some(2))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.get_ops("things", "nope", 0, None)
            .await
            .unwrap()
            .is_empty()
    );

    let bulk = db
        .get_snapshot_bulk("things", &["x".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(bulk["x"].v, 4);
    assert!(!bulk["nope"].exists());
}

async fn conflicting_commits(db: &dyn Db) {
    assert!(
        commit(
            db,
            "things",
            "race",
            create(json!({"n": 0})),
            Some(json!({"n": 0}))
        )
        .await
    );
    let base = db.get_snapshot("things", "race").await.unwrap();
    let attempt = |n: i64| {
        let mut o = (*op(1, edit(Component::number_add(["n"], n as f64)))).clone();
        o.d = "race".into();
        o.seq = Some(100 + n as u64);
        (
            Arc::new(o),
            snapshot("race", 2, Some(json!({"n": n})), &base),
        )
    };
    let (a, sa) = attempt(1);
    let (b, sb) = attempt(2);
    let (ra, rb) = tokio::join!(
        db.commit("things", "race", &a, &sa),
        db.commit("things", "race", &b, &sb)
    );
    assert_eq!(
        ra.unwrap() as u8 + rb.unwrap() as u8,
        1,
        "exactly one commit of v2 wins"
    );
    let ops = db.get_ops("things", "race", 0, None).await.unwrap();
    assert_eq!(ops.len(), 2, "the loser left nothing behind");
    let stored = db.get_snapshot("things", "race").await.unwrap();
    assert_eq!(stored.v, 2);
    let winner = if stored.data == Some(json!({"n": 1})) {
        101
    } else {
        102
    };
    assert_eq!(ops[1].seq, Some(winner));
    // Also the very first version.
    let fresh = Snapshot::missing("new");
    let first = |n: u64| {
        let mut o = (*op(0, create(json!({"n": n})))).clone();
        o.d = "new".into();
        (
            Arc::new(o),
            snapshot("new", 1, Some(json!({"n": n})), &fresh),
        )
    };
    let ((a, sa), (b, sb)) = (first(1), first(2));
    let (ra, rb) = tokio::join!(
        db.commit("things", "new", &a, &sa),
        db.commit("things", "new", &b, &sb)
    );
    assert_eq!(
        ra.unwrap() as u8 + rb.unwrap() as u8,
        1,
        "exactly one create of v1 wins"
    );
    assert_eq!(db.get_ops("things", "new", 0, None).await.unwrap().len(), 1);
}

async fn queries(db: &dyn Db) {
    let docs = [
        (
            "a",
            json!({"kind": "fruit", "n": 3, "tags": ["red"], "owner": {"name": "ann"}}),
        ),
        (
            "b",
            json!({"kind": "veg", "n": 1, "tags": ["green", "red"], "owner": {"name": "bob"}}),
        ),
        (
            "c",
            json!({"kind": "fruit", "n": 7, "owner": {"name": "bob"}}),
        ),
        ("d", json!({"kind": "grain", "n": 5, "extra": null})),
        ("e", json!({"kind": "fruit", "n": 1.5})),
    ];
    for (id, data) in &docs {
        assert!(commit(db, "food", id, create(data.clone()), Some(data.clone())).await);
    }
    // A deleted document never matches.
    assert!(
        commit(
            db,
            "food",
            "gone",
            create(json!({"kind": "fruit"})),
            Some(json!({"kind": "fruit"}))
        )
        .await
    );
    assert!(commit(db, "food", "gone", OpKind::Delete, None).await);

    let ids = |expr: Value| async move {
        let results = db
            .query("food", &Query::parse(&expr).unwrap())
            .await
            .unwrap();
        (
            results
                .snapshots
                .into_iter()
                .map(|s| s.id)
                .collect::<Vec<_>>(),
            results.extra,
        )
    };
    let sorted = |expr: Value| async move {
        let mut found = ids(expr).await.0;
        found.sort();
        found
    };
    assert_eq!(sorted(json!({"kind": "fruit"})).await, ["a", "c", "e"]);
    assert_eq!(
        sorted(json!({"kind": {"$in": ["veg", "grain"]}})).await,
        ["b", "d"]
    );
    assert_eq!(
        sorted(json!({"kind": {"$nin": ["fruit", "veg"]}})).await,
        ["d"]
    );
    assert_eq!(sorted(json!({"kind": {"$ne": "fruit"}})).await, ["b", "d"]);
    assert_eq!(sorted(json!({"n": {"$gt": 3}})).await, ["c", "d"]);
    assert_eq!(sorted(json!({"n": {"$gte": 3}})).await, ["a", "c", "d"]);
    assert_eq!(sorted(json!({"n": {"$lt": 1.5}})).await, ["b"]);
    assert_eq!(sorted(json!({"n": {"$lte": 1.5}})).await, ["b", "e"]);
    assert_eq!(sorted(json!({"tags": {"$exists": true}})).await, ["a", "b"]);
    assert_eq!(sorted(json!({"extra": {"$exists": true}})).await, ["d"]);
    assert_eq!(
        sorted(json!({"tags": "red"})).await,
        ["a", "b"],
        "array elements"
    );
    assert_eq!(
        sorted(json!({"owner.name": "bob"})).await,
        ["b", "c"],
        "nested path"
    );
    assert_eq!(
        sorted(json!({"$and": [{"kind": "fruit"}, {"n": {"$gt": 2}}]})).await,
        ["a", "c"]
    );
    assert_eq!(
        sorted(json!({"$or": [{"kind": "veg"}, {"n": {"$gte": 7}}]})).await,
        ["b", "c"]
    );
    assert_eq!(
        ids(json!({"$sort": {"n": 1}})).await.0,
        ["b", "e", "a", "d", "c"]
    );
    assert_eq!(
        ids(json!({"kind": "fruit", "$sort": {"n": -1}})).await.0,
        ["c", "a", "e"]
    );
    assert_eq!(
        ids(json!({"$sort": {"n": 1}, "$skip": 1, "$limit": 2}))
            .await
            .0,
        ["e", "a"]
    );
    assert_eq!(
        ids(json!({"kind": "fruit", "$count": true})).await,
        (vec![], Some(json!(3)))
    );
    assert_eq!(
        ids(json!({"kind": "none", "$count": true})).await,
        (vec![], Some(json!(0)))
    );
    let (found, extra) = db
        .query_ids(
            "food",
            &Query::parse(&json!({"n": {"$lt": 2}, "$sort": {"n": -1}})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        (found, extra),
        (vec!["e".to_string(), "b".to_string()], None)
    );
}

macro_rules! conformance {
    ($name:ident, $db:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn snapshots_and_ops() {
                super::snapshots_and_ops(&$db).await;
            }

            #[tokio::test]
            async fn conflicting_commits() {
                super::conflicting_commits(&$db).await;
            }

            #[tokio::test]
            async fn queries() {
                super::queries(&$db).await;
            }
        }
    };
}

conformance!(memory, MemoryDb::new());
conformance!(mongodb, mongo().await);
