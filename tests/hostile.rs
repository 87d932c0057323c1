//! Hostile, slow and vanished clients, over real WebSockets: every limit
//! answers its error while the server and a bystander keep working; a
//! document cannot be nested to death; a client that stops reading, floods,
//! or vanishes is dealt with; a hook that submits cannot deadlock; ops are
//! applied at most once whatever a client claims; close reasons arrive.

mod util;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use peloton::backend::{
    Backend, BackendOptions, ConnectContext, Limits, Middleware, Rate, SubmitRequest,
};
use peloton::client::transport::WebSocketConnector;
use peloton::client::{Connection, ConnectionOptions, ConnectionState};
use peloton::protocol::{CreateData, ErrorObject, OpKind};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use util::{RawSocket, serve, until_within};

fn backend_with(limits: Limits) -> Backend {
    Backend::builder()
        .options({
            let mut options = BackendOptions::default();
            options.limits = limits;
            options
        })
        .build()
}

fn create(data: Value) -> OpKind {
    OpKind::Create(CreateData {
        doc_type: "json0".into(),
        data: Some(data),
    })
}

async fn connected(addr: SocketAddr) -> RawSocket {
    let mut raw = RawSocket::connect(addr).await;
    raw.handshake(None).await;
    raw
}

/// A bystander: a peloton client over the WebSocket, which must keep
/// working whatever the others do. Checks it can write and read now.
async fn bystander_works(addr: SocketAddr, doc: &str) {
    let client = Connection::new(WebSocketConnector::new(util::channel_url(addr)));
    let d = client.get("bystander", doc);
    let started = Instant::now();
    if d.fetch().await.is_ok() && !d.exists() {
        d.create(json!({"n": 0})).unwrap().await.unwrap();
    }
    d.submit_op(serde_json::from_value(json!([{"p": ["n"], "na": 1}])).unwrap())
        .unwrap()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the bystander waited {:?}",
        started.elapsed()
    );
    client.close();
}

