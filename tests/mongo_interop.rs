//! One MongoDB database, two servers: Node ShareDB with sharedb-mongo and
//! peloton. Each reads, queries and edits what the other wrote. Needs Node
//! and the packages of `interop/sharedb-mongo` (`scripts/setup.sh` installs
//! them) and PELOTON_TEST_MONGO_URL.

mod util;

use std::path::Path;
use std::process::Command;

use peloton::backend::Backend;
use peloton::backend::db::MongoDb;
use peloton::client::Connection;
use peloton::model::Model;
use serde_json::{Value, json};

/// Runs a step of `interop/sharedb-mongo/step.js`; its JSON output.
fn node(url: &str, step: &str) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/sharedb-mongo");
    assert!(
        dir.join("node_modules").exists(),
        "interop/sharedb-mongo has no node_modules: run `scripts/setup.sh` (./run test does)"
    );
    let output = Command::new("node")
        .arg("step.js")
        .arg(url)
        .arg(step)
        .current_dir(&dir)
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
    let base = util::mongo_url();
    let url = format!("{}/interop_{}", base.trim_end_matches('/'), util::unique());

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
