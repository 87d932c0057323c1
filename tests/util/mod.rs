//! Helpers shared by the integration tests: a real server on a free port,
//! and a raw WebSocket client for frames no well-behaved client sends.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use peloton::backend::Backend;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// Serves `backend`'s `/channel` on a free loopback port.
pub async fn serve(backend: Backend) -> SocketAddr {
    let app = peloton::axum::channel_route(backend);
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
        "PELOTON_TEST_MONGO_URL is not set: run `scripts/services.sh start` and \
         `eval $(scripts/services.sh env)` (./run test does both)",
    )
}

/// A redis-server for the tests (`scripts/services.sh start`).
pub fn redis_url() -> String {
    std::env::var("PELOTON_TEST_REDIS_URL").expect(
        "PELOTON_TEST_REDIS_URL is not set: run `scripts/services.sh start` and \
         `eval $(scripts/services.sh env)` (./run test does both)",
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