fn error_code(reply: &Value) -> &str {
    reply["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn every_limit_answers_its_error_and_changes_nothing() {
    let mut limits = Limits::default();
    limits.max_depth = 6;
    limits.max_snapshot_bytes = 2_000;
    limits.max_subscriptions = 2;
    limits.max_queries = 1;
    limits.max_presence_channels = 1;
    limits.max_replay_ops = 3;
    let backend = backend_with(limits);
    backend
        .submit("c", "d", create(json!({"a": {"b": {}}})))
        .await
        .unwrap();
    let addr = serve(backend.clone()).await;
    let mut raw = connected(addr).await;
    let op =
        |seq: u64, op: Value| json!({"a": "op", "c": "c", "d": "d", "v": 1, "seq": seq, "op": op});

    // Depth: a path, or a value, that goes past the limit.
    raw.send(op(
        1,
        json!([{"p": ["a", "b", "x"], "oi": {"y": {"z": {"w": {}}}}}]),
    ))
    .await;
    let reply = raw.next(|m| m["a"] == "op" && m["seq"] == 1).await;
    assert_eq!(error_code(&reply), "ERR_DOC_TOO_DEEP", "{reply}");
    raw.send(json!({"a": "op", "c": "c", "d": "deep", "seq": 2,
        "create": {"type": "json0", "data": {"a": [[[[[[[1]]]]]]]}}}))
        .await;
    let reply = raw.next(|m| m["a"] == "op" && m["seq"] == 2).await;
    assert_eq!(error_code(&reply), "ERR_DOC_TOO_DEEP", "{reply}");

    // Size: a document grown past the limit.
    raw.send(op(3, json!([{"p": ["big"], "oi": "x".repeat(3_000)}])))
        .await;
    let reply = raw.next(|m| m["a"] == "op" && m["seq"] == 3).await;
    assert_eq!(error_code(&reply), "ERR_DOC_TOO_LARGE", "{reply}");
    let stored = backend.db().get_snapshot("c", "d").await.unwrap();
    assert_eq!(
        (stored.v, stored.wire.value().cloned()),
        (1, Some(json!({"a": {"b": {}}}))),
        "nothing stored changed"
    );

    // Counts: subscriptions, queries, presence channels.
    for d in ["d1", "d2"] {
        raw.send(json!({"a": "s", "c": "c", "d": d})).await;
        raw.next(|m| m["a"] == "s" && m["d"] == d).await;
    }
    raw.send(json!({"a": "s", "c": "c", "d": "d3"})).await;
    let reply = raw.next(|m| m["a"] == "s" && m["d"] == "d3").await;
    assert_eq!(error_code(&reply), "ERR_TOO_MANY_SUBSCRIPTIONS", "{reply}");
    raw.send(json!({"a": "bs", "c": "c", "b": ["d1", "d4", "d5"]}))
        .await;
    let reply = raw.next(|m| m["a"] == "bs").await;
    assert_eq!(error_code(&reply), "ERR_TOO_MANY_SUBSCRIPTIONS", "{reply}");
    raw.send(json!({"a": "qs", "id": 1, "c": "c", "q": {}}))
        .await;
    raw.next(|m| m["a"] == "qs" && m["id"] == 1).await;
    raw.send(json!({"a": "qs", "id": 2, "c": "c", "q": {}}))
        .await;
    let reply = raw.next(|m| m["a"] == "qs" && m["id"] == 2).await;
    assert_eq!(error_code(&reply), "ERR_TOO_MANY_QUERIES", "{reply}");
    raw.send(json!({"a": "ps", "ch": "one", "seq": 1})).await;
    raw.next(|m| m["a"] == "ps" && m["ch"] == "one").await;
    raw.send(json!({"a": "ps", "ch": "two", "seq": 2})).await;
    let reply = raw.next(|m| m["a"] == "ps" && m["ch"] == "two").await;
    assert_eq!(
        error_code(&reply),
        "ERR_TOO_MANY_PRESENCE_CHANNELS",
        "{reply}"
    );

    // History: a snapshot that would replay more ops than allowed.
    for _ in 0..4 {
        backend
            .submit(
                "c",
                "d",
                OpKind::Edit(serde_json::from_value(json!([{"p": ["n"], "oi": 1}])).unwrap()),
            )
            .await
            .unwrap();
    }
    raw.send(json!({"a": "nf", "id": 7, "c": "c", "d": "d", "v": 4}))
        .await;
    let reply = raw.next(|m| m["a"] == "nf" && m["id"] == 7).await;
    assert_eq!(error_code(&reply), "ERR_HISTORY_TOO_LONG", "{reply}");
    raw.send(json!({"a": "nf", "id": 8, "c": "c", "d": "d", "v": 2}))
        .await;
    let reply = raw.next(|m| m["a"] == "nf" && m["id"] == 8).await;
    assert_eq!(reply["v"], 2, "{reply}");

    // The connection stays, and so does everyone else's.
    raw.sync().await;
    bystander_works(addr, "limits").await;
}

#[tokio::test]
async fn a_document_cannot_be_nested_to_death() {
    let backend = Backend::new();
    let addr = serve(backend.clone()).await;
    let mut raw = connected(addr).await;
    raw.send(json!({"a": "op", "c": "c", "d": "nest", "seq": 1, "create": {"type": "json0", "data": {}}}))
        .await;
    raw.next(|m| m["a"] == "op" && m["seq"] == 1).await;
    // Each op nests 40 levels more, at the deepest point so far.
    let mut path: Vec<Value> = Vec::new();
    let mut refused = None;
    for seq in 2..40u64 {
        let mut value = json!(1);
        for _ in 0..40 {
            value = json!({ "k": value });
        }
        let mut p = path.clone();
        p.push(json!("k"));
        raw.send(
            json!({"a": "op", "c": "c", "d": "nest", "seq": seq, "op": [{"p": p, "oi": value}]}),
        )
        .await;
        let reply = raw.next(|m| m["a"] == "op" && m["seq"] == seq).await;
        if reply.get("error").is_some() {
            refused = Some(reply);
            break;
        }
        path.extend(std::iter::repeat_n(json!("k"), 40));
    }
    let refused = refused.expect("the nesting was never refused");
    assert_eq!(error_code(&refused), "ERR_DOC_TOO_DEEP", "{refused}");
    // The document is still there, readable and writable; so is the server.
    raw.send(json!({"a": "f", "c": "c", "d": "nest"})).await;
    let fetched = raw.next(|m| m["a"] == "f").await;
    assert!(fetched["data"]["v"].as_u64().unwrap() >= 2);
    bystander_works(addr, "nesting").await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_its_memory_freed() {
    let mut limits = Limits::default();
    limits.max_outbound_messages = 200;
    limits.write_timeout = Duration::from_secs(1);
    limits.ops = Rate::unlimited();
    limits.requests = Rate::unlimited();
    let backend = backend_with(limits);
    backend
        .submit("c", "hot", create(json!({"log": ""})))
        .await
        .unwrap();
    let addr = serve(backend.clone()).await;

    // It subscribes, then never reads again.
    let mut stalled = connected(addr).await;
    stalled.send(json!({"a": "s", "c": "c", "d": "hot"})).await;
    stalled.next(|m| m["a"] == "s").await;
    let writer = Connection::new(WebSocketConnector::new(util::channel_url(addr)));
    let doc = writer.get("c", "hot");
    doc.subscribe().await.unwrap();
    until_within("three connections", Duration::from_secs(5), || {
        backend.connection_count() == 2
    })
    .await;

    // Big ops, fast: far more than its socket buffers and queue hold.
    let chunk = "x".repeat(32 << 10);
    let started = Instant::now();
    let mut acks = Vec::new();
    for _ in 0..1_200 {
        let op = json!([{"p": ["log", 0], "si": chunk}]);
        acks.push(doc.submit_op(serde_json::from_value(op).unwrap()).unwrap());
        if acks.len() % 20 == 0 {
            for ack in acks.drain(..) {
                ack.await.unwrap();
            }
            // The log is cut back, so the document stays small.
            let cut = json!([{"p": ["log"], "od": "", "oi": ""}]);
            doc.submit_op(serde_json::from_value(cut).unwrap())
                .unwrap()
                .await
                .unwrap();
        }
    }
    let writing = started.elapsed();
    // The stalled connection is gone, and the writer never waited on it.
    until_within(
        "the stalled connection to be closed",
        Duration::from_secs(10),
        || backend.connection_count() == 1,
    )
    .await;
    assert!(
        writing < Duration::from_secs(20),
        "the writer took {writing:?}"
    );
    bystander_works(addr, "stalled").await;
    writer.close();
}

#[tokio::test]
async fn a_flooding_connection_is_slowed_down_and_stays() {
    let mut limits = Limits::default();
    limits.ops = Rate::per_second(20).with_burst(20);
    let backend = backend_with(limits);
    backend
        .submit("c", "flood", create(json!({"n": 0})))
        .await
        .unwrap();
    let addr = serve(backend.clone()).await;
    let mut flood = connected(addr).await;
    for seq in 1..=100u64 {
        flood
            .send(json!({"a": "op", "c": "c", "d": "flood", "seq": seq, "op": [{"p": ["n"], "na": 1}]}))
            .await;
    }
    let mut limited = 0;
    let mut applied = 0;
    for seq in 1..=100u64 {
        let reply = flood.next(|m| m["a"] == "op" && m["seq"] == seq).await;
        match error_code(&reply) {
            "" => applied += 1,
            "ERR_RATE_LIMITED" => limited += 1,
            other => panic!("unexpected {other}: {reply}"),
        }
    }
    assert!(limited >= 70, "{limited} of 100 rate limited");
    let stored = backend.db().get_snapshot("c", "flood").await.unwrap();
    assert_eq!(
        stored.wire.data.unwrap()["n"],
        applied,
        "exactly the accepted ops applied"
    );
    // It stays connected, and is served again once it slows down.
    tokio::time::sleep(Duration::from_millis(200)).await;
    flood
        .send(json!({"a": "op", "c": "c", "d": "flood", "seq": 101, "op": [{"p": ["n"], "na": 1}]}))
        .await;
    let reply = flood.next(|m| m["a"] == "op" && m["seq"] == 101).await;
    assert!(reply.get("error").is_none(), "{reply}");
    bystander_works(addr, "flood").await;
}

/// A TCP proxy that can stop forwarding, as a network that drops
/// everything (a phone out of coverage) while both ends keep their sockets.
struct Proxy {
    addr: SocketAddr,
    frozen: Arc<AtomicBool>,
}

impl Proxy {
    async fn to(server: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(upstream) = tokio::net::TcpStream::connect(server).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (ur, uw) = upstream.into_split();
                tokio::spawn(forward(cr, uw, flag.clone()));
                tokio::spawn(forward(ur, cw, flag.clone()));
            }
        });
        Self { addr, frozen }
    }
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        if frozen.load(Ordering::SeqCst) {
            // Hold both sockets open and move nothing, for good.
            std::future::pending::<()>().await;
        }
        match tokio::time::timeout(Duration::from_millis(50), from.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n))
                if !frozen.load(Ordering::SeqCst) && to.write_all(&buf[..n]).await.is_err() =>
            {
                return;
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn half_open_connections_are_noticed_on_both_sides() {
    let mut limits = Limits::default();
    limits.ping_interval = Duration::from_millis(200);
    limits.idle_timeout = Duration::from_millis(800);
    let backend = backend_with(limits);
    let addr = serve(backend.clone()).await;
    let proxy = Proxy::to(addr).await;
    let options = {
        let mut options = ConnectionOptions::default();
        options.ping_interval = Duration::from_millis(200);
        options.ping_timeout = Duration::from_millis(800);
        options.reconnect_min = Duration::from_secs(60);
        options.reconnect_max = Duration::from_secs(60);
        options
    };
    let client = Connection::with_options(
        WebSocketConnector::new(format!("ws://{}/channel", proxy.addr)),
        options,
    );
    client.get("c", "d").fetch().await.unwrap();
    // Connected and quiet for a while: pings keep it up on both sides.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(client.state(), ConnectionState::Connected);
    assert_eq!(backend.connection_count(), 1);

    // The network goes dead, without a close on either side.
    proxy.frozen.store(true, Ordering::SeqCst);
    let started = Instant::now();
    until_within(
        "the server to drop the silent client",
        Duration::from_secs(5),
        || backend.connection_count() == 0,
    )
    .await;
    until_within(
        "the client to give up on the silent server",
        Duration::from_secs(5),
        || client.state() != ConnectionState::Connected,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "noticed after {:?}",
        started.elapsed()
    );
    client.close();
}

/// Refuses every connection, counting them.
struct RefuseAll(Arc<AtomicUsize>);

#[async_trait]
impl Middleware for RefuseAll {
    async fn connect(&self, _: &mut ConnectContext<'_>) -> Result<(), ErrorObject> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(ErrorObject::new(
            peloton::protocol::ErrorCode::Other("ERR_NOT_ALLOWED".into()),
            "no entry",
        ))
    }
}

