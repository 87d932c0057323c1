//! The access-control example of `backend::middleware`'s docs, attacked.

use peloton::client::Connection;
use peloton::protocol::ErrorCode;
use serde_json::{Value, json};

use crate::util::{RawSocket, serve};

/// The example itself, compiled from the file the docs show.
#[allow(dead_code)]
pub(crate) mod example {
    include!("../../src/backend/access_control_example.rs");
}

const SECRET: &str = "ann's diary";

async fn as_user(addr: std::net::SocketAddr, user: &str) -> RawSocket {
    let mut socket = RawSocket::connect_with(addr, &[("x-user", user)]).await;
    socket.handshake(None).await;
    socket
}

/// Every way of reading a document, as the wrong user over the real
/// protocol: nothing of it arrives, now or when it changes later.
#[tokio::test]
async fn private_documents_leak_on_no_read_path() {
    let backend = example::backend();
    let addr = serve(backend.clone()).await;
    let mut ann = as_user(addr, "ann").await;
    ann.send(
        json!({"a": "op", "c": "private", "d": "ann", "v": null, "seq": 1,
        "create": {"type": "json0", "data": {"text": SECRET}}}),
    )
    .await;
    ann.next(|m| m["a"] == "op" && m["seq"] == 1).await;
    ann.send(
        json!({"a": "op", "c": "private", "d": "ann", "v": 1, "seq": 2,
        "op": [{"p": ["more"], "oi": SECRET}]}),
    )
    .await;
    assert!(
        ann.next(|m| m["a"] == "op" && m["seq"] == 2)
            .await
            .get("error")
            .is_none()
    );

    let mut bob = as_user(addr, "bob").await;
    let refused = [
        json!({"a": "f", "c": "private", "d": "ann"}),
        json!({"a": "f", "c": "private", "d": "ann", "v": 0}),
        json!({"a": "f", "c": "private", "d": "ann", "v": 2}),
        json!({"a": "s", "c": "private", "d": "ann"}),
        json!({"a": "s", "c": "private", "d": "ann", "v": 0}),
        json!({"a": "s", "c": "private", "d": "ann", "v": 2}),
        json!({"a": "bf", "c": "private", "b": {"ann": 0, "bob": 0}}),
        json!({"a": "bs", "c": "private", "b": {"ann": 2, "bob": 0}}),
        json!({"a": "nf", "id": 5, "c": "private", "d": "ann", "v": 1}),
        json!({"a": "nf", "id": 6, "c": "private", "d": "ann", "v": 99}),
        json!({"a": "nt", "id": 7, "c": "private", "d": "ann", "ts": null}),
        json!({"a": "op", "c": "private", "d": "ann", "v": 2, "seq": 1,
            "op": [{"p": ["x"], "oi": 1}]}),
    ];
    for request in &refused {
        bob.send(request.clone()).await;
        let reply = bob.next(|m| m["a"] == request["a"]).await;
        assert_eq!(
            reply["error"]["code"], "ERR_FORBIDDEN",
            "{request} was answered with {reply}"
        );
    }
    // Bulk requests by id answer per document: ann's is refused, and bob
    // still gets his own.
    for a in ["bf", "bs"] {
        bob.send(json!({"a": a, "c": "private", "b": ["ann", "bob"]}))
            .await;
        let reply = bob.next(|m| m["a"] == a).await;
        assert_eq!(
            reply["data"]["ann"]["error"]["code"], "ERR_FORBIDDEN",
            "{reply}"
        );
        assert_eq!(
            reply["data"]["bob"],
            json!({"v": 0, "type": null}),
            "{reply}"
        );
    }
    // Queries of the collection find only what bob may read: nothing.
    for (id, q) in [
        (1, json!({})),
        (2, json!({"text": {"$regex": "^ann"}})),
        (3, json!({"$count": true})),
    ] {
        bob.send(json!({"a": "qs", "id": id, "c": "private", "q": q}))
            .await;
        let reply = bob.next(|m| m["a"] == "qs" && m["id"] == id).await;
        assert!(reply.get("error").is_none(), "{reply}");
        assert_eq!(reply["data"], json!([]), "{reply}");
    }
    // A query resumed with ann's document among its results: it is taken
    // out, and nothing of it is sent.
    bob.send(json!({"a": "qs", "id": 4, "c": "private", "q": {}, "r": [["ann", 0]]}))
        .await;
    bob.next(|m| m["a"] == "qs" && m["id"] == 4).await;

    // Presence on ann's document's channel: bob's subscribe is answered as
    // for an empty channel, and nothing reaches him.
    bob.send(json!({"a": "ps", "ch": "private.ann", "seq": 1}))
        .await;
    bob.next(|m| m["a"] == "ps").await;
    let mut ann_too = as_user(addr, "ann").await;
    ann_too
        .send(json!({"a": "ps", "ch": "private.ann", "seq": 1}))
        .await;
    ann_too.next(|m| m["a"] == "ps").await;
    ann.send(
        json!({"a": "p", "ch": "private.ann", "id": "cursor", "pv": 1,
        "p": {"selecting": SECRET}}),
    )
    .await;
    let relayed = ann_too.next(|m| m["a"] == "p").await;
    assert_eq!(relayed["p"]["selecting"], SECRET, "{relayed}");
    // Bob may not publish there.
    bob.send(json!({"a": "p", "ch": "private.ann", "id": "cursor", "pv": 9, "p": {"x": 1}}))
        .await;
    let refused = bob.next(|m| m["a"] == "p").await;
    assert_eq!(refused["error"]["code"], "ERR_FORBIDDEN", "{refused}");

    ann.send(
        json!({"a": "op", "c": "private", "d": "ann", "v": 2, "seq": 3,
        "op": [{"p": ["again"], "oi": SECRET}]}),
    )
    .await;
    ann.next(|m| m["a"] == "op" && m["seq"] == 3).await;
    ann.send(json!({"a": "op", "c": "private", "d": "ann", "v": 3, "seq": 4, "del": true}))
        .await;
    ann.next(|m| m["a"] == "op" && m["seq"] == 4).await;
    bob.flush(&backend).await;

    // No op of any kind is bob's to receive, no presence, and his queries
    // gain no documents.
    for frame in bob.transcript() {
        assert!(!frame.contains(SECRET), "bob received {frame}");
        let message: Value = serde_json::from_str(frame).unwrap();
        if message.get("error").is_some() || message["c"] == crate::util::SENTINEL {
            continue;
        }
        assert!(message["a"] != "op", "bob received an op: {frame}");
        assert!(message["a"] != "p", "bob received presence: {frame}");
        let inserts = message["diff"]
            .as_array()
            .is_some_and(|diff| diff.iter().any(|step| step["type"] == "insert"));
        assert!(!inserts, "bob's query gained a document: {frame}");
    }

    // The same requests from ann herself are served: the test would see
    // a leak.
    let mut owner = as_user(addr, "ann").await;
    owner
        .send(json!({"a": "s", "c": "private", "d": "ann", "v": 0}))
        .await;
    owner.next(|m| m["a"] == "s").await;
    assert!(owner.transcript().iter().any(|f| f.contains(SECRET)));
}

