//! Helpers shared by the integration tests: a real server on a free port,
//! a raw WebSocket client for frames no well-behaved client sends, and
//! deterministic signals in place of sleeps: a sentinel op that proves
//! earlier deliveries were handled ([`RawSocket::flush`], [`flush_ops`]),
//! and a middleware that holds a commit until the test releases it
//! ([`HoldCommit`]).
#![allow(dead_code)]

pub mod props;

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{SinkExt, StreamExt};
use peloton::backend::{Backend, Middleware, SubmitRequest};
use peloton::client::Connection;
use peloton::protocol::{CreateData, ErrorObject, OpKind};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// Serves `backend`'s `/channel` on a free loopback port, telling each
/// connection its client's address.
pub async fn serve(backend: Backend) -> SocketAddr {
    let app =
        peloton::axum::channel_route(backend).into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

pub fn channel_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/channel")
}

/// A WebSocket speaking raw JSON frames.
pub struct RawSocket {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// Messages received but not yet taken.
    inbox: Vec<Value>,
    /// Every text frame received, in order.
    transcript: Vec<String>,
}

/// The collection of the sentinel document (see [`RawSocket::flush`]).
pub const SENTINEL: &str = "sentinel";
const SENTINEL_ID: &str = "flush";

impl RawSocket {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::connect_with(addr, &[]).await
    }

    /// Connects with extra headers on the upgrade request (for the
    /// `connect` middleware).
    pub async fn connect_with(addr: SocketAddr, headers: &[(&'static str, &str)]) -> Self {
        let mut raw = Self::open_with(addr, headers).await;
        raw.next(|m| m["a"] == "init").await;
        raw
    }

    /// Connects without waiting for the server's greeting (which a refused
    /// connection never gets).
    pub async fn open(addr: SocketAddr) -> Self {
        Self::open_with(addr, &[]).await
    }

    async fn open_with(addr: SocketAddr, headers: &[(&'static str, &str)]) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = channel_url(addr).into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse().unwrap());
        }
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), false)
                .await
                .unwrap();
        Self {
            socket,
            inbox: Vec::new(),
            transcript: Vec::new(),
        }
    }

    /// Waits until everything pub/sub delivered to this connection before
    /// now has been handled, then until every reply is in (as
    /// [`RawSocket::sync`]): what has not arrived by then never will.
    ///
    /// It subscribes to the sentinel document, commits an op to it and
    /// waits for that op. A connection gets its deliveries in publish order
    /// (one mailbox, read in order), so anything published before the
    /// sentinel was forwarded, or dropped, before it. Unlike a sleep, this
    /// cannot pass by luck on a slow machine. The sentinel's messages stay
    /// in the transcript, the same in every run of a test.
    pub async fn flush(&mut self, backend: &Backend) {
        self.send(serde_json::json!({"a": "s", "c": SENTINEL, "d": SENTINEL_ID}))
            .await;
        self.next(|m| m["a"] == "s" && m["c"] == SENTINEL).await;
        let v = bump_sentinel(backend).await;
        self.next(|m| m["a"] == "op" && m["c"] == SENTINEL && m["v"] == v)
            .await;
        self.sync().await;
    }

    /// Every text frame received so far (taken or not), in order.
    pub fn transcript(&self) -> &[String] {
        &self.transcript
    }

    /// Waits until the server has answered everything sent before: a ping
    /// is answered after every earlier request.
    pub async fn sync(&mut self) {
        self.send(serde_json::json!({"a": "pp"})).await;
        self.next(|m| m["a"] == "pp").await;
    }

    /// Messages received and not taken, in order, taking them.
    pub fn take_all(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.inbox)
    }

    /// Reads until the server closes the connection; its close frame's
    /// code and reason. Text frames before it are kept.
    pub async fn closed(&mut self) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("timed out waiting for the close");
            match frame {
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Some(Ok(Message::Text(text))) => self.keep(text.to_string()),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the connection failed without a close frame: {e}"),
                None => return None,
            }
        }
    }

    fn keep(&mut self, text: String) {
        let value: Value = serde_json::from_str(&text).unwrap();
        self.transcript.push(text);
        self.inbox.push(value);
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.socket.send(Message::text(text.into())).await.unwrap();
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(message.to_string()).await;
    }

    /// The next message (in arrival order) that satisfies `predicate`.
    pub async fn next(&mut self, predicate: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.inbox.iter().position(&predicate) {
            return self.inbox.remove(i);
        }
        self.read_until(&predicate).await;
        self.inbox.pop().unwrap()
    }

    /// Waits until a message that satisfies `predicate` has arrived,
    /// leaving it and every other in place to be taken.
    pub async fn seen(&mut self, predicate: impl Fn(&Value) -> bool) {
        if !self.inbox.iter().any(&predicate) {
            self.read_until(&predicate).await;
        }
    }

    /// Reads frames until the last one received satisfies `predicate`.
    async fn read_until(&mut self, predicate: &impl Fn(&Value) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("timed out waiting for a message")
                .expect("socket closed")
                .unwrap();
            if let Message::Text(text) = frame {
                self.keep(text.to_string());
                if self.inbox.last().is_some_and(predicate) {
                    return;
                }
            }
        }
    }

    /// Sends a handshake with `id`; returns the id the server confirms.
    pub async fn handshake(&mut self, id: Option<&str>) -> String {
        self.send(serde_json::json!({"a": "hs", "id": id, "protocol": 1, "protocolMinor": 2}))
            .await;
        let hs = self.next(|m| m["a"] == "hs").await;
        hs["id"].as_str().unwrap().to_owned()
    }
}