#[tokio::test]
async fn a_refused_client_backs_off_and_hears_why() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let backend = Backend::builder()
        .middleware(RefuseAll(attempts.clone()))
        .build();
    let addr = serve(backend).await;
    // The refusal comes as an error, then a close frame with the reason.
    let mut raw = RawSocket::open(addr).await;
    let closed = raw.closed().await;
    let (code, reason) = closed.expect("a close frame");
    assert_eq!(code, 1008);
    assert!(reason.contains("no entry"), "{reason}");

    // A client keeps trying, but further and further apart: the backoff
    // starts over only after a handshake, which never comes.
    attempts.store(0, Ordering::SeqCst);
    let options = {
        let mut options = ConnectionOptions::default();
        options.reconnect_min = Duration::from_millis(50);
        options.reconnect_max = Duration::from_secs(5);
        options
    };
    let client =
        Connection::with_options(WebSocketConnector::new(util::channel_url(addr)), options);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let tried = attempts.load(Ordering::SeqCst);
    // Full jitter: each wait is random below its ceiling (50 ms, 100 ms,
    // …, then 5 s), so 10 attempts in 3 s happen about once in a hundred
    // runs; 13 would need five waits under 5 s to add up to well under
    // 1.5 s, which never happens. Without backoff it would be 60.
    assert!(
        (2..=12).contains(&tried),
        "{tried} attempts in 3 s (every 50 ms would be 60)"
    );
    client.close();
}

