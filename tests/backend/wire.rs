//! Protocol messages over a real WebSocket, frame by frame, and the
//! edges of the wire (nulls, strings for numbers, sizes, overflows).

use std::net::SocketAddr;

use peloton::backend::{Backend, BackendOptions};
use peloton::protocol::{CreateData, OpKind};
use serde_json::{Value, json};

use crate::util::{RawSocket, serve};

fn create(data: Value) -> OpKind {
    OpKind::Create(CreateData {
        doc_type: "json0".into(),
        data: Some(data),
    })
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
        .options(BackendOptions {
            max_message_bytes: 4096,
            max_read_bytes: 64 << 10,
            ..Default::default()
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