/// Commits the next op of the sentinel document; the version it was
/// applied at.
async fn bump_sentinel(backend: &Backend) -> u64 {
    let exists = backend
        .fetch(SENTINEL, SENTINEL_ID)
        .await
        .expect("the sentinel is read")
        .exists();
    let kind = if exists {
        OpKind::Edit(serde_json::from_value(serde_json::json!([{"p": ["n"], "na": 1}])).unwrap())
    } else {
        OpKind::Create(CreateData {
            doc_type: "json0".into(),
            data: Some(serde_json::json!({"n": 0})),
        })
    };
    backend
        .submit(SENTINEL, SENTINEL_ID, kind)
        .await
        .expect("the sentinel op is committed")
}

/// Waits until every op committed before now that `connection` would get
/// has reached it (see [`RawSocket::flush`]): it subscribes to the sentinel
/// document, commits to it and waits for that op.
pub async fn flush_ops(backend: &Backend, connection: &Connection) {
    let doc = connection.get(SENTINEL, SENTINEL_ID);
    doc.subscribe().await.expect("the sentinel is subscribed");
    let v = bump_sentinel(backend).await;
    until("the sentinel op", || doc.version() > Some(v)).await;
}

/// A middleware that holds the first commit `pick` chooses until the test
/// releases it: forces a scenario that must happen (an op committed while
/// its client is offline) instead of hoping a sleep creates it. Clones
/// share the hold.
#[derive(Clone)]
pub struct HoldCommit(Arc<Hold>);

struct Hold {
    pick: Box<dyn Fn(&SubmitRequest<'_>) -> bool + Send + Sync>,
    taken: AtomicBool,
    reached: tokio::sync::Notify,
    release: tokio::sync::Semaphore,
}

impl HoldCommit {
    /// Holds the first commit for which `pick` is true.
    pub fn first(pick: impl Fn(&SubmitRequest<'_>) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(Hold {
            pick: Box::new(pick),
            taken: AtomicBool::new(false),
            reached: tokio::sync::Notify::new(),
            release: tokio::sync::Semaphore::new(0),
        }))
    }

    /// Holds the first edit (not a create or a delete).
    pub fn first_edit() -> Self {
        Self::first(|req| matches!(req.op.kind, OpKind::Edit(_)))
    }

    /// Waits until the commit is held: the server has the op and has not
    /// stored it yet.
    pub async fn reached(&self) {
        tokio::time::timeout(Duration::from_secs(5), self.0.reached.notified())
            .await
            .expect("the held commit was never reached");
    }

    /// Lets the held commit go on.
    pub fn release(&self) {
        self.0.release.add_permits(1);
    }
}

#[async_trait::async_trait]
impl Middleware for HoldCommit {
    async fn commit(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        if (self.0.pick)(req) && !self.0.taken.swap(true, Ordering::SeqCst) {
            self.0.reached.notify_one();
            if let Ok(permit) = self.0.release.acquire().await {
                permit.forget();
            }
        }
        Ok(())
    }
}

/// An in-process connector to a backend whose uplink can be held: while
/// held, what the client sends waits (in flight, as on a slow network)
/// while the server's messages still reach it. Forces the client to
/// handle deliveries with its own ops unacknowledged.
#[derive(Clone)]
pub struct HeldUplink {
    backend: Backend,
    held: Arc<tokio::sync::watch::Sender<bool>>,
}

impl HeldUplink {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            held: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// Holds what clients send from now on.
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    /// Lets it all go, in order.
    pub fn open(&self) {
        self.held.send_replace(false);
    }
}