#[tokio::test]
async fn a_shutting_down_server_says_so() {
    let backend = Backend::new();
    let addr = serve(backend.clone()).await;
    let mut raw = connected(addr).await;
    backend.close().await;
    let (code, reason) = raw.closed().await.expect("a close frame");
    assert_eq!(code, 1001);
    assert!(reason.contains("shutting down"), "{reason}");
}

/// Submits from inside its hooks: an op setting `log` makes `commit`
/// count it in another document; an op setting `again` makes `apply`
/// submit to its own document.
struct SubmitsFromHooks(Arc<OnceLock<Backend>>);

fn sets(req: &SubmitRequest<'_>, key: &str) -> bool {
    let key = peloton::ot::json0::PathSegment::Key(key.into());
    matches!(&req.op.kind, OpKind::Edit(op) if op.iter().any(|c| c.p.first() == Some(&key)))
}

#[async_trait]
impl Middleware for SubmitsFromHooks {
    async fn apply(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        if sets(req, "again") {
            let edit = serde_json::from_value(json!([{"p": ["audit"], "na": 1}])).unwrap();
            self.0
                .get()
                .unwrap()
                .submit("c", "d", OpKind::Edit(edit))
                .await?;
        }
        Ok(())
    }

    async fn commit(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        if sets(req, "log") {
            let edit = serde_json::from_value(json!([{"p": ["n"], "na": 1}])).unwrap();
            self.0
                .get()
                .unwrap()
                .submit("c", "log", OpKind::Edit(edit))
                .await?;
        }
        Ok(())
    }
}

