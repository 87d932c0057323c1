//! One conformance suite for every `Db`: MemoryDb, and MongoDb against a
//! real MongoDB-wire server (PELOTON_TEST_MONGO_URL; `scripts/services.sh
//! start` runs one). Both answer every check identically, except where a
//! check says which database evaluates MongoDB's own operators.

mod util;

use std::sync::Arc;

use async_trait::async_trait;
use mongodb::bson::doc;
use peloton::backend::db::MongoDb;
use peloton::backend::query::{ParsedQuery, QueryError};
use peloton::backend::{Db, DbError, MemoryDb, StoredSnapshot};
use peloton::ot::json0::{Component, Op};
use peloton::protocol::{CreateData, DocOp, OpKind, OpMeta, Snapshot};
use serde_json::{Map, Value, json};

/// A database under test, with what the suite needs to look behind its
/// `Db` interface.
#[async_trait]
trait Subject: Db {
    /// How many op records the database holds for a document, committed
    /// or not (what a lost commit race may leave behind).
    async fn stored_ops(&self, collection: &str, id: &str) -> u64;

    /// Whether it evaluates MongoDB's own operators (`$expr`, `$type:
    /// "int"`, ...) beyond what every database does.
    fn runs_mongodb_operators(&self) -> bool;
}

#[async_trait]
impl Subject for MemoryDb {
    async fn stored_ops(&self, collection: &str, id: &str) -> u64 {
        // MemoryDb keeps committed ops only.
        self.get_ops(collection, id, 0, None).await.unwrap().len() as u64
    }

    fn runs_mongodb_operators(&self) -> bool {
        false
    }
}

#[async_trait]
impl Subject for MongoDb {
    async fn stored_ops(&self, collection: &str, id: &str) -> u64 {
        self.database()
            .collection::<::mongodb::bson::Document>(&format!("o_{collection}"))
            .count_documents(doc! {"d": id})
            .await
            .unwrap()
    }

    fn runs_mongodb_operators(&self) -> bool {
        true
    }
}