/// The example through peloton's client, in-process: reads and writes
/// fail with the example's errors, public documents are open.
#[tokio::test]
async fn private_documents_through_the_client() {
    let backend = example::backend();
    let as_user = |user: &str| {
        let request = http::Request::builder()
            .header("x-user", user)
            .body(())
            .unwrap()
            .into_parts()
            .0;
        Connection::new(crate::ConnectAs::new(backend.connect_with(Some(request))))
    };
    let (ann, bob) = (as_user("ann"), as_user("bob"));

    let own = ann.get("private", "ann");
    own.create(json!({"secret": 1})).unwrap().await.unwrap();
    let err = bob.get("private", "ann").fetch().await.unwrap_err();
    assert_eq!(
        err.server_error().unwrap().code,
        ErrorCode::Other("ERR_FORBIDDEN".into())
    );
    let err = bob.get("private", "ann").subscribe().await.unwrap_err();
    assert_eq!(
        err.server_error().unwrap().code,
        ErrorCode::Other("ERR_FORBIDDEN".into())
    );
    // A rejected create fails with the submit hook's error, is rolled back
    // on bob's side and is never stored.
    let theirs = bob.get("private", "ann-too");
    let err = theirs.create(json!({})).unwrap().await.unwrap_err();
    // Writing needs reading: refused by the read policy, first.
    assert_eq!(
        err.server_error().unwrap().code,
        ErrorCode::Other("ERR_FORBIDDEN".into())
    );
    assert!(!theirs.exists());
    assert!(!backend.fetch("private", "ann-too").await.unwrap().exists());
    // Public collections are open to all.
    bob.get("public", "x")
        .create(json!({}))
        .unwrap()
        .await
        .unwrap();
}