async fn reply_within(raw: &mut RawSocket, seq: u64) -> Value {
    let next = raw.next(move |m| m["a"] == "op" && m["seq"] == seq);
    tokio::time::timeout(Duration::from_secs(5), next)
        .await
        .expect("the submit deadlocked")
}

#[tokio::test]
async fn a_hook_that_submits_does_not_deadlock() {
    let cell = Arc::new(OnceLock::new());
    let backend = Backend::builder()
        .middleware(SubmitsFromHooks(cell.clone()))
        .build();
    let _ = cell.set(backend.clone());
    backend
        .submit("c", "d", create(json!({"audit": 0})))
        .await
        .unwrap();
    backend
        .submit("c", "log", create(json!({"n": 0})))
        .await
        .unwrap();
    let addr = serve(backend.clone()).await;
    let mut raw = connected(addr).await;
    // Into another document: it works, every time.
    for seq in 1..=3u64 {
        raw.send(
            json!({"a": "op", "c": "c", "d": "d", "seq": seq, "op": [{"p": ["log"], "oi": seq}]}),
        )
        .await;
        let reply = reply_within(&mut raw, seq).await;
        assert!(reply.get("error").is_none(), "{reply}");
    }
    let log = backend.db().get_snapshot("c", "log").await.unwrap();
    assert_eq!(log.value().cloned(), Some(json!({"n": 3})));
    // Into its own document: a clear error, and nothing stored.
    raw.send(json!({"a": "op", "c": "c", "d": "d", "seq": 4, "op": [{"p": ["again"], "oi": 1}]}))
        .await;
    let reply = reply_within(&mut raw, 4).await;
    assert_eq!(error_code(&reply), "ERR_NESTED_SUBMIT", "{reply}");
    let d = backend.db().get_snapshot("c", "d").await.unwrap();
    assert_eq!(d.value().cloned(), Some(json!({"audit": 0, "log": 3})));
}

