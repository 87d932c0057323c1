//! MongoDB's layout, Redis pub/sub, and several servers on one database
//! and one Redis (PELOTON_TEST_MONGO_URL, PELOTON_TEST_REDIS_URL;
//! `scripts/services.sh start` runs both).

mod util;

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use peloton::backend::db::MongoDb;
use peloton::backend::pubsub::{Delivery, Message, RedisPubSub};
use peloton::backend::{Backend, PubSub};
use peloton::client::Connection;
use peloton::model::Model;
use peloton::protocol::{DocOp, OpKind};
use serde_json::json;
use tokio::sync::mpsc;
use util::until;

async fn mongo(name: &str) -> MongoDb {
    let url = util::mongo_url();
    MongoDb::connect(&format!("{}/{name}", url.trim_end_matches('/')))
        .await
        .unwrap()
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
    let db = mongo(&format!("layout_{}", util::unique())).await;
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
    // Reserved names are refused.
    assert!(backend.fetch("o_todos", "x").await.is_err());
}

fn op(c: &str, d: &str, v: u64) -> Message {
    Message::Op(Arc::new(
        DocOp::new(c, d, v, OpKind::Delete).with_source("s", v),
    ))
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
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
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (tx2, mut rx2) = mpsc::unbounded_channel();
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
    // Dropping the subscription stops deliveries.
    drop(sub);
    tokio::time::sleep(Duration::from_millis(100)).await;
    one.publish(&["todos.a".into()], op("todos", "a", 8))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err());
    // Without the prefix, another app's messages are not seen.
    let other = RedisPubSub::connect(&url).await.unwrap();
    other
        .publish(&["todos".into()], op("todos", "b", 1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx2.try_recv().is_err());
}

/// A backend on the shared MongoDB and Redis, as one of several servers.
async fn server(db_name: &str, prefix: &str) -> Backend {
    Backend::builder()
        .db(mongo(db_name).await)
        .pubsub(
            RedisPubSub::connect_with_prefix(&util::redis_url(), Some(prefix.into()))
                .await
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn two_servers_on_one_database_and_redis_converge() {
    let (db_name, prefix) = (format!("cluster_{}", util::unique()), util::unique());
    let (one, two) = (
        server(&db_name, &prefix).await,
        server(&db_name, &prefix).await,
    );
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
        a.get_value("lists.l") == b.get_value("lists.l") && a.get::<u64>("lists.l.n") == Some(80)
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
    assert_eq!(stored.data, util::stored_form(a.get_value("lists.l")));
}

#[tokio::test]
async fn a_restarted_server_has_every_acknowledged_op() {
    let (db_name, prefix) = (format!("restart_{}", util::unique()), util::unique());
    let first = server(&db_name, &prefix).await;
    let model = Model::new(Connection::new(first.clone()));
    model
        .create("counters.c", json!({"n": 0, "log": []}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    // Load: a writer that only counts what was acknowledged.
    let writer = {
        let model = model.clone();
        tokio::spawn(async move {
            let mut acked = 0u64;
            for i in 0..1000 {
                let write = match model.push("counters.c.log", i) {
                    Ok(write) => write,
                    Err(_) => break,
                };
                match tokio::time::timeout(Duration::from_secs(2), write.acked()).await {
                    Ok(Ok(_)) => acked += 1,
                    _ => break,
                }
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.close().await; // stop the server under load
    let acked = writer.await.unwrap();
    assert!(acked > 0, "some ops were acknowledged before the stop");

    let second = server(&db_name, &prefix).await;
    let snapshot = second.fetch("counters", "c").await.unwrap();
    let log = snapshot.data.unwrap()["log"].as_array().unwrap().len() as u64;
    assert!(
        log >= acked,
        "every acknowledged op is there: {log} stored, {acked} acknowledged"
    );
    assert_eq!(log, snapshot.v - 1, "and nothing twice");
    // The restarted server serves the document on.
    let again = Model::new(Connection::new(second));
    again.subscribe(["counters.c"]).await.unwrap();
    again
        .push("counters.c.log", "after")
        .unwrap()
        .acked()
        .await
        .unwrap();
}
