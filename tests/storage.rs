//! MongoDB's layout, Redis pub/sub, and several servers on one database
//! and one Redis (PELOTON_TEST_MONGO_URL, PELOTON_TEST_REDIS_URL;
//! `scripts/services.sh start` runs both).

mod util;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{Bson, DateTime, Decimal128, Document, doc, oid::ObjectId};
use peloton::backend::db::{MongoDb, MongoDbOptions};
use peloton::backend::pubsub::{Delivery, Inbox, Mailbox, Message, RedisPubSub};
use peloton::backend::{Backend, Db, Middleware, PubSub, SubmitRequest};
use peloton::client::Connection;
use peloton::model::Model;
use peloton::ot::json0;
use peloton::protocol::{DocOp, ErrorCode, ErrorObject, OpKind};
use serde_json::{Value, json};
use util::{until, with_mongo_database};

const JSON0: &str = "http://sharejs.org/types/JSONv0";

async fn mongo(url: &str) -> MongoDb {
    MongoDb::connect(url).await.unwrap()
}

fn json_op(json: Value) -> json0::Op {
    serde_json::from_value(json).unwrap()
}

async fn raw(db: &MongoDb, collection: &str, filter: Document) -> Vec<Document> {
    db.database()
        .collection::<Document>(collection)
        .find(filter)
        .sort(doc! {"v": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn mongodb_stores_what_sharedb_mongo_stores() {
    with_mongo_database("layout", |url| async move { layout(&url).await }).await;
}

async fn layout(url: &str) {
    let db = mongo(url).await;
    let backend = Backend::builder().db(db.clone()).build();
    let model = Model::new(Connection::new(backend.clone()));
    model
        .create("todos.t1", json!({"title": "milk", "n": 1}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    model
        .increment("todos.t1.n", 1.5)
        .unwrap()
        .acked()
        .await
        .unwrap();
    model
        .create("notes.n1", json!("plain text"))
        .unwrap()
        .acked()
        .await
        .unwrap();
    model.del("todos.t1").unwrap().acked().await.unwrap();

    let notes = raw(&db, "notes", doc! {}).await;
    assert_eq!(
        notes[0].get_str("_data").unwrap(),
        "plain text",
        "non-object data under _data"
    );

    let snapshot = &raw(&db, "todos", doc! {"_id": "t1"}).await[0];
    assert_eq!(
        snapshot.get("_type"),
        Some(&Bson::Null),
        "a deleted doc stays, typeless"
    );
    assert_eq!(snapshot.get("_v"), Some(&Bson::Int32(3)));
    assert!(snapshot.get("title").is_none(), "and dataless");
    let m = snapshot.get_document("_m").unwrap();
    assert!(matches!(m.get("ctime"), Some(Bson::Double(_))));
    assert!(matches!(m.get("mtime"), Some(Bson::Double(_))));
    let create = m.get_document("_create").unwrap();
    assert_eq!(create.get("v"), Some(&Bson::Int32(0)));
    let head = snapshot.get_object_id("_o").unwrap();

    let ops = raw(&db, "o_todos", doc! {"d": "t1"}).await;
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[0].get("v"), Some(&Bson::Int32(0)));
    assert_eq!(
        ops[0]
            .get_document("create")
            .unwrap()
            .get_str("type")
            .unwrap(),
        "http://sharejs.org/types/JSONv0"
    );
    assert!(ops[0].get("o").is_none(), "the first op links nowhere");
    assert_eq!(
        ops[1].get_object_id("o").unwrap(),
        ops[0].get_object_id("_id").unwrap()
    );
    assert_eq!(ops[1].get_array("op").unwrap().len(), 1);
    assert!(ops[2].get_bool("del").unwrap());
    assert_eq!(
        ops[2].get_object_id("_id").unwrap(),
        head,
        "the snapshot links its last op"
    );
    let deleted = ops[2]
        .get_document("m")
        .unwrap()
        .get_document("data")
        .unwrap();
    assert_eq!(
        deleted.get_str("title").unwrap(),
        "milk",
        "a delete keeps the data it removed"
    );
    assert!(matches!(
        ops[1].get_document("m").unwrap().get("ts"),
        Some(Bson::Double(_))
    ));
    assert!(ops[1].get_str("src").is_ok());
    assert!(matches!(ops[1].get("seq"), Some(Bson::Int32(_))));

    let indexes = db
        .database()
        .collection::<Document>("o_todos")
        .list_index_names()
        .await
        .unwrap();
    assert!(
        indexes.iter().any(|i| i.starts_with("d_1_v_1")),
        "{indexes:?}"
    );
    assert!(
        indexes.iter().any(|i| i.starts_with("src_1_seq_1_v_1")),
        "{indexes:?}"
    );
}

fn op(c: &str, d: &str, v: u64) -> Message {
    Message::Op(Arc::new(
        DocOp::new(c, d, v, OpKind::Delete).with_source("s", v),
    ))
}

async fn next(rx: &mut Inbox) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("no delivery")
        .unwrap()
}

#[tokio::test]
async fn redis_pubsub_delivers_across_servers_in_order() {
    let url = util::redis_url();
    let prefix = Some(util::unique());
    let one = RedisPubSub::connect_with_prefix(&url, prefix.clone())
        .await
        .unwrap();
    let two = RedisPubSub::connect_with_prefix(&url, prefix.clone())
        .await
        .unwrap();
    let (tx, mut rx) = Mailbox::new(1024);
    let (tx2, mut rx2) = Mailbox::new(1024);
    let sub = two.subscribe("todos.a", &tx).await.unwrap();
    let _sub_collection = two.subscribe("todos", &tx2).await.unwrap();

    // One publish on two channels reaches each subscriber once.
    one.publish(&["todos".into(), "todos.a".into()], op("todos", "a", 0))
        .await
        .unwrap();
    assert_eq!(&*next(&mut rx).await.channel, "todos.a");
    assert_eq!(&*next(&mut rx2).await.channel, "todos");
    for v in 1..100 {
        one.publish(&["todos.a".into()], op("todos", "a", v))
            .await
            .unwrap();
    }
    for v in 1..100 {
        match next(&mut rx).await.message {
            Message::Op(op) => assert_eq!(op.v, v, "in order"),
            other => panic!("{other:?}"),
        }
    }
    // Garbage on the channel is dropped; delivery goes on.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let channel = format!("{} todos.a", prefix.as_deref().unwrap());
    let _: () = redis::cmd("PUBLISH")
        .arg(&channel)
        .arg("{not json")
        .query_async(&mut raw)
        .await
        .unwrap();
    // And what Node ShareDB publishes is understood.
    let node = r#"{"src":"node","seq":1,"v":7,"op":[{"p":["n"],"na":1}],"c":"todos","d":"a"}"#;
    let _: () = redis::cmd("PUBLISH")
        .arg(&channel)
        .arg(node)
        .query_async(&mut raw)
        .await
        .unwrap();
    match next(&mut rx).await.message {
        Message::Op(op) => assert_eq!((op.v, op.src.as_deref()), (7, Some("node"))),
        other => panic!("{other:?}"),
    }
    // Dropping the subscription stops deliveries. A sentinel on another
    // channel of the same mailboxes shows it: Redis delivers one
    // subscriber's messages in publish order, so what was published before
    // the sentinel would arrive before it.
    let _sentinel = two.subscribe("sentinel", &tx).await.unwrap();
    let _sentinel2 = two.subscribe("sentinel", &tx2).await.unwrap();
    drop(sub);
    one.publish(&["todos.a".into()], op("todos", "a", 8))
        .await
        .unwrap();
    // Without the prefix, another app's messages are not seen.
    let other = RedisPubSub::connect(&url).await.unwrap();
    other
        .publish(&["todos".into()], op("todos", "b", 1))
        .await
        .unwrap();
    one.publish(&["sentinel".into()], op("sentinel", "s", 0))
        .await
        .unwrap();
    assert_eq!(
        &*next(&mut rx).await.channel,
        "sentinel",
        "nothing before it"
    );
    assert_eq!(
        &*next(&mut rx2).await.channel,
        "sentinel",
        "nothing before it"
    );
}

/// A backend on the shared MongoDB and Redis, as one of several servers.
async fn server(url: &str, prefix: &str) -> Backend {
    Backend::builder()
        .db(mongo(url).await)
        .pubsub(
            RedisPubSub::connect_with_prefix(&util::redis_url(), Some(prefix.into()))
                .await
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn two_servers_on_one_database_and_redis_converge() {
    with_mongo_database("cluster", |url| async move {
        let prefix = util::unique();
        let (one, two) = (server(&url, &prefix).await, server(&url, &prefix).await);
        let a = Model::new(Connection::new(one.clone()));
        let b = Model::new(Connection::new(two.clone()));
        a.create("lists.l", json!({"items": [], "n": 0}))
            .unwrap()
            .acked()
            .await
            .unwrap();
        a.subscribe(["lists.l"]).await.unwrap();
        b.subscribe(["lists.l"]).await.unwrap();
        let query = b.query("lists", json!({"n": {"$gte": 0}}));
        b.subscribe([&query]).await.unwrap();

        let work = |model: Model, name: &'static str| async move {
            for i in 0..40 {
                model.push("lists.l.items", format!("{name}{i}")).unwrap();
                model.increment("lists.l.n", 1.0).unwrap();
                if i % 4 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            model.when_nothing_pending().await;
        };
        tokio::join!(work(a.clone(), "a"), work(b.clone(), "b"));
        until("both servers' clients converge", || {
            a.get_value("lists.l") == b.get_value("lists.l")
                && a.get::<u64>("lists.l.n") == Some(80)
        })
        .await;
        let items: Vec<String> = a.get("lists.l.items").unwrap();
        assert_eq!(items.len(), 80, "nothing lost");
        // A document created through one server shows up in the other's live query.
        a.create("lists.m", json!({"items": [], "n": 1}))
            .unwrap()
            .acked()
            .await
            .unwrap();
        until("the other server's query", || {
            query.ids().contains(&"m".to_string())
        })
        .await;
        let stored = one.fetch("lists", "l").await.unwrap();
        assert_eq!(
            stored.value().cloned(),
            util::stored_form(a.get_value("lists.l"))
        );
    })
    .await;
}

#[tokio::test]
async fn reserved_collection_names_are_exactly_sharedb_mongos() {
    with_mongo_database("reserved", |url| async move {
        let backend = Backend::builder().db(mongo(&url).await).build();
        let conn = Connection::new(backend.clone());
        for reserved in ["system", "o_todos", "o_"] {
            let err = conn.get(reserved, "x").fetch().await.unwrap_err();
            let err = err.server_error().unwrap();
            assert_eq!(err.code, ErrorCode::Numeric(4102), "{reserved}: {err:?}");
            assert!(err.message.contains("reserved"), "{err:?}");
        }
        // Names that only start like a reserved one are ordinary.
        for ordinary in ["systems", "system_users", "o", "oo_x"] {
            let doc = conn.get(ordinary, "x");
            doc.create(json!({"n": 1})).unwrap().await.unwrap();
            assert_eq!(
                backend.fetch(ordinary, "x").await.unwrap().v,
                1,
                "{ordinary}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn fields_other_tools_wrote_keep_their_bson_types() {
    with_mongo_database("bson", |url| async move {
        let db = mongo(&url).await;
        let born = DateTime::from_millis(1_700_000_000_123);
        let reference = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let balance: Decimal128 = "1.50".parse().unwrap();
        // Written by another tool: BSON types JSON has not, and no op chain.
        db.database()
            .collection::<Document>("people")
            .insert_one(doc! {
                "_id": "p1", "_type": JSON0, "_v": 1, "_m": {"ctime": 1.0, "mtime": 1.0},
                "name": "Ann", "born": born, "ref": reference, "visits": Bson::Int64(5),
                "balance": balance, "tags": ["a"], "nick": "A",
            })
            .await
            .unwrap();
        let backend = Backend::builder().db(db.clone()).build();
        let conn = Connection::new(backend);
        let person = conn.get("people", "p1");
        person.fetch().await.unwrap();
        // Read as a ShareDB client reads them from Node.
        assert_eq!(
            person.data(),
            Some(json!({
                "name": "Ann", "born": "2023-11-14T22:13:20.123Z",
                "ref": "65a1b2c3d4e5f60718293a4b", "visits": 5,
                "balance": {"$numberDecimal": "1.50"}, "tags": ["a"], "nick": "A",
            }))
        );
        person
            .submit_op(json_op(json!([
                {"p": ["name"], "od": "Ann", "oi": "Anna"},
                {"p": ["tags", 1], "li": "b"},
            ])))
            .unwrap()
            .await
            .unwrap();
        person
            .submit_op(json_op(json!([{"p": ["nick"], "od": "A"}])))
            .unwrap()
            .await
            .unwrap();
        let stored = raw(&db, "people", doc! {"_id": "p1"}).await.remove(0);
        assert_eq!(
            stored.get("born"),
            Some(&Bson::DateTime(born)),
            "untouched Date"
        );
        assert_eq!(
            stored.get("ref"),
            Some(&Bson::ObjectId(reference)),
            "untouched ObjectId"
        );
        assert_eq!(
            stored.get("visits"),
            Some(&Bson::Int64(5)),
            "untouched Int64"
        );
        assert_eq!(
            stored.get("balance"),
            Some(&Bson::Decimal128(balance)),
            "untouched Decimal128"
        );
        assert_eq!(stored.get_str("name").unwrap(), "Anna");
        assert_eq!(
            stored.get_array("tags").unwrap(),
            &vec![Bson::from("a"), Bson::from("b")]
        );
        assert!(stored.get("nick").is_none(), "a removed field is unset");
        assert_eq!(stored.get("_v"), Some(&Bson::Int32(3)));
        assert!(
            stored.get_object_id("_o").is_ok(),
            "the op chain starts here"
        );
        assert!(stored.get_document("_m").unwrap().get_f64("mtime").unwrap() > 1.0);
        // Peloton's ops on the document read back along the new chain.
        let ops = db.get_ops("people", "p1", 1, None).await.unwrap();
        assert_eq!(ops.iter().map(|o| o.v).collect::<Vec<_>>(), [1, 2]);
        // A whole-document edit replaces it: the JSON forms are stored.
        person
            .submit_op(json_op(
                json!([{"p": [], "od": person.data().unwrap(), "oi": {"name": "B"}}]),
            ))
            .unwrap()
            .await
            .unwrap();
        let replaced = raw(&db, "people", doc! {"_id": "p1"}).await.remove(0);
        assert_eq!(replaced.get_str("name").unwrap(), "B");
        assert!(replaced.get("born").is_none());
    })
    .await;
}

#[tokio::test]
async fn live_queries_only_mongodb_decides_follow_every_change() {
    with_mongo_database("live_foreign", |url| async move {
        let backend = Backend::builder().db(mongo(&url).await).build();
        let model = Model::new(Connection::new(backend));
        for (id, n) in [("a", 1), ("b", 5)] {
            model
                .create(&format!("items.{id}"), json!({"n": n, "m": 3}))
                .unwrap()
                .acked()
                .await
                .unwrap();
        }
        // $expr compares two fields: no single-document rule in peloton's
        // matcher, so the query is re-run in MongoDB on each change.
        let bigger = model.query("items", json!({"$expr": {"$gt": ["$n", "$m"]}}));
        let kinds = model.query("items", json!({"$distinct": {"field": "n"}}));
        model.subscribe([&bigger, &kinds]).await.unwrap();
        assert_eq!(bigger.ids(), ["b"]);
        model.subscribe(["items.a"]).await.unwrap();
        model
            .increment("items.a.n", 5.0)
            .unwrap()
            .acked()
            .await
            .unwrap();
        until("a joins", || {
            let mut ids = bigger.ids();
            ids.sort();
            ids == ["a", "b"]
        })
        .await;
        until("the distinct values follow", || {
            kinds.extra() == Some(json!([5, 6])) || kinds.extra() == Some(json!([6, 5]))
        })
        .await;
        model
            .increment("items.a.n", -5.0)
            .unwrap()
            .acked()
            .await
            .unwrap();
        until("a leaves", || bigger.ids() == ["b"]).await;
    })
    .await;
}

/// Adds metadata in the commit hook: `owner` on creates.
struct Owner;

#[async_trait]
impl Middleware for Owner {
    async fn commit(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        if matches!(req.op.kind, OpKind::Create(_)) {
            req.snapshot.m.insert("owner".into(), json!("ann"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn middleware_metadata_is_stored_in_m_and_kept() {
    with_mongo_database("meta", |url| async move {
        let db = mongo(&url).await;
        let with_owner = Backend::builder().db(db.clone()).middleware(Owner).build();
        let model = Model::new(Connection::new(with_owner));
        model
            .create("notes.n", json!({"text": "hi", "n": 0}))
            .unwrap()
            .acked()
            .await
            .unwrap();
        let created = raw(&db, "notes", doc! {"_id": "n"}).await.remove(0);
        let m = created.get_document("_m").unwrap().clone();
        assert_eq!(m.get_str("owner").unwrap(), "ann", "custom metadata in _m");
        // Later commits, through a server without that middleware, keep it.
        let plain = Backend::builder().db(mongo(&url).await).build();
        let other = Model::new(Connection::new(plain.clone()));
        other.subscribe(["notes.n"]).await.unwrap();
        for _ in 0..3 {
            other
                .increment("notes.n.n", 1.0)
                .unwrap()
                .acked()
                .await
                .unwrap();
        }
        other.del("notes.n").unwrap().acked().await.unwrap();
        let stored = raw(&db, "notes", doc! {"_id": "n"}).await.remove(0);
        let kept = stored.get_document("_m").unwrap();
        assert_eq!(
            kept.get_str("owner").unwrap(),
            "ann",
            "survives edits and the delete"
        );
        assert_eq!(kept.get("ctime"), m.get("ctime"));
        assert!(kept.get_f64("mtime").unwrap() >= m.get_f64("mtime").unwrap());
        assert_eq!(stored.get("_v"), Some(&Bson::Int32(5)));
        let snapshot = plain.fetch("notes", "n").await.unwrap();
        assert_eq!(snapshot.m.get("owner"), Some(&json!("ann")));
    })
    .await;
}

#[tokio::test]
async fn a_create_on_a_document_without_create_metadata_is_refused() {
    with_mongo_database("legacy", |url| async move {
        let db = mongo(&url).await;
        // Written before ShareDB kept `_m._create` and `_o`.
        db.database()
            .collection::<Document>("books")
            .insert_one(doc! {"_id": "old", "_type": JSON0, "_v": 1, "title": "Dune"})
            .await
            .unwrap();
        let backend = Backend::builder().db(db.clone()).build();
        let conn = Connection::new(backend.clone());
        let err = conn
            .get("books", "old")
            .create(json!({"title": "again"}))
            .unwrap()
            .await
            .unwrap_err();
        assert_eq!(
            err.server_error().map(|e| &e.code),
            Some(&ErrorCode::DocAlreadyCreated),
            "{err}"
        );
        let stored = backend.fetch("books", "old").await.unwrap();
        assert_eq!(
            (stored.v, stored.wire.value().cloned()),
            (1, Some(json!({"title": "Dune"})))
        );
    })
    .await;
}

#[tokio::test]
async fn ops_node_stored_without_a_source_have_no_seq() {
    with_mongo_database("nullseq", |url| async move {
        let db = mongo(&url).await;
        let first = ObjectId::new();
        // What Node ShareDB stores for a server-side submit (no src/seq):
        // the driver writes `undefined` as null.
        db.database()
            .collection::<Document>("o_docs")
            .insert_one(doc! {
                "_id": first, "src": Bson::Null, "seq": Bson::Null, "v": 0,
                "create": {"type": JSON0, "data": {"n": 1}}, "c": Bson::Null,
                "d": "a", "m": {"ts": 1.0}, "o": Bson::Null,
            })
            .await
            .unwrap();
        db.database()
            .collection::<Document>("docs")
            .insert_one(doc! {"_id": "a", "_type": JSON0, "_v": 1, "_m": {}, "_o": first, "n": 1})
            .await
            .unwrap();
        let ops = db.get_ops("docs", "a", 0, None).await.unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!((ops[0].src.as_deref(), ops[0].seq), (None, None));
    })
    .await;
}

#[tokio::test]
async fn a_failed_snapshot_write_leaves_no_op_behind() {
    with_mongo_database("failed", |url| async move {
        let db = mongo(&url).await;
        // A validator makes the snapshot write fail, not the op insert.
        db.database()
            .run_command(doc! {
                "create": "strict",
                "validator": {"$jsonSchema": {"properties": {"n": {"bsonType": "int"}}}},
            })
            .await
            .unwrap();
        let backend = Backend::builder().db(db.clone()).build();
        let conn = Connection::new(backend.clone());
        let doc = conn.get("strict", "s");
        doc.create(json!({"n": 1})).unwrap().await.unwrap();
        let refused = doc
            .submit_op(json_op(json!([{"p": ["n"], "od": 1, "oi": "one"}])))
            .unwrap()
            .await;
        assert!(refused.is_err(), "the snapshot write failed");
        let ops = db
            .database()
            .collection::<Document>("o_strict")
            .count_documents(doc! {"d": "s"})
            .await
            .unwrap();
        assert_eq!(ops, 1, "only the create's op is stored");
        assert_eq!(backend.fetch("strict", "s").await.unwrap().v, 1);
    })
    .await;
}

#[tokio::test]
async fn op_indexes_are_retried_after_a_failure() {
    with_mongo_database("indexes", |url| async move {
        let options = {
            let mut options = MongoDbOptions::default();
            options.index_retry_delay = Duration::ZERO;
            options
        };
        let db = mongo(&url).await.with_options(options);
        let ops = db.database().collection::<Document>("o_things");
        // An index of the same name with other options makes creation fail.
        let unique = mongodb::IndexModel::builder()
            .keys(doc! {"d": 1, "v": 1})
            .options(
                mongodb::options::IndexOptions::builder()
                    .unique(true)
                    .build(),
            )
            .build();
        ops.create_index(unique).await.unwrap();
        let backend = Backend::builder().db(db.clone()).build();
        backend
            .submit("things", "a", create(json!({"n": 1})))
            .await
            .unwrap();
        let names = ops.list_index_names().await.unwrap();
        assert!(
            !names.iter().any(|n| n.starts_with("src_1_seq_1_v_1")),
            "{names:?}"
        );
        // Once the obstacle is gone, the next use creates them.
        ops.drop_index("d_1_v_1").await.unwrap();
        backend
            .submit("things", "b", create(json!({"n": 2})))
            .await
            .unwrap();
        let names = ops.list_index_names().await.unwrap();
        assert!(names.iter().any(|n| n.starts_with("d_1_v_1")), "{names:?}");
        assert!(
            names.iter().any(|n| n.starts_with("src_1_seq_1_v_1")),
            "{names:?}"
        );
    })
    .await;
}

fn create(data: Value) -> OpKind {
    OpKind::Create(peloton::protocol::CreateData {
        doc_type: JSON0.into(),
        data: Some(data),
    })
}

/// The ids of the Redis clients subscribed to exactly `count` channels.
async fn clients_subscribed_to(
    redis: &mut redis::aio::MultiplexedConnection,
    count: usize,
) -> Vec<String> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(redis)
        .await
        .unwrap();
    list.lines()
        .filter(|line| line.split(' ').any(|field| field == format!("sub={count}")))
        .filter_map(|line| {
            line.split(' ')
                .find_map(|f| f.strip_prefix("id="))
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn a_closed_backend_leaves_no_redis_subscription() {
    let url = util::redis_url();
    let prefix = util::unique();
    let pubsub = RedisPubSub::connect_with_prefix(&url, Some(prefix.clone()))
        .await
        .unwrap();
    let backend = Backend::builder().pubsub(pubsub).build();
    // An unusual number of channels, to tell its connection apart from
    // other tests' in CLIENT LIST.
    const CHANNELS: usize = 13;
    let model = Model::new(Connection::new(backend.clone()));
    for i in 0..CHANNELS - 1 {
        model
            .create(&format!("c{i}.d"), json!({}))
            .unwrap()
            .acked()
            .await
            .unwrap();
    }
    let paths: Vec<String> = (0..CHANNELS - 1).map(|i| format!("c{i}.d")).collect();
    model
        .subscribe(paths.iter().map(String::as_str))
        .await
        .unwrap();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let numsub_connection = redis.clone();
    let numsub = |channel: String| {
        let mut redis = numsub_connection.clone();
        async move {
            let counts: Vec<(String, u64)> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(channel)
                .query_async(&mut redis)
                .await
                .unwrap();
            counts[0].1
        }
    };
    let channel = format!("{prefix} c0.d");
    assert_eq!(numsub(channel.clone()).await, 1);
    // A doc subscription is its doc's channel; a query would add the collection's.
    let ours = {
        let query = model.query("c0", json!({}));
        model.subscribe([&query]).await.unwrap();
        clients_subscribed_to(&mut redis, CHANNELS).await
    };
    assert_eq!(ours.len(), 1, "our subscriber connection: {ours:?}");

    backend.close().await;
    assert_eq!(numsub(channel).await, 0, "no subscription is left");
    let still = clients_subscribed_to(&mut redis, CHANNELS).await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        !list
            .lines()
            .any(|line| line.starts_with(&format!("id={} ", ours[0]))),
        "the subscriber connection is closed: {still:?}"
    );
    // A closed pub/sub refuses work instead of hanging.
    let (tx, _rx) = Mailbox::new(1);
    let closed = RedisPubSub::connect(&url).await.unwrap();
    closed.close().await;
    assert!(closed.subscribe("x", &tx).await.is_err());
    assert!(
        closed
            .publish(&["x".into()], op("c", "d", 1))
            .await
            .is_err()
    );
}

/// A peloton server storing in the MongoDB database at `mongo_url`, in a
/// child process that a test can kill with SIGKILL mid-write. The child is
/// this test binary running only [`child_server`]: the framework's
/// `/channel` route over `MongoDb`, as an app serves it, with nothing to
/// build first. Killed when dropped.
struct ChildServer {
    child: std::process::Child,
    url: String,
}

/// Where [`child_server`] learns what to serve: set only in its process.
const CHILD_MONGO_URL: &str = "PELOTON_TEST_CHILD_MONGO_URL";
const CHILD_ADDR: &str = "PELOTON_TEST_CHILD_ADDR";

impl ChildServer {
    async fn start(mongo_url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "child_server",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_MONGO_URL, mongo_url)
            .env(CHILD_ADDR, &addr)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the child server starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(&addr).await.is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the child server exited at start: {status}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the child server never listened"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            url: format!("ws://{addr}/channel"),
        }
    }

    /// A model connected to it over its WebSocket.
    fn model(&self) -> Model {
        Model::new(Connection::new(
            peloton::client::transport::WebSocketConnector::new(self.url.clone()),
        ))
    }

    /// Kills it at once (SIGKILL): no graceful shutdown, ops in flight.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The body of a [`ChildServer`] process; in an ordinary test run (no
/// `PELOTON_TEST_CHILD_*` variables) it returns at once.
#[tokio::test]
async fn child_server() {
    let (Ok(url), Ok(addr)) = (std::env::var(CHILD_MONGO_URL), std::env::var(CHILD_ADDR)) else {
        return;
    };
    let backend = Backend::builder().db(mongo(&url).await).build();
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    let app = peloton::axum::channel_route(backend);
    axum::serve(listener, app).await.unwrap();
}

#[tokio::test]
async fn a_killed_server_has_every_acknowledged_op_exactly_once() {
    with_mongo_database(
        "restart",
        |url| async move { restart_under_load(&url).await },
    )
    .await;
}

async fn restart_under_load(url: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const WRITERS: usize = 4;
    let mut first = ChildServer::start(url).await;
    let setup = first.model();
    setup
        .create("counters.shared", json!({"log": []}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    let acked_total = Arc::new(AtomicUsize::new(0));
    // Each writer, on its own connection, appends unique values to the
    // shared document and to its own, both in flight at once; it keeps
    // what was acknowledged.
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let model = first.model();
            let acked_total = acked_total.clone();
            tokio::spawn(async move {
                let own = format!("counters.w{w}");
                model
                    .create(&own, json!({"log": []}))
                    .unwrap()
                    .acked()
                    .await
                    .unwrap();
                model.subscribe(["counters.shared"]).await.unwrap();
                let (mut shared_acked, mut own_acked) = (Vec::new(), Vec::new());
                for k in 0.. {
                    let value = format!("w{w}-{k}");
                    let (Ok(a), Ok(b)) = (
                        model.push("counters.shared.log", &value),
                        model.push(&format!("{own}.log"), &value),
                    ) else {
                        break;
                    };
                    let both = tokio::time::timeout(Duration::from_secs(2), async {
                        tokio::join!(a.acked(), b.acked())
                    });
                    match both.await {
                        Ok((a, b)) => {
                            if a.is_ok() {
                                shared_acked.push(value.clone());
                                acked_total.fetch_add(1, Ordering::Relaxed);
                            }
                            if b.is_ok() {
                                own_acked.push(value);
                            }
                            if a.is_err() || b.is_err() {
                                break;
                            }
                        }
                        Err(_) => break, // the server is gone
                    }
                }
                if let Some(connection) = model.connection() {
                    connection.close();
                }
                (shared_acked, own_acked)
            })
        })
        .collect();
    // The MongoDB-wire server here serves about a hundred writes a
    // second, fewer while the other storage tests use it too.
    util::until_within("the writers are under way", Duration::from_secs(60), || {
        acked_total.load(Ordering::Relaxed) >= 30
    })
    .await;
    first.kill();
    let mut acked = Vec::new();
    for writer in writers {
        acked.push(writer.await.unwrap());
    }
    assert!(acked.iter().all(|(shared, _)| !shared.is_empty()));

    // Start again on the same database.
    let second = ChildServer::start(url).await;
    let check = second.model();
    let paths: Vec<String> = std::iter::once("counters.shared".to_owned())
        .chain((0..WRITERS).map(|w| format!("counters.w{w}")))
        .collect();
    check
        .subscribe(paths.iter().map(String::as_str))
        .await
        .unwrap();
    let shared: Vec<String> = check.get("counters.shared.log").unwrap();
    let shared_version = check
        .connection()
        .map(|c| c.get("counters", "shared").version());
    assert_eq!(
        Some(Some(shared.len() as u64 + 1)),
        shared_version,
        "one op per stored value (and the create)"
    );
    let mut seen = std::collections::HashSet::new();
    assert!(
        shared.iter().all(|v| seen.insert(v)),
        "nothing stored twice: {shared:?}"
    );
    let acknowledged: usize = acked.iter().map(|(shared, _)| shared.len()).sum();
    eprintln!(
        "killed with {} shared ops stored, {acknowledged} acknowledged",
        shared.len()
    );
    for (w, (shared_acked, own_acked)) in acked.iter().enumerate() {
        for value in shared_acked {
            assert!(seen.contains(value), "acknowledged {value} is stored");
        }
        let own: Vec<String> = check.get(&format!("counters.w{w}.log")).unwrap();
        assert!(
            own.starts_with(own_acked) && own.len() <= own_acked.len() + 1,
            "writer {w}: its acknowledged ops, in order, and at most the one in flight: \
             {own:?} vs {own_acked:?}"
        );
    }
    // The restarted server serves the documents on.
    check
        .push("counters.shared.log", "after")
        .unwrap()
        .acked()
        .await
        .unwrap();
}
