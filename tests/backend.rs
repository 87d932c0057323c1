//! The backend through its clients: in-process and over a real WebSocket.

mod util;

#[path = "backend/access_control.rs"]
mod access_control;
#[path = "backend/channels.rs"]
mod channels;
#[path = "backend/history.rs"]
mod history;
#[path = "backend/hooks.rs"]
mod hooks;
#[path = "backend/pipeline.rs"]
mod pipeline;
#[path = "backend/side_channels.rs"]
mod side_channels;
#[path = "backend/wire.rs"]
mod wire;

use std::sync::Arc;

use peloton::backend::{Backend, BackendOptions};
use peloton::client::transport::WebSocketConnector;
use peloton::client::{ClientEvent, Connection, QueryChange};
use peloton::ot::json0::{Component, Op};
use peloton::protocol::OpKind;
use serde_json::{Value, json};
use util::{RawSocket, serve, until};

fn incr(name: &str, by: f64) -> Op {
    Op::from(Component::number_add([name], by))
}

/// The same scenario over both transports.
async fn crud(alice: Connection, bob: Connection) {
    let doc = alice.get("todos", "t1");
    doc.create(json!({"title": "milk", "n": 0, "tags": []}))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(doc.version(), Some(1));

    let other = bob.get("todos", "t1");
    other.fetch().await.unwrap();
    assert_eq!(
        other.data(),
        Some(json!({"title": "milk", "n": 0, "tags": []}))
    );
    other.subscribe().await.unwrap();

    doc.submit_op(incr("n", 2.0)).unwrap().await.unwrap();
    doc.submit_op(Op::from(Component::string_insert(["title"], 4, " & eggs")))
        .unwrap()
        .await
        .unwrap();
    until("bob sees both ops", || other.version() == Some(3)).await;
    assert_eq!(
        other.data(),
        Some(json!({"title": "milk & eggs", "n": 2, "tags": []}))
    );

    doc.del().unwrap().await.unwrap();
    until("bob sees the delete", || !other.exists()).await;
    assert_eq!(other.version(), Some(4));
}

#[tokio::test]
async fn crud_in_process() {
    let backend = Backend::new();
    crud(Connection::new(backend.clone()), Connection::new(backend)).await;
}

#[tokio::test]
async fn crud_over_websocket() {
    let addr = serve(Backend::new()).await;
    let url = util::channel_url(addr);
    crud(
        Connection::new(WebSocketConnector::new(url.clone())),
        Connection::new(WebSocketConnector::new(url)),
    )
    .await;
}

#[tokio::test]
async fn remote_ops_arrive_as_events_one_component_at_a_time() {
    let backend = Backend::new();
    let (alice, bob) = (Connection::new(backend.clone()), Connection::new(backend));
    let doc = alice.get("c", "d");
    doc.create(json!({"n": 1, "s": "ab"}))
        .unwrap()
        .await
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let _listener = bob.on_event(move |event| sink.lock().unwrap().push(event.clone()));
    let other = bob.get("c", "d");
    other.subscribe().await.unwrap();
    doc.submit_op(Op::new(vec![
        Component::number_add(["n"], 1.0),
        Component::string_insert(["s"], 1, "X"),
    ]))
    .unwrap()
    .await
    .unwrap();
    until("both components", || {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, ClientEvent::Op { .. }))
            .count()
            == 2
    })
    .await;
    let values: Vec<Option<Value>> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Op { value, .. } => Some(value.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(values, vec![Some(json!(2)), Some(json!("aXb"))]);
}