#[tokio::test]
async fn ops_are_applied_at_most_once_whatever_a_client_claims() {
    let backend = Backend::new();
    backend
        .submit("c", "d", create(json!({"n": 0})))
        .await
        .unwrap();
    let addr = serve(backend.clone()).await;
    let n = || {
        let backend = backend.clone();
        async move {
            backend
                .db()
                .get_snapshot("c", "d")
                .await
                .unwrap()
                .wire
                .data
                .unwrap()["n"]
                .clone()
        }
    };
    let mut ann = RawSocket::connect(addr).await;
    let ann_id = ann.handshake(None).await;
    // An ack: an op message without a body.
    let acked =
        |seq: u64| move |m: &Value| m["a"] == "op" && m["seq"] == seq && m.get("op").is_none();
    let add = |src: Option<&str>, seq: u64, v: u64| json!({"a": "op", "c": "c", "d": "d", "src": src, "seq": seq, "v": v, "op": [{"p": ["n"], "na": 1}]});
    ann.send(add(None, 1, 1)).await;
    assert_eq!(ann.next(acked(1)).await["v"], 1);

    // Bob sends an op in Ann's name with her next seq: it is applied, as
    // his, and Ann's real op with that seq still counts.
    let mut bob = RawSocket::connect(addr).await;
    let bob_id = bob.handshake(None).await;
    bob.send(add(Some(&ann_id), 2, 2)).await;
    assert!(bob.next(acked(2)).await.get("error").is_none());
    ann.send(add(None, 2, 2)).await;
    let ack = ann.next(acked(2)).await;
    assert_eq!(ack["v"], 3, "{ack}");
    assert_eq!(n().await, 3);
    let journal = backend.db().get_ops("c", "d", 1, None).await.unwrap();
    assert_eq!(
        journal[1].src.as_deref(),
        Some(bob_id.as_str()),
        "applied in Bob's name"
    );

    // Bob claims Ann's id while she is connected: he keeps his own.
    let mut eve = RawSocket::connect(addr).await;
    assert_ne!(eve.handshake(Some(&ann_id)).await, ann_id);

    // Ann sends her committed op again, at a newer version: acknowledged
    // at its version, not applied again.
    ann.send(add(None, 2, 4)).await;
    let ack = ann.next(acked(2)).await;
    assert_eq!(ack["v"], 3, "{ack}");
    assert_eq!(n().await, 3);
    // A seq that went back and was never committed is refused.
    ann.send(add(None, 0, 4)).await;
    let refused = ann.next(|m| m["a"] == "op" && m["seq"] == 0).await;
    assert_eq!(error_code(&refused), "ERR_OT_OP_BADLY_FORMED", "{refused}");

    // Ann comes back on a new connection with her id, and resends her
    // last op at the latest version: acknowledged, not applied again.
    drop(ann);
    until_within("Ann's old connection to go", Duration::from_secs(5), || {
        backend.connection_count() == 2
    })
    .await;
    let mut again = RawSocket::connect(addr).await;
    assert_eq!(again.handshake(Some(&ann_id)).await, ann_id);
    again.send(add(None, 2, 4)).await;
    let ack = again.next(acked(2)).await;
    assert_eq!(ack["v"], 3, "{ack}");
    assert_eq!(n().await, 3);
    again.send(add(None, 3, 4)).await;
    assert_eq!(again.next(acked(3)).await["v"], 4);
    assert_eq!(n().await, 4);
}

/// A database that hangs reading the document "slow".
struct SlowDoc(peloton::backend::MemoryDb);

