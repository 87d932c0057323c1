//! Pub/sub channel names collide (`a.b` is collection `a.b` and document
//! `b` of collection `a`); what a connection receives must not.

use peloton::backend::Backend;
use peloton::protocol::{CreateData, OpKind};
use serde_json::{Value, json};

use crate::util::{RawSocket, serve};

fn create(who: &str) -> OpKind {
    OpKind::Create(CreateData {
        doc_type: "json0".into(),
        data: Some(json!({"who": who})),
    })
}

#[tokio::test]
async fn colliding_channels_deliver_each_op_where_it_belongs() {
    let backend = Backend::new();
    let mut watcher = RawSocket::connect(serve(backend.clone()).await).await;
    // Document `a`/`b` and collection `a.b` share the channel `a.b`;
    // documents `a.b`/`c` and `a`/`b.c` share `a.b.c`.
    watcher.send(json!({"a": "s", "c": "a", "d": "b"})).await;
    watcher.send(json!({"a": "s", "c": "a.b", "d": "c"})).await;
    watcher
        .send(json!({"a": "qs", "id": 1, "c": "a.b", "q": {}}))
        .await;
    watcher.next(|m| m["a"] == "qs").await;

    for (c, d) in [("a", "b.c"), ("a.b", "x"), ("a.b", "c"), ("a", "b")] {
        backend
            .submit(c, d, create(&format!("{c}/{d}")))
            .await
            .unwrap();
    }
    // Everything published up to now, and nothing more.
    watcher.flush(&backend).await;

    let messages: Vec<Value> = watcher
        .take_all()
        .into_iter()
        .filter(|m| m["c"] != crate::util::SENTINEL)
        .collect();
    let ops: Vec<(String, String)> = messages
        .iter()
        .filter(|m| m["a"] == "op")
        .map(|m| {
            // Each op is the document it names.
            assert_eq!(
                m["create"]["data"]["who"],
                format!("{}/{}", m["c"].as_str().unwrap(), m["d"].as_str().unwrap())
            );
            (
                m["c"].as_str().unwrap().to_owned(),
                m["d"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The two subscribed documents, once each; nothing of `a`/`b.c`,
    // and `a.b`/`x` only as a query result.
    assert_eq!(
        ops,
        vec![("a.b".into(), "c".into()), ("a".into(), "b".into())],
        "{messages:?}"
    );
    let inserted: Vec<&Value> = messages
        .iter()
        .filter(|m| m["a"] == "q")
        .flat_map(|m| m["diff"].as_array().unwrap())
        .flat_map(|step| step["values"].as_array().unwrap())
        .map(|value| &value["d"])
        .collect();
    assert_eq!(inserted, vec!["x", "c"], "{messages:?}");
}