/// Runs a check on a fresh MongoDb in its own database, dropped afterwards.
async fn on_mongo<F>(check: impl FnOnce(MongoDb) -> F)
where
    F: std::future::Future<Output = ()>,
{
    util::with_mongo_database("conformance", |url| async move {
        check(MongoDb::connect(&url).await.unwrap()).await;
    })
    .await;
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

fn snapshot(id: &str, v: u64, data: Option<Value>, previous: &StoredSnapshot) -> StoredSnapshot {
    StoredSnapshot {
        id: id.into(),
        wire: Snapshot {
            v,
            doc_type: data
                .as_ref()
                .map(|_| "http://sharejs.org/types/JSONv0".into()),
            data: data.map(Into::into),
        },
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
    let mut next = snapshot(id, current.v + 1, data, &current);
    let committed = db.commit(c, id, &Arc::new(o), &mut next).await.unwrap();
    if committed {
        // The contract the submit pipeline relies on to keep its copy.
        assert_eq!(
            db.get_snapshot(c, id).await.unwrap(),
            next,
            "after a commit, the snapshot passed in is what the database holds"
        );
    }
    committed
}

async fn snapshots_and_ops(db: &dyn Subject) {
    let missing = db.get_snapshot("things", "x").await.unwrap();
    assert_eq!(
        (missing.v, missing.exists(), missing.wire.data),
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
    assert_eq!((s.v, s.value().cloned()), (2, Some(json!({"n": 3}))));
    assert_eq!(s.m.get("mtime"), Some(&json!(1002)), "metadata round trip");

    assert!(commit(db, "things", "x", OpKind::Delete, None).await);
    let deleted = db.get_snapshot("things", "x").await.unwrap();
    assert_eq!(
        (deleted.v, deleted.exists(), deleted.wire.data),
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
        (again.v, again.wire.value().cloned()),
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

    // Which version an op (by src and seq) was committed at: how a resent
    // create is told from a second one.
    let committed = |seq| db.committed_op_version("things", "x", "tester", seq);
    assert_eq!(committed(2).await.unwrap(), Some(1));
    assert_eq!(committed(4).await.unwrap(), Some(3));
    assert_eq!(committed(99).await.unwrap(), None);
    assert_eq!(
        db.committed_op_version("things", "x", "stranger", 2)
            .await
            .unwrap(),
        None
    );
}

async fn conflicting_commits(db: &dyn Subject) {
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
    let (a, mut sa) = attempt(1);
    let (b, mut sb) = attempt(2);
    let (ra, rb) = tokio::join!(
        db.commit("things", "race", &a, &mut sa),
        db.commit("things", "race", &b, &mut sb)
    );
    assert_eq!(
        ra.unwrap() as u8 + rb.unwrap() as u8,
        1,
        "exactly one commit of v2 wins"
    );
    let ops = db.get_ops("things", "race", 0, None).await.unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(
        db.stored_ops("things", "race").await,
        2,
        "the loser left nothing behind"
    );
    let stored = db.get_snapshot("things", "race").await.unwrap();
    assert_eq!(stored.v, 2);
    let winner = if stored.value().cloned() == Some(json!({"n": 1})) {
        101
    } else {
        102
    };
    assert_eq!(ops[1].seq, Some(winner));
    // Also the very first version.
    let fresh = StoredSnapshot::never_created("new");
    let first = |n: u64| {
        let mut o = (*op(0, create(json!({"n": n})))).clone();
        o.d = "new".into();
        (
            Arc::new(o),
            snapshot("new", 1, Some(json!({"n": n})), &fresh),
        )
    };
    let ((a, mut sa), (b, mut sb)) = (first(1), first(2));
    let (ra, rb) = tokio::join!(
        db.commit("things", "new", &a, &mut sa),
        db.commit("things", "new", &b, &mut sb)
    );
    assert_eq!(
        ra.unwrap() as u8 + rb.unwrap() as u8,
        1,
        "exactly one create of v1 wins"
    );
    assert_eq!(db.get_ops("things", "new", 0, None).await.unwrap().len(), 1);
    assert_eq!(
        db.stored_ops("things", "new").await,
        1,
        "nor did the losing create"
    );
}

/// The documents every query check runs over, in `food`; plus `gone`,
/// created and deleted, which no query may find.
async fn food(db: &dyn Subject) {
    let docs = [
        (
            "a",
            json!({"kind": "fruit", "n": 3, "tags": ["red"], "owner": {"name": "ann"},
                   "name": "Apple", "items": [{"k": 1, "c": "red"}, {"k": 5, "c": "blue"}]}),
        ),
        (
            "b",
            json!({"kind": "veg", "n": 1, "tags": ["green", "red"], "owner": {"name": "bob"},
                   "name": "broccoli", "items": [{"k": 2, "c": "red"}]}),
        ),
        (
            "c",
            json!({"kind": "fruit", "n": 7, "owner": {"name": "bob"}, "name": "cherry"}),
        ),
        (
            "d",
            json!({"kind": "grain", "n": 5, "extra": null, "name": "durum"}),
        ),
        (
            "e",
            json!({"kind": "fruit", "n": 1.5, "tags": [], "name": "elderberry"}),
        ),
    ];
    for (id, data) in &docs {
        assert!(commit(db, "food", id, create(data.clone()), Some(data.clone())).await);
    }
    let gone = json!({"kind": "fruit", "n": 3, "name": "gone"});
    assert!(commit(db, "food", "gone", create(gone.clone()), Some(gone)).await);
    assert!(commit(db, "food", "gone", OpKind::Delete, None).await);
}

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

/// The ids (in result order) and extra of a query on `food`.
async fn run(
    db: &dyn Subject,
    expression: &Value,
) -> Result<(Vec<String>, Option<Value>), DbError> {
    let query = ParsedQuery::parse(expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
    let results = db.query("food", &query).await?;
    let ids = results
        .snapshots
        .into_iter()
        .map(|s| s.id)
        .collect::<Vec<_>>();
    // query_ids (what live queries poll) agrees with query.
    assert_eq!(
        db.query_ids("food", &query).await?,
        (ids.clone(), results.extra.clone()),
        "query_ids of {expression}"
    );
    Ok((ids, results.extra))
}

async fn queries(db: &dyn Subject) {
    food(db).await;
    // Filters: the ids found, in any order.
    let filters = [
        (json!({}), &["a", "b", "c", "d", "e"][..]),
        (json!({"kind": "fruit"}), &["a", "c", "e"]),
        (json!({"kind": {"$eq": "veg"}}), &["b"]),
        (json!({"kind": {"$in": ["veg", "grain"]}}), &["b", "d"]),
        (json!({"kind": {"$nin": ["fruit", "veg"]}}), &["d"]),
        (json!({"kind": {"$ne": "fruit"}}), &["b", "d"]),
        (json!({"n": {"$gt": 3}}), &["c", "d"]),
        (json!({"n": {"$gte": 3}}), &["a", "c", "d"]),
        (json!({"n": {"$lt": 1.5}}), &["b"]),
        (json!({"n": {"$lte": 1.5}}), &["b", "e"]),
        (json!({"n": {"$gt": 1, "$lt": 5}}), &["a", "e"]),
        (json!({"n": {"$not": {"$gt": 3}}}), &["a", "b", "e"]),
        (json!({"tags": {"$exists": true}}), &["a", "b", "e"]),
        (json!({"tags": {"$exists": false}}), &["c", "d"]),
        (json!({"extra": {"$exists": true}}), &["d"]),
        (json!({"extra": {"$exists": false}}), &["a", "b", "c", "e"]),
        // null equals null and a missing field; $type "null" only null.
        (json!({"extra": null}), &["a", "b", "c", "d", "e"]),
        (json!({"tags": null}), &["c", "d"]),
        (json!({"extra": {"$ne": null}}), &[]),
        (json!({"tags": {"$ne": null}}), &["a", "b", "e"]),
        (
            json!({"extra": {"$in": [null, 1]}}),
            &["a", "b", "c", "d", "e"],
        ),
        (json!({"extra": {"$type": "null"}}), &["d"]),
        // Arrays: elements, sizes, all-of, positions.
        (json!({"tags": "red"}), &["a", "b"]),
        (json!({"tags": ["green", "red"]}), &["b"]),
        (json!({"tags": {"$size": 2}}), &["b"]),
        (json!({"tags": {"$size": 0}}), &["e"]),
        (json!({"tags": {"$all": ["red", "green"]}}), &["b"]),
        (json!({"tags": {"$all": ["red"]}}), &["a", "b"]),
        (json!({"tags.0": "red"}), &["a"]),
        (json!({"tags.0": "green"}), &["b"]),
        (json!({"tags.1": {"$exists": true}}), &["b"]),
        (json!({"items.k": 5}), &["a"]),
        (json!({"items.0.c": "red"}), &["a", "b"]),
        (
            json!({"items": {"$elemMatch": {"k": {"$gte": 2}, "c": "red"}}}),
            &["b"],
        ),
        (json!({"items": {"$elemMatch": {"c": "blue"}}}), &["a"]),
        (json!({"tags": {"$elemMatch": {"$eq": "green"}}}), &["b"]),
        // Nested paths, ids, logic.
        (json!({"owner.name": "bob"}), &["b", "c"]),
        (json!({"owner": {"name": "ann"}}), &["a"]),
        (json!({"_id": "b"}), &["b"]),
        (json!({"_id": {"$in": ["a", "c", "zz"]}}), &["a", "c"]),
        (json!({"_id": {"$gt": "c"}}), &["d", "e"]),
        (json!({"_id": {"$ne": "a"}, "kind": "fruit"}), &["c", "e"]),
        (
            json!({"$and": [{"kind": "fruit"}, {"n": {"$gt": 2}}]}),
            &["a", "c"],
        ),
        (
            json!({"$or": [{"kind": "veg"}, {"n": {"$gte": 7}}]}),
            &["b", "c"],
        ),
        (json!({"$nor": [{"kind": "fruit"}, {"n": 5}]}), &["b"]),
        // $regex, $mod, $type.
        (json!({"name": {"$regex": "^[a-c]"}}), &["b", "c"]),
        (
            json!({"name": {"$regex": "^[a-c]", "$options": "i"}}),
            &["a", "b", "c"],
        ),
        (json!({"name": {"$regex": "rr"}}), &["c", "e"]),
        (json!({"name": {"$not": {"$regex": "e"}}}), &["b", "d"]),
        (json!({"tags": {"$regex": "^gr"}}), &["b"]),
        (json!({"n": {"$mod": [3, 1]}}), &["b", "c", "e"]),
        (
            json!({"n": {"$type": "number"}}),
            &["a", "b", "c", "d", "e"],
        ),
        (json!({"owner": {"$type": "object"}}), &["a", "b", "c"]),
        (json!({"tags": {"$type": "array"}}), &["a", "b", "e"]),
        (json!({"tags": {"$type": "string"}}), &["a", "b"]),
        (json!({"name": {"$type": 2}, "n": {"$lt": 2}}), &["b", "e"]),
        // Options that only tune how a query runs.
        (json!({"kind": "veg", "$comment": "from the suite"}), &["b"]),
    ];
    for (expression, expected) in filters {
        let (mut found, extra) = run(db, &expression).await.unwrap();
        found.sort();
        assert_eq!((found, extra), (strings(expected), None), "{expression}");
    }
    // Sorts, pages and counts: the ids in order, or the count.
    let ordered = [
        (json!({"$sort": {"n": 1}}), &["b", "e", "a", "d", "c"][..]),
        (
            json!({"kind": "fruit", "$sort": {"n": -1}}),
            &["c", "a", "e"],
        ),
        (json!({"$orderby": {"n": -1}}), &["c", "d", "a", "e", "b"]),
        (
            json!({"$sort": {"kind": 1, "n": -1}}),
            &["c", "a", "e", "d", "b"],
        ),
        (
            json!({"$sort": {"owner.name": -1, "n": 1}}),
            &["b", "c", "a", "e", "d"],
        ),
        (
            json!({"$sort": {"n": 1}, "$skip": 1, "$limit": 2}),
            &["e", "a"],
        ),
        (json!({"$sort": {"_id": -1}, "$limit": 2}), &["e", "d"]),
        (json!({"$sort": {"n": 1}, "$skip": 4}), &["c"]),
        (json!({"$sort": {"n": 1}, "$skip": 9}), &[]),
    ];
    for (expression, expected) in ordered {
        let (found, extra) = run(db, &expression).await.unwrap();
        assert_eq!((found, extra), (strings(expected), None), "{expression}");
    }
    let counts = [
        (json!({"kind": "fruit", "$count": true}), 3),
        (json!({"kind": "none", "$count": true}), 0),
        (json!({"$count": true, "$skip": 4}), 1),
        (json!({"$count": true, "$limit": 2}), 2),
        (
            json!({"kind": "fruit", "$count": true, "$skip": 1, "$limit": 1}),
            1,
        ),
        (
            json!({"kind": "fruit", "$count": true, "$skip": 2, "$limit": 5}),
            1,
        ),
    ];
    for (expression, expected) in counts {
        let found = run(db, &expression).await.unwrap();
        assert_eq!(found, (vec![], Some(json!(expected))), "{expression}");
    }
}

/// MongoDB's own operators: MongoDb runs them, MemoryDb refuses them by
/// name; a query both refuse is refused by both.
async fn database_operators(db: &dyn Subject) {
    food(db).await;
    let mongodb_only = [
        (
            json!({"$expr": {"$gt": ["$n", 4]}}),
            &["c", "d"][..],
            "$expr",
        ),
        (
            json!({"n": {"$type": "int"}}),
            &["a", "b", "c", "d"],
            "$type",
        ),
        (json!({"n": {"$type": "double"}}), &["e"], "$type"),
        (
            json!({"n": {"$bitsAllSet": [0]}}),
            &["a", "b", "c", "d"],
            "$bitsAllSet",
        ),
        (
            json!({"$jsonSchema": {"required": ["extra"]}}),
            &["d"],
            "$jsonSchema",
        ),
        // A pattern Rust's regex cannot compile but PCRE can.
        (json!({"name": {"$regex": "^(?=c)"}}), &["c"], "$regex"),
        (json!({"$distinct": {"field": "kind"}}), &[], "$distinct"),
    ];
    for (expression, expected, operator) in mongodb_only {
        let outcome = run(db, &expression).await;
        if db.runs_mongodb_operators() {
            let (mut found, _) = outcome.unwrap_or_else(|e| panic!("{expression}: {e}"));
            found.sort();
            assert_eq!(found, expected, "{expression}");
        } else {
            match outcome {
                Err(DbError::Query(QueryError::Unsupported {
                    operator: named, ..
                })) => {
                    assert_eq!(named, operator, "{expression}");
                }
                other => panic!("{expression}: {other:?}"),
            }
        }
    }
    if db.runs_mongodb_operators() {
        let (_, extra) = run(db, &json!({"$distinct": {"field": "kind"}}))
            .await
            .unwrap();
        let mut kinds: Vec<String> = serde_json::from_value(extra.unwrap()).unwrap();
        kinds.sort();
        assert_eq!(kinds, ["fruit", "grain", "veg"], "deleted docs excluded");
    }
    // Refused everywhere.
    for expression in [json!({"$where": "this.n > 1"}), json!({"a": {"$foo": 1}})] {
        assert!(
            matches!(run(db, &expression).await, Err(DbError::Query(_))),
            "{expression}"
        );
    }
}

/// A query asked again answers from the database as it is now: every
/// commit since is in the results (MemoryDb remembers results only until
/// its collection changes).
async fn queries_see_every_commit(db: &dyn Subject) {
    food(db).await;
    let fruit = json!({"kind": "fruit", "$sort": {"n": 1}});
    let count = json!({"kind": "fruit", "$count": true});
    let sorted = |ids: &[&str]| (strings(ids), None);
    for _ in 0..2 {
        assert_eq!(run(db, &fruit).await.unwrap(), sorted(&["e", "a", "c"]));
        assert_eq!(run(db, &count).await.unwrap(), (vec![], Some(json!(3))));
    }
    // An edit that moves a result.
    let c = db.get_snapshot("food", "c").await.unwrap();
    let mut data = c.wire.data.clone().map(|d| d.into_value()).unwrap();
    data["n"] = json!(-1);
    let set = Component::object_replace(["n"], json!(7), json!(-1));
    assert!(commit(db, "food", "c", edit(set), Some(data)).await);
    assert_eq!(run(db, &fruit).await.unwrap(), sorted(&["c", "e", "a"]));
    // A new document, and one deleted.
    let fig = json!({"kind": "fruit", "n": 2, "name": "fig"});
    assert!(commit(db, "food", "f", create(fig.clone()), Some(fig)).await);
    assert!(commit(db, "food", "a", OpKind::Delete, None).await);
    assert_eq!(run(db, &fruit).await.unwrap(), sorted(&["c", "e", "f"]));
    assert_eq!(run(db, &count).await.unwrap(), (vec![], Some(json!(3))));
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(&super::MemoryDb::new()).await;
                }
            )*
        }

        mod mongo {
            $(
                #[tokio::test]
                async fn $check() {
                    super::on_mongo(|db| async move { super::$check(&db).await }).await;
                }
            )*
        }
    };
}

conformance!(
    snapshots_and_ops,
    conflicting_commits,
    queries,
    queries_see_every_commit,
    database_operators
);

#[test]
fn test_urls_keep_their_options() {
    use util::with_database;
    assert_eq!(
        with_database("mongodb://127.0.0.1:27017", "t1"),
        "mongodb://127.0.0.1:27017/t1"
    );
    assert_eq!(
        with_database("mongodb://127.0.0.1:27017/", "t1"),
        "mongodb://127.0.0.1:27017/t1"
    );
    assert_eq!(
        with_database("mongodb://u:p%2Fw@h1:1,h2:2/todos", "t1"),
        "mongodb://u:p%2Fw@h1:1,h2:2/t1?authSource=todos",
        "the database named in the URL stays the one to authenticate against"
    );
    assert_eq!(
        with_database("mongodb://h/todos?authSource=admin&w=majority", "t1"),
        "mongodb://h/t1?authSource=admin&w=majority"
    );
    assert_eq!(
        with_database("mongodb+srv://h.example.com/?retryWrites=true", "t1"),
        "mongodb+srv://h.example.com/t1?retryWrites=true"
    );
    assert_eq!(
        with_database("mongodb://h/todos?w=1", "t1"),
        "mongodb://h/t1?w=1&authSource=todos"
    );
}
