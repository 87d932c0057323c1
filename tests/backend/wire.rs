//! Protocol messages over a real WebSocket, frame by frame, and the
//! edges of the wire (nulls, strings for numbers).

use std::net::SocketAddr;

use peloton::backend::Backend;
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
