//! One MongoDB database (and one Redis), two servers: Node ShareDB with
//! sharedb-mongo (and sharedb-redis-pubsub) and peloton. Each reads, queries
//! and edits what the other wrote, and sees the other's ops live. Needs Node
//! and the packages of `interop/sharedb-mongo` (`scripts/setup.sh` installs
//! them), PELOTON_TEST_MONGO_URL and PELOTON_TEST_REDIS_URL.

mod util;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use peloton::backend::Backend;
use peloton::backend::db::MongoDb;
use peloton::backend::pubsub::RedisPubSub;
use peloton::client::Connection;
use peloton::model::Model;
use serde_json::{Value, json};
use util::until;

/// `node step.js <args>` in `interop/sharedb-mongo`, not yet run.
fn step_js(args: &[&str]) -> Command {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/sharedb-mongo");
    assert!(
        dir.join("node_modules").exists(),
        "interop/sharedb-mongo has no node_modules: run `scripts/setup.sh` (./run test does)"
    );
    let mut command = Command::new("node");
    command.arg("step.js").args(args).current_dir(&dir);
    command
}

/// Runs a step of `interop/sharedb-mongo/step.js`; its JSON output.
fn node(url: &str, step: &str) -> Value {
    node_with(url, step, &[])
}

/// Runs a step with more arguments.
fn node_with(url: &str, step: &str, args: &[&str]) -> Value {
    let mut all = vec![url, step];
    all.extend_from_slice(args);
    let output = step_js(&all)
        .output()
        .expect("node is needed for the interop tests");
    assert!(
        output.status.success(),
        "node step {step} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn node_sharedb_and_peloton_share_a_mongodb_database() {
    util::with_mongo_database("interop", |url| async move { share_a_database(&url).await }).await;
}

async fn share_a_database(url: &str) {
    let url = url.to_owned();

    // Node writes.
    let written = node(&url, "write");
    assert_eq!(written["b1"]["v"], json!(2));

    // peloton reads, queries and edits it.
    let backend = Backend::builder()
        .db(MongoDb::connect(&url).await.unwrap())
        .build();
    let model = Model::new(Connection::new(backend.clone()));
    model
        .subscribe(["books.b1", "books.gone", "notes.n1"])
        .await
        .unwrap();
    assert_eq!(
        model.get_value("books.b1"),
        Some(json!({"title": "Dune", "year": 1965, "tags": ["sf", "classic"], "id": "b1"}))
    );
    assert_eq!(
        model.get_value("notes.n1"),
        Some(json!("plain text, stored under _data"))
    );
    assert_eq!(model.get_value("books.gone"), None, "deleted by Node");
    let ops = backend.db().get_ops("books", "b1", 0, None).await.unwrap();
    assert_eq!(ops.len(), 2, "Node's op chain is followed");
    let recent = model.query("books", json!({"year": {"$gt": 1970}}));
    model.fetch([&recent]).await.unwrap();
    assert_eq!(recent.ids(), ["b3"]);

    model
        .set("books.b1.year", 1966)
        .unwrap()
        .acked()
        .await
        .unwrap();
    model
        .create(
            "books.b2",
            json!({"title": "Left Hand of Darkness", "year": 1969}),
        )
        .unwrap()
        .acked()
        .await
        .unwrap();
    model.push("books.b3.tags", "classic").ok(); // not loaded: refused locally
    model.subscribe(["books.b3"]).await.unwrap();
    model
        .push("books.b3.tags", "classic")
        .unwrap()
        .acked()
        .await
        .unwrap();

    // Node reads what peloton wrote, and edits it.
    let read = node(&url, "read");
    assert_eq!(read["b1"]["data"]["year"], json!(1966));
    assert_eq!(read["b1"]["v"], json!(3));
    assert_eq!(
        read["b2"]["data"]["title"],
        json!("The Left Hand of Darkness")
    );
    assert_eq!(read["b2"]["v"], json!(2));
    assert_eq!(read["query"], json!(["b3"]));
    assert_eq!(
        read["b1AtV2"],
        json!({"title": "Dune", "year": 1965, "tags": ["sf", "classic"]})
    );

    // And peloton sees Node's edit of its document.
    let check = Model::new(Connection::new(backend));
    check.fetch(["books.b2"]).await.unwrap();
    assert_eq!(
        check.get_value("books.b2.title"),
        Some(json!("The Left Hand of Darkness"))
    );
    check
        .set("books.b2.year", 1970)
        .unwrap()
        .acked()
        .await
        .unwrap();
}

#[tokio::test]
async fn node_sharedb_and_peloton_share_one_redis_live() {
    util::with_mongo_database("live", |url| async move { share_redis(&url).await }).await;
}

async fn share_redis(url: &str) {
    let url = url.to_owned();
    let prefix = util::unique();
    let backend = Backend::builder()
        .db(MongoDb::connect(&url).await.unwrap())
        .pubsub(
            RedisPubSub::connect_with_prefix(&util::redis_url(), Some(prefix.clone()))
                .await
                .unwrap(),
        )
        .build();
    let model = Model::new(Connection::new(backend.clone()));
    model
        .create("pads.p", json!({"title": "shared"}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    model.subscribe(["pads.p"]).await.unwrap();

    // Node subscribes through its own server, then says it is ready.
    let redis = util::redis_url();
    let mut child = step_js(&[&url, "live", &redis, &prefix, "pads", "p"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node is needed for the interop tests");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        out.read_line(&mut line).map(|_| (line, out))
    });
    let (line, mut out) = tokio::time::timeout(std::time::Duration::from_secs(20), ready)
        .await
        .expect("node never became ready")
        .unwrap()
        .unwrap();
    assert_eq!(line.trim(), "ready");

    // peloton's op reaches Node's subscriber through Redis, and Node's
    // answer reaches peloton's.
    model
        .set("pads.p.fromPeloton", "hello from peloton")
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("Node's op, through Redis", || {
        model.get_value("pads.p.fromNode") == Some(json!("hello from Node"))
    })
    .await;
    let answer = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        out.read_to_string(&mut rest).map(|_| rest)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(child.wait().unwrap().success(), "node step live failed");
    let answer: Value = serde_json::from_str(answer.trim()).unwrap();
    assert_eq!(answer["seen"], json!("hello from peloton"));
    assert_eq!(answer["seenAt"], json!(2));
    assert_eq!(answer["v"], json!(3));
    assert_eq!(model.get_value("pads.p.title"), Some(json!("shared")));
}

#[tokio::test]
async fn bson_other_tools_wrote_reads_as_node_sharedb_sends_it() {
    util::with_mongo_database("bson_interop", |url| async move {
        use mongodb::bson::{Binary, Bson, DateTime, Decimal128, Document, doc, oid::ObjectId};
        let db = MongoDb::connect(&url).await.unwrap();
        let decimal: Decimal128 = "12.50".parse().unwrap();
        db.database()
            .collection::<Document>("things")
            .insert_one(doc! {
                "_id": "t", "_type": "http://sharejs.org/types/JSONv0", "_v": 1,
                "at": DateTime::from_millis(1_234_567_890_123),
                "early": DateTime::from_millis(-1),
                "ref": ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap(),
                "big": Bson::Int64(1 << 40), "small": Bson::Int64(7), "ratio": 2.0, "half": 0.5,
                "price": decimal,
                "blob": Binary { subtype: mongodb::bson::spec::BinarySubtype::Generic, bytes: b"peloton".to_vec() },
                "nested": {"when": DateTime::from_millis(0), "list": [DateTime::from_millis(86_400_000)]},
            })
            .await
            .unwrap();
        let from_node = node_with(&url, "show", &["things", "t"]);
        let backend = Backend::builder().db(db).build();
        let ours = backend.fetch("things", "t").await.unwrap();
        assert_eq!(ours.value(), Some(&from_node["data"]), "peloton reads what Node sends");
        assert_eq!(from_node["data"]["at"], json!("2009-02-13T23:31:30.123Z"));
    })
    .await;
}

#[tokio::test]
async fn milestones_are_shared_with_sharedb_milestone_mongo() {
    util::with_mongo_database("milestone_interop", |url| async move {
        use peloton::backend::{BackendOptions, Limits};
        use peloton::ot::json0::{Component, Op};
        let db = MongoDb::connect(&url).await.unwrap();
        // Rebuilding from version 0 would replay more than 3 ops: every past
        // snapshot below starts from a milestone.
        let mut limits = Limits::default();
        limits.max_replay_ops = 3;
        let mut options = BackendOptions::default();
        options.limits = limits;
        let backend = Backend::builder()
            .milestones(db.milestones().with_interval(5))
            .db(db)
            .options(options)
            .build();
        let connection = Connection::new(backend.clone());

        // peloton's milestones, read by Node's sharedb-milestone-mongo.
        let doc = connection.get("counters", "ours");
        doc.create(json!({"n": 0})).unwrap().await.unwrap();
        for _ in 0..11 {
            let add = Op::from(Component::number_add(["n"], 1.0));
            doc.submit_op(add).unwrap().await.unwrap();
        }
        let mut from_node = Value::Null;
        for _ in 0..200 {
            from_node = node_with(&url, "milestone", &["counters", "ours", "12"]);
            if from_node["v"] == json!(10) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            from_node["v"],
            json!(10),
            "Node finds peloton's latest milestone"
        );
        assert_eq!(from_node["data"], json!({"n": 9}));
        assert_eq!(from_node["type"], json!("http://sharejs.org/types/JSONv0"));
        assert!(from_node["m"]["mtime"].is_number());
        let at_7 = connection
            .fetch_snapshot("counters", "ours", Some(7))
            .await
            .unwrap();
        assert_eq!(
            at_7.value().cloned(),
            Some(json!({"n": 6})),
            "rebuilt from the milestone at v5"
        );

        // Node ShareDB's milestones, read by peloton.
        let theirs = node_with(&url, "milestones", &["counters", "theirs"]);
        assert_eq!(theirs["v"], json!(12));
        let at_12 = connection
            .fetch_snapshot("counters", "theirs", Some(12))
            .await
            .unwrap();
        assert_eq!(at_12.value().cloned(), Some(json!({"n": 11})));
        let at_11 = connection
            .fetch_snapshot("counters", "theirs", Some(11))
            .await
            .unwrap();
        assert_eq!(
            at_11.value().cloned(),
            Some(json!({"n": 10})),
            "Node's milestone at v10 and one op"
        );
        let too_far = connection
            .fetch_snapshot("counters", "theirs", Some(4))
            .await;
        assert!(too_far.is_err(), "from v0 it is 4 ops, past the limit of 3");
    })
    .await;
}