/// Many connections submitting to one document at once: every op is
/// committed exactly once, and every client converges on the result.
async fn concurrent_submitters(backend: Backend, connect: impl Fn() -> Connection) {
    let setup = connect();
    setup
        .get("race", "doc")
        .create(json!({"n": 0, "items": []}))
        .unwrap()
        .await
        .unwrap();

    const CLIENTS: usize = 16;
    const OPS: usize = 25;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let conn = connect();
        tasks.push(tokio::spawn(async move {
            let doc = conn.get("race", "doc");
            doc.subscribe().await.unwrap();
            let mut acks = Vec::new();
            for i in 0..OPS {
                let op = Op::new(vec![
                    Component::number_add(["n"], 1.0),
                    Component::list_insert(["items"], 0, json!(format!("{client}-{i}"))),
                ]);
                acks.push(doc.submit_op(op).unwrap());
                if i % 5 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            for ack in acks {
                ack.await.unwrap();
            }
            conn.when_nothing_pending().await;
            (conn, doc)
        }));
    }
    let mut docs = Vec::new();
    for task in tasks {
        docs.push(task.await.unwrap());
    }
    let total = CLIENTS * OPS;
    let snapshot = backend.fetch("race", "doc").await.unwrap();
    let data = snapshot.value().cloned().unwrap();
    assert_eq!(data["n"], json!(total));
    let mut items: Vec<String> = data["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    items.sort();
    let mut expected: Vec<String> = (0..CLIENTS)
        .flat_map(|c| (0..OPS).map(move |i| format!("{c}-{i}")))
        .collect();
    expected.sort();
    assert_eq!(items, expected, "every insert exactly once");
    // Ops compose while one is in flight, so there are at most `total` versions.
    assert!(snapshot.v <= 1 + total as u64);
    let ops = backend.db().get_ops("race", "doc", 0, None).await.unwrap();
    assert_eq!(ops.len() as u64, snapshot.v);
    for (_conn, doc) in docs {
        until("every client converged", || {
            doc.version() == Some(snapshot.v)
        })
        .await;
        assert_eq!(doc.data().unwrap(), data);
    }
}

#[tokio::test]
async fn concurrent_submitters_in_process() {
    let backend = Backend::new();
    let connector = backend.clone();
    concurrent_submitters(backend, || Connection::new(connector.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submitters_over_websocket() {
    let backend = Backend::new();
    let url = util::channel_url(serve(backend.clone()).await);
    concurrent_submitters(backend, || {
        Connection::new(WebSocketConnector::new(url.clone()))
    })
    .await;
}

#[tokio::test]
async fn live_queries_follow_matching_documents() {
    let backend = Backend::new();
    let (writer, reader) = (Connection::new(backend.clone()), Connection::new(backend));
    writer
        .get("items", "a")
        .create(json!({"kind": "fruit"}))
        .unwrap()
        .await
        .unwrap();
    writer
        .get("items", "b")
        .create(json!({"kind": "veg"}))
        .unwrap()
        .await
        .unwrap();
    let changes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = changes.clone();
    let _l = reader.on_event(move |e| {
        if let ClientEvent::Query { change, .. } = e {
            sink.lock().unwrap().push(change.clone());
        }
    });
    let query = reader.subscribe_query("items", json!({"kind": "fruit"}));
    query.ready().await.unwrap();
    assert_eq!(query.ids(), vec!["a"]);

    writer
        .get("items", "c")
        .create(json!({"kind": "fruit"}))
        .unwrap()
        .await
        .unwrap();
    until("c inserted", || query.ids() == vec!["a", "c"]).await;
    assert_eq!(
        reader.get("items", "c").data(),
        Some(json!({"kind": "fruit"}))
    );

    writer
        .get("items", "a")
        .submit_op(Op::from(Component::object_replace(
            ["kind"],
            json!("fruit"),
            json!("veg"),
        )))
        .unwrap()
        .await
        .unwrap();
    until("a removed", || query.ids() == vec!["c"]).await;
    let changes = changes.lock().unwrap().clone();
    assert!(
        matches!(changes[1], QueryChange::Insert { index: 1, .. }),
        "{changes:?}"
    );
    assert!(
        matches!(changes[2], QueryChange::Remove { index: 0, .. }),
        "{changes:?}"
    );
}

#[tokio::test]
async fn edits_made_offline_are_delivered_once_after_reconnecting() {
    let addr = serve(Backend::new()).await;
    let url = util::channel_url(addr);
    let online = Connection::new(WebSocketConnector::new(url.clone()));
    let offline = Connection::new(WebSocketConnector::new(url));
    let doc = online.get("notes", "n");
    doc.create(json!({"n": 0, "log": []}))
        .unwrap()
        .await
        .unwrap();
    doc.subscribe().await.unwrap();
    let mine = offline.get("notes", "n");
    mine.subscribe().await.unwrap();

    offline.disconnect();
    until("offline", || {
        offline.state() == peloton::client::ConnectionState::Disconnected
    })
    .await;
    let mut acks = Vec::new();
    for i in 0..5 {
        acks.push(
            mine.submit_op(Op::new(vec![
                Component::number_add(["n"], 1.0),
                Component::list_insert(["log"], 0, json!(format!("offline {i}"))),
            ]))
            .unwrap(),
        );
        doc.submit_op(Op::from(Component::list_insert(
            ["log"],
            0,
            json!(format!("online {i}")),
        )))
        .unwrap()
        .await
        .unwrap();
    }
    assert_eq!(
        mine.data().unwrap()["n"],
        json!(5),
        "applied locally while offline"
    );
    offline.reconnect();
    for ack in acks {
        ack.await.unwrap();
    }
    until("converged", || {
        doc.data() == mine.data() && doc.version() == mine.version()
    })
    .await;
    let data = doc.data().unwrap();
    assert_eq!(data["n"], json!(5));
    assert_eq!(data["log"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn bad_input_gets_errors_and_changes_nothing() {
    let backend = Backend::builder()
        .options({
            let mut options = BackendOptions::default();
            options.max_message_bytes = 4096;
            options
        })
        .build();
    let addr = serve(backend.clone()).await;
    backend
        .submit(
            "c",
            "d",
            OpKind::Create(peloton::protocol::CreateData {
                doc_type: "json0".into(),
                data: Some(json!({"n": 1})),
            }),
        )
        .await
        .unwrap();
    let mut bystander = RawSocket::connect(addr).await;
    bystander.send(json!({"a": "s", "c": "c", "d": "d"})).await;
    bystander.next(|m| m["a"] == "s").await;

    let mut ws = RawSocket::connect(addr).await;
    let id = ws.handshake(None).await;
    let code = |m: &Value| m["error"]["code"].as_str().unwrap_or_default().to_owned();
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "ERR_MESSAGE_BADLY_FORMED"),
        ("42".into(), "ERR_MESSAGE_BADLY_FORMED"),
        (json!({"a": "nope"}).to_string(), "ERR_MESSAGE_BADLY_FORMED"),
        (json!({"a": "f", "c": ["x"], "d": "d"}).to_string(), "ERR_MESSAGE_BADLY_FORMED"),
        (json!({"a": "op", "c": "c", "d": "d", "v": 1, "src": id, "seq": 1, "op": "na"}).to_string(), "ERR_OT_OP_BADLY_FORMED"),
        (json!({"a": "op", "c": "c", "d": "d", "v": 1, "src": id, "seq": 2, "op": [{"p": ["n"], "na": "x"}]}).to_string(), "ERR_OT_OP_BADLY_FORMED"),
        (json!({"a": "op", "c": "c", "d": "d", "v": 9, "src": id, "seq": 3, "op": [{"p": ["n"], "na": 1}]}).to_string(), "ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT"),
        (json!({"a": "op", "c": "c", "d": "gone", "v": 0, "src": id, "seq": 4, "op": [{"p": ["n"], "na": 1}]}).to_string(), "ERR_DOC_DOES_NOT_EXIST"),
        (json!({"a": "op", "c": "c", "d": "d", "v": 1, "src": id, "seq": 5, "op": [{"p": ["n", "deep"], "oi": 1}]}).to_string(), "ERR_OT_OP_NOT_APPLIED"),
        (json!({"a": "op", "c": "c", "d": "d", "v": 1, "src": id, "seq": 6, "create": {"type": "text"}}).to_string(), "ERR_DOC_TYPE_NOT_RECOGNIZED"),
        (json!({"a": "f", "c": "c", "d": "x".repeat(5000)}).to_string(), "ERR_MESSAGE_BADLY_FORMED"),
    ];
    for (frame, expected) in cases {
        ws.send_text(frame.clone()).await;
        let reply = ws.next(|m| m.get("error").is_some()).await;
        assert_eq!(
            code(&reply),
            expected,
            "reply to {}: {reply}",
            &frame[..frame.len().min(80)]
        );
    }
    // Still serving this connection and the others; nothing stored changed.
    ws.send(json!({"a": "pp"})).await;
    ws.next(|m| m["a"] == "pp").await;
    bystander.send(json!({"a": "f", "c": "c", "d": "d"})).await;
    let fetched = bystander.next(|m| m["a"] == "f").await;
    assert_eq!(fetched["data"], json!({"v": 1, "data": {"n": 1}}));
    let snapshot = backend.fetch("c", "d").await.unwrap();
    assert_eq!(
        (snapshot.v, snapshot.wire.value().cloned()),
        (1, Some(json!({"n": 1})))
    );
}

#[tokio::test]
async fn a_resent_op_is_acknowledged_not_applied_again() {
    let addr = serve(Backend::new()).await;
    let mut ws = RawSocket::connect(addr).await;
    ws.handshake(Some("me")).await;
    let create = json!({"a": "op", "c": "c", "d": "d", "v": null, "src": "me", "seq": 1,
        "create": {"type": "http://sharejs.org/types/JSONv0", "data": {"n": 0}}});
    ws.send(create.clone()).await;
    assert_eq!(ws.next(|m| m["a"] == "op").await["v"], json!(0));
    let op = json!({"a": "op", "c": "c", "d": "d", "v": 1, "src": "me", "seq": 2, "op": [{"p": ["n"], "na": 1}]});
    ws.send(op.clone()).await;
    assert_eq!(ws.next(|m| m["a"] == "op").await["v"], json!(1));

    // Reconnect as the same client and resend both.
    let mut again = RawSocket::connect(addr).await;
    again.handshake(Some("me")).await;
    again.send(op).await;
    assert_eq!(
        again.next(|m| m["a"] == "op").await,
        json!({"a": "op", "c": "c", "d": "d", "src": "me", "seq": 2, "v": 1})
    );
    again.send(create).await;
    assert_eq!(again.next(|m| m["a"] == "op").await["v"], json!(0));
    again.send(json!({"a": "f", "c": "c", "d": "d"})).await;
    assert_eq!(
        again.next(|m| m["a"] == "f").await["data"],
        json!({"v": 2, "data": {"n": 1}})
    );
}

/// A connector that hands out one prepared in-process connection.
struct ConnectAs(std::sync::Mutex<Option<peloton::protocol::ClientEnd>>);

impl ConnectAs {
    fn new(end: peloton::protocol::ClientEnd) -> Self {
        Self(std::sync::Mutex::new(Some(end)))
    }
}

impl peloton::protocol::Connector for ConnectAs {
    fn connect(&self) -> peloton::protocol::ConnectFuture {
        let end = self.0.lock().unwrap().take();
        Box::pin(async move {
            end.ok_or_else(|| peloton::protocol::TransportError {
                target: "test".into(),
                reason: "used once".into(),
            })
        })
    }
}

#[tokio::test]
async fn presence_is_relayed_and_departures_announced() {
    let backend = Backend::new();
    let (ann, bob) = (
        Connection::new(backend.clone()),
        Connection::new(backend.clone()),
    );
    let ann_here = ann.presence("room");
    ann_here.subscribe().await.unwrap();
    ann_here.submit("ann", json!({"name": "Ann"}));
    let bob_here = bob.presence("room");
    bob_here.subscribe().await.unwrap();
    // Bob asked on subscribing; Ann answered.
    until("bob sees ann", || {
        util::by_local_id(&bob_here.others(), "ann") == Some(json!({"name": "Ann"}))
    })
    .await;
    bob_here.submit("bob", json!({"name": "Bob"}));
    until("ann sees bob", || {
        util::by_local_id(&ann_here.others(), "bob").is_some()
    })
    .await;
    assert!(
        util::by_local_id(&ann_here.others(), "ann").is_none(),
        "a client does not see itself"
    );
    bob.close();
    until("ann sees bob leave", || {
        util::by_local_id(&ann_here.others(), "bob").is_none()
    })
    .await;
    ann_here.leave("ann");
    let carl = Connection::new(backend);
    let carl_here = carl.presence("room");
    carl_here.subscribe().await.unwrap();
    // Carl's subscribe asked everyone on the channel for their presence.
    // Once Ann has seen Carl's probe, published after that request, she has
    // answered it; once Carl has seen her probe, sent after any answer,
    // the answer has reached him. Ann left: she has nothing to answer.
    carl_here.submit("probe", json!("carl"));
    until("ann hears carl", || {
        util::by_local_id(&ann_here.others(), "probe").is_some()
    })
    .await;
    ann_here.submit("probe", json!("ann"));
    until("carl hears ann", || {
        util::by_local_id(&carl_here.others(), "probe").is_some()
    })
    .await;
    assert_eq!(
        carl_here.others().into_values().collect::<Vec<_>>(),
        vec![json!("ann")],
        "nobody but ann's probe"
    );
}