#[async_trait]
impl peloton::backend::Db for SlowDoc {
    async fn commit(
        &self,
        collection: &str,
        id: &str,
        op: &Arc<peloton::protocol::DocOp>,
        snapshot: &mut peloton::backend::StoredSnapshot,
    ) -> Result<bool, peloton::backend::DbError> {
        self.0.commit(collection, id, op, snapshot).await
    }

    async fn get_snapshot(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<peloton::backend::StoredSnapshot, peloton::backend::DbError> {
        if id == "slow" {
            std::future::pending::<()>().await;
        }
        self.0.get_snapshot(collection, id).await
    }

    async fn get_ops(
        &self,
        collection: &str,
        id: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<peloton::protocol::DocOp>>, peloton::backend::DbError> {
        self.0.get_ops(collection, id, from, to).await
    }

    async fn query(
        &self,
        collection: &str,
        query: &peloton::backend::query::ParsedQuery,
    ) -> Result<peloton::backend::QueryResults, peloton::backend::DbError> {
        self.0.query(collection, query).await
    }
}

#[tokio::test]
async fn a_slow_database_call_times_out_and_holds_up_nothing_else() {
    let mut limits = Limits::default();
    limits.db_timeout = Duration::from_millis(300);
    let backend = Backend::builder()
        .db(SlowDoc(peloton::backend::MemoryDb::new()))
        .options({
            let mut options = BackendOptions::default();
            options.limits = limits;
            options
        })
        .build();
    let addr = serve(backend.clone()).await;
    let mut raw = connected(addr).await;
    raw.send(json!({"a": "f", "c": "c", "d": "slow"})).await;
    let started = Instant::now();
    bystander_works(addr, "while-slow").await;
    let reply = raw.next(|m| m["a"] == "f").await;
    assert_eq!(error_code(&reply), "ERR_TIMEOUT", "{reply}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The connection goes on.
    raw.send(json!({"a": "f", "c": "c", "d": "fast"})).await;
    let reply = raw.next(|m| m["a"] == "f").await;
    assert!(reply.get("error").is_none(), "{reply}");
}

#[tokio::test]
async fn a_refused_edit_is_taken_back_and_told_to_listeners() {
    let mut limits = Limits::default();
    limits.max_snapshot_bytes = 1_000;
    let backend = backend_with(limits);
    let addr = serve(backend.clone()).await;
    let client = Connection::new(WebSocketConnector::new(util::channel_url(addr)));
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let _listener = client.on_event({
        let events = events.clone();
        move |event| {
            if let peloton::client::ClientEvent::Rejected {
                collection,
                id,
                error,
            } = event
            {
                events
                    .lock()
                    .unwrap()
                    .push((collection.clone(), id.clone(), error.clone()));
            }
        }
    });
    let doc = client.get("c", "d");
    doc.create(json!({"text": "short"})).unwrap().await.unwrap();
    let big = peloton::ot::json0::Component::string_insert(["text"], 0, "x".repeat(2_000));
    let refused = doc
        .submit_op(peloton::ot::json0::Op::from(big))
        .unwrap()
        .await;
    assert!(refused.is_err(), "too large a document");
    assert_eq!(doc.data(), Some(json!({"text": "short"})), "taken back");
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0].0.as_str(), events[0].1.as_str()), ("c", "d"));
    let code = events[0]
        .2
        .server_error()
        .map(|e| e.code.as_str().into_owned());
    assert_eq!(code.as_deref(), Some("ERR_DOC_TOO_LARGE"));
}

#[tokio::test]
async fn a_closed_server_turns_new_connections_away() {
    // Closed while nobody is connected: the flag must stick all the same.
    let backend = Backend::new();
    let addr = serve(backend.clone()).await;
    backend.close().await;
    let mut raw = RawSocket::open(addr).await;
    let (code, reason) = raw.closed().await.expect("a close frame");
    assert_eq!(code, 1001);
    assert!(reason.contains("shutting down"), "{reason}");
    assert!(
        raw.transcript().is_empty(),
        "a closed server greeted: {:?}",
        raw.transcript()
    );
}
