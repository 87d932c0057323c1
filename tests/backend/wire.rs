//! Protocol messages over a real WebSocket, frame by frame: bulk requests,
//! catching up from versions, resumed queries, unsubscribing, and the
//! edges of the wire (nulls, strings for numbers, sizes, overflows).

use std::net::SocketAddr;

use peloton::backend::{Backend, BackendOptions};
use peloton::protocol::{CreateData, OpKind};
use serde_json::{Value, json};

use crate::util::{RawSocket, SENTINEL, serve};

fn create(data: Value) -> OpKind {
    OpKind::Create(CreateData {
        doc_type: "json0".into(),
        data: Some(data),
    })
}

fn set(key: &str, value: Value) -> OpKind {
    OpKind::Edit(serde_json::from_value(json!([{"p": [key], "oi": value}])).unwrap())
}

/// A backend with documents `c`/`d1`..`d3`, each `{"n": i}` at version 1.
async fn with_docs() -> (Backend, SocketAddr) {
    let backend = Backend::new();
    for i in 1..=3 {
        backend
            .submit("c", &format!("d{i}"), create(json!({"n": i})))
            .await
            .unwrap();
    }
    let addr = serve(backend.clone()).await;
    (backend, addr)
}

/// The ops of documents received so far, as `(d, v)`, taking them.
fn ops(socket: &mut RawSocket) -> Vec<(String, u64)> {
    socket
        .take_all()
        .into_iter()
        .filter(|m| m["a"] == "op" && m["c"] != SENTINEL)
        .map(|m| {
            (
                m["d"].as_str().unwrap().to_owned(),
                m["v"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Reads everything up to now: an op that has not arrived by then never
/// will (see `RawSocket::flush`).
async fn settle(socket: &mut RawSocket, backend: &Backend) {
    socket.flush(backend).await;
}

#[tokio::test]
async fn bulk_fetch_by_ids_and_by_versions() {
    let (backend, addr) = with_docs().await;
    backend.submit("c", "d2", set("x", json!(1))).await.unwrap();
    let mut ws = RawSocket::connect(addr).await;

    ws.send(json!({"a": "bf", "c": "c", "b": ["d1", "d2", "nope"]}))
        .await;
    assert_eq!(
        ws.next(|m| m["a"] == "bf").await,
        json!({"a": "bf", "c": "c", "data": {
            "d1": {"v": 1, "data": {"n": 1}},
            "d2": {"v": 2, "data": {"n": 2, "x": 1}},
            "nope": {"v": 0, "type": null},
        }})
    );

    // With versions: the ops since, then the request's `b` echoed.
    ws.send(json!({"a": "bf", "c": "c", "b": {"d1": 1, "d2": 0}}))
        .await;
    let reply = ws.next(|m| m["a"] == "bf").await;
    assert_eq!(reply, json!({"a": "bf", "c": "c", "b": {"d1": 1, "d2": 0}}));
    assert_eq!(ops(&mut ws), vec![("d2".into(), 0), ("d2".into(), 1)]);

    // A fetch subscribes to nothing.
    backend.submit("c", "d1", set("x", json!(2))).await.unwrap();
    settle(&mut ws, &backend).await;
    assert_eq!(ops(&mut ws), vec![]);
}

#[tokio::test]
async fn subscribing_from_versions_sends_what_was_missed_then_what_follows() {
    let (backend, addr) = with_docs().await;
    backend.submit("c", "d1", set("x", json!(1))).await.unwrap();
    let mut ws = RawSocket::connect(addr).await;

    ws.send(json!({"a": "s", "c": "c", "d": "d1", "v": 1}))
        .await;
    assert_eq!(
        ws.next(|m| m["a"] == "s").await,
        json!({"a": "s", "c": "c", "d": "d1"})
    );
    ws.send(json!({"a": "bs", "c": "c", "b": {"d2": 0, "d3": 1}}))
        .await;
    assert_eq!(
        ws.next(|m| m["a"] == "bs").await,
        json!({"a": "bs", "c": "c", "b": {"d2": 0, "d3": 1}})
    );
    assert_eq!(ops(&mut ws), vec![("d1".into(), 1), ("d2".into(), 0)]);

    for d in ["d1", "d2", "d3"] {
        backend.submit("c", d, set("y", json!(d))).await.unwrap();
    }
    ws.seen(|m| m["a"] == "op" && m["d"] == "d3").await;
    settle(&mut ws, &backend).await;
    assert_eq!(
        ops(&mut ws),
        vec![("d1".into(), 2), ("d2".into(), 1), ("d3".into(), 1)]
    );
}

#[tokio::test]
async fn unsubscribing_stops_the_ops() {
    let (backend, addr) = with_docs().await;
    let mut ws = RawSocket::connect(addr).await;
    ws.send(json!({"a": "s", "c": "c", "d": "d1"})).await;
    ws.send(json!({"a": "bs", "c": "c", "b": ["d2", "d3"]}))
        .await;
    ws.next(|m| m["a"] == "bs").await;

    ws.send(json!({"a": "u", "c": "c", "d": "d1"})).await;
    assert_eq!(
        ws.next(|m| m["a"] == "u").await,
        json!({"a": "u", "c": "c", "d": "d1"})
    );
    ws.send(json!({"a": "bu", "c": "c", "b": ["d2"]})).await;
    assert_eq!(
        ws.next(|m| m["a"] == "bu").await,
        json!({"a": "bu", "c": "c", "b": ["d2"]})
    );
    ws.take_all();

    for d in ["d1", "d2", "d3"] {
        backend.submit("c", d, set("y", json!(d))).await.unwrap();
    }
    ws.seen(|m| m["a"] == "op" && m["d"] == "d3").await;
    settle(&mut ws, &backend).await;
    assert_eq!(ops(&mut ws), vec![("d3".into(), 1)]);
}

#[tokio::test]
async fn a_query_unsubscribed_sends_nothing_more() {
    let (backend, addr) = with_docs().await;
    let mut ws = RawSocket::connect(addr).await;
    ws.send(json!({"a": "qs", "id": 1, "c": "c", "q": {"n": {"$gte": 2}}}))
        .await;
    let reply = ws.next(|m| m["a"] == "qs").await;
    assert_eq!(reply["data"].as_array().unwrap().len(), 2, "{reply}");

    // While subscribed: ops of results are forwarded, matches inserted.
    backend.submit("c", "d2", set("y", json!(1))).await.unwrap();
    backend
        .submit("c", "d4", create(json!({"n": 4})))
        .await
        .unwrap();
    ws.seen(|m| m["a"] == "q").await;
    settle(&mut ws, &backend).await;
    let seen = ws.take_all();
    assert!(
        seen.iter().any(|m| m["a"] == "op" && m["d"] == "d2"),
        "{seen:?}"
    );
    assert!(seen.iter().any(|m| m["a"] == "q"), "{seen:?}");

    ws.send(json!({"a": "qu", "id": 1})).await;
    assert_eq!(
        ws.next(|m| m["a"] == "qu").await,
        json!({"a": "qu", "id": 1})
    );
    backend.submit("c", "d2", set("y", json!(2))).await.unwrap();
    backend
        .submit("c", "d5", create(json!({"n": 5})))
        .await
        .unwrap();
    settle(&mut ws, &backend).await;
    let after = ws.take_all();
    assert!(after.iter().all(|m| m["a"] == "pp"), "after qu: {after:?}");
}

#[tokio::test]
async fn a_resumed_query_catches_up_and_sends_only_changes() {
    let (backend, addr) = with_docs().await;
    // The client had d1 at v1 and d2 at v1, both matching; since then d1
    // changed, d2 stopped matching and d3 started.
    backend.submit("c", "d1", set("x", json!(1))).await.unwrap();
    backend
        .submit("c", "d2", set("hidden", json!(true)))
        .await
        .unwrap();
    let mut ws = RawSocket::connect(addr).await;
    let q = json!({"hidden": {"$ne": true}, "n": {"$in": [1, 2, 3]}});
    ws.send(json!({"a": "qs", "id": 9, "c": "c", "q": q,
        "r": [["d1", 1], ["d2", 1], ["d4", null]]}))
        .await;
    let reply = ws.next(|m| m["a"] == "qs").await;
    // d4 (no version given) came as a snapshot: it does not exist.
    assert_eq!(
        reply,
        json!({"a": "qs", "id": 9, "data": {"d4": {"v": 0, "type": null}}})
    );
    let before = ws.take_all();
    let ops: Vec<(&Value, &Value)> = before
        .iter()
        .filter(|m| m["a"] == "op")
        .map(|m| (&m["d"], &m["v"]))
        .collect();
    assert_eq!(
        ops,
        vec![(&json!("d1"), &json!(1)), (&json!("d2"), &json!(1))]
    );
    let diffs: Vec<&Value> = before
        .iter()
        .filter(|m| m["a"] == "q")
        .flat_map(|m| m["diff"].as_array().unwrap())
        .collect();
    // From [d1, d2, d4] to [d1, d3].
    assert_eq!(
        diffs,
        vec![
            &json!({"type": "remove", "index": 1, "howMany": 2}),
            &json!({"type": "insert", "index": 1, "values": [{"d": "d3", "v": 1, "data": {"n": 3}}]}),
        ]
    );
}

#[tokio::test]
async fn null_ops_and_string_protocols_are_read_as_sharedb_reads_them() {
    let (backend, addr) = with_docs().await;
    let mut ws = RawSocket::connect(addr).await;
    ws.send(json!({"a": "hs", "id": null, "protocol": "1", "protocolMinor": "2"}))
        .await;
    let hs = ws.next(|m| m["a"] == "hs").await;
    assert!(hs.get("error").is_none(), "{hs}");
    assert_eq!(hs["protocol"], 1);
    let src = hs["id"].as_str().unwrap();

    ws.send(json!({"a": "op", "c": "c", "d": "d1", "v": 1, "src": src, "seq": 1, "op": null}))
        .await;
    let reply = ws.next(|m| m["a"] == "op").await;
    assert_eq!(reply["error"]["code"], "ERR_OT_OP_BADLY_FORMED", "{reply}");
    assert_eq!(reply["seq"], 1);
    assert_eq!(backend.fetch("c", "d1").await.unwrap().v, 1);
}

#[tokio::test]
async fn oversized_messages_get_errors_the_sender_can_match_then_a_close() {
    let backend = Backend::builder()
        .options({
            let mut options = BackendOptions::default();
            options.max_message_bytes = 4096;
            options.max_read_bytes = 64 << 10;
            options
        })
        .build();
    backend
        .submit("c", "d", create(json!({"text": ""})))
        .await
        .unwrap();
    let mut ws = RawSocket::connect(serve(backend.clone()).await).await;
    let src = ws.handshake(None).await;

    // Over the limit, within what is read: an error echoing the request.
    let big = "x".repeat(10_000);
    ws.send(
        json!({"a": "op", "c": "c", "d": "d", "v": 1, "src": src, "seq": 7,
        "op": [{"p": ["text", 0], "si": big}]}),
    )
    .await;
    let reply = ws.next(|m| m.get("error").is_some()).await;
    assert_eq!(reply["a"], "op");
    assert_eq!(
        (&reply["c"], &reply["d"], &reply["seq"], &reply["v"]),
        (&json!("c"), &json!("d"), &json!(7), &json!(1))
    );
    assert_eq!(reply["src"], json!(src));
    assert!(reply.get("op").is_none(), "the body is not echoed");
    assert_eq!(reply["error"]["code"], "ERR_MESSAGE_BADLY_FORMED");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("over the limit of 4096 bytes"),
        "{reply}"
    );
    ws.sync().await;

    // Over what is read: the connection is closed, saying why.
    ws.send_text("y".repeat(100_000)).await;
    let (code, reason) = ws.closed().await.expect("a close frame");
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("over the limit of 65536 bytes"), "{reason}");
    assert_eq!(backend.fetch("c", "d").await.unwrap().v, 1);
}

#[tokio::test]
async fn the_largest_presence_version_departs_without_overflowing() {
    let addr = serve(Backend::new()).await;
    let mut ann = RawSocket::connect(addr).await;
    let mut bob = RawSocket::connect(addr).await;
    bob.send(json!({"a": "ps", "ch": "room", "seq": 1})).await;
    bob.next(|m| m["a"] == "ps").await;
    ann.send(json!({"a": "ps", "ch": "room", "seq": 1})).await;
    ann.next(|m| m["a"] == "ps").await;
    ann.send(json!({"a": "p", "ch": "room", "id": "ann", "p": {"at": 1}, "pv": u64::MAX}))
        .await;
    bob.next(|m| m["a"] == "p" && m["p"] == json!({"at": 1}))
        .await;
    drop(ann);
    let gone = bob.next(|m| m["a"] == "p" && m["p"].is_null()).await;
    assert_eq!(gone["pv"], json!(u64::MAX));
    // The server is still serving.
    bob.sync().await;
}