impl peloton::protocol::Connector for HeldUplink {
    fn connect(&self) -> peloton::protocol::ConnectFuture {
        let server = self.backend.connect();
        let (client, end) = peloton::protocol::transport::pair();
        let mut held = self.held.subscribe();
        let (mut from_client, to_server) = (end.rx, server.tx);
        tokio::spawn(async move {
            while let Some(message) = from_client.next().await {
                if held.wait_for(|held| !held).await.is_err() {
                    return;
                }
                if to_server.unbounded_send(message).is_err() {
                    return;
                }
            }
        });
        let (mut from_server, to_client) = (server.rx, end.tx);
        tokio::spawn(async move {
            while let Some(message) = from_server.next().await {
                if to_client.unbounded_send(message).is_err() {
                    return;
                }
            }
        });
        Box::pin(async move { Ok(client) })
    }
}

/// Someone's presence by the id their client gave it: the server relays
/// it under an id scoped to their connection (`<len>:<client id>:<id>`).
pub fn by_local_id(others: &std::collections::HashMap<String, Value>, id: &str) -> Option<Value> {
    let suffix = format!(":{id}");
    others
        .iter()
        .find(|(key, _)| key.ends_with(&suffix))
        .map(|(_, v)| v.clone())
}

/// Waits until `check` holds (polling), or panics after 5 s.
pub async fn until(what: &str, check: impl FnMut() -> bool) {
    until_within(what, Duration::from_secs(5), check).await;
}

/// Waits until `check` holds (polling), or panics after `limit`.
pub async fn until_within(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A MongoDB-wire server for the tests (`scripts/services.sh start`).
pub fn mongo_url() -> String {
    std::env::var("PELOTON_TEST_MONGO_URL").expect(
        "PELOTON_TEST_MONGO_URL is not set: run `bash scripts/services.sh start` and \
         `eval \"$(bash scripts/services.sh env)\"` (./run test does both)",
    )
}

/// A redis-server for the tests (`scripts/services.sh start`).
pub fn redis_url() -> String {
    std::env::var("PELOTON_TEST_REDIS_URL").expect(
        "PELOTON_TEST_REDIS_URL is not set: run `bash scripts/services.sh start` and \
         `eval \"$(bash scripts/services.sh env)\"` (./run test does both)",
    )
}

/// A name no other test run uses.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A document as the model reads it, less Racer's `id` alias: what the
/// database stores.
pub fn stored_form(doc: Option<Value>) -> Option<Value> {
    doc.map(|mut doc| {
        if let Some(map) = doc.as_object_mut() {
            map.shift_remove("id");
        }
        doc
    })
}

/// `url` (a MongoDB connection string, perhaps naming a database, as
/// `PELOTON_MONGO_URL` may) naming database `name` instead, its options
/// kept. A database the URL named was also the one to authenticate
/// against: it stays so, as `authSource`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("mongodb", url));
    let (before_options, options) = match rest.split_once('?') {
        Some((before, options)) => (before, Some(options)),
        None => (rest, None),
    };
    let (hosts, database) = match before_options.split_once('/') {
        Some((hosts, database)) => (hosts, database),
        None => (before_options, ""),
    };
    let mut options: Vec<String> = options
        .into_iter()
        .flat_map(|o| o.split('&'))
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    let has_auth_source = options
        .iter()
        .any(|o| o.to_ascii_lowercase().starts_with("authsource="));
    if !database.is_empty() && !has_auth_source {
        options.push(format!("authSource={database}"));
    }
    let mut out = format!("{scheme}://{hosts}/{name}");
    if !options.is_empty() {
        out.push('?');
        out.push_str(&options.join("&"));
    }
    out
}

/// Runs `body` with the URL of a fresh database on the test server
/// (named `<prefix>_<unique>`), then drops the database, whether `body`
/// passed or panicked, so a shared mongod does not fill up with test data.
#[cfg(feature = "mongodb")]
pub async fn with_mongo_database<F>(prefix: &str, body: impl FnOnce(String) -> F)
where
    F: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    let name = format!("{prefix}_{}", unique());
    let url = with_database(&mongo_url(), &name);
    let outcome = std::panic::AssertUnwindSafe(body(url.clone()))
        .catch_unwind()
        .await;
    drop_database(&url, &name).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Drops database `name` on the server at `url`.
#[cfg(feature = "mongodb")]
pub async fn drop_database(url: &str, name: &str) {
    let dropped = match mongodb::Client::with_uri_str(url).await {
        Ok(client) => {
            let dropped = client.database(name).drop().await;
            client.shutdown().await;
            dropped
        }
        Err(e) => Err(e),
    };
    if let Err(e) = dropped {
        eprintln!("could not drop test database {name}: {e}");
    }
}
