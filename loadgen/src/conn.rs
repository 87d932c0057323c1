//! One WebSocket connection speaking ShareDB's protocol, as raw JSON.

use std::borrow::Cow;
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("connection closed")]
    Closed,
    #[error("socket error: {0}")]
    Socket(String),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("server error on {0}: {1}")]
    Server(&'static str, String),
}

/// The fields of a server message the generator looks at; everything else
/// is skipped without being built.
#[derive(Debug, Deserialize)]
pub struct Incoming<'a> {
    #[serde(borrow, default)]
    pub a: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub src: Option<Cow<'a, str>>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub v: Option<u64>,
    #[serde(default)]
    pub op: Option<IgnoredAny>,
    #[serde(default)]
    pub create: Option<IgnoredAny>,
    #[serde(default)]
    pub del: Option<IgnoredAny>,
    #[serde(default)]
    pub error: Option<Value>,
}

impl Incoming<'_> {
    /// An op carrying a body (someone's op, sent to subscribers), as
    /// opposed to an acknowledgement.
    pub fn has_body(&self) -> bool {
        self.op.is_some() || self.create.is_some() || self.del.is_some()
    }
}

pub struct Conn {
    pub sink: SplitSink<Socket, Message>,
    pub stream: SplitStream<Socket>,
    /// The id the server gave: the `src` of this connection's ops.
    pub id: String,
}

impl Conn {
    /// Whether the server has closed this connection, judging by what is
    /// already received (a close frame, the end, an error), without
    /// waiting: for clients that do not read as they go.
    pub fn closed_meanwhile(&mut self) -> bool {
        use futures::FutureExt;
        while let Some(next) = self.stream.next().now_or_never() {
            match next {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return true,
                Some(Ok(_)) => {}
            }
        }
        false
    }

    /// Connects and shakes hands.
    pub async fn open(url: &str) -> Result<Self, ConnError> {
        // Messages are a few hundred bytes: a small read buffer saves
        // zeroing tungstenite's default 128 KiB one on every read.
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .map_err(|e| ConnError::Connect(url.to_owned(), e.to_string()))?;
        let (sink, stream) = socket.split();
        let mut conn = Conn {
            sink,
            stream,
            id: String::new(),
        };
        conn.send(r#"{"a":"hs","id":null,"protocol":1,"protocolMinor":2}"#.to_owned())
            .await?;
        let reply = conn
            .wait("handshake", |m| m.a.as_deref() == Some("hs"))
            .await?;
        conn.id = reply["id"].as_str().unwrap_or_default().to_owned();
        Ok(conn)
    }

    pub async fn send(&mut self, text: String) -> Result<(), ConnError> {
        self.sink
            .send(Message::text(text))
            .await
            .map_err(|e| ConnError::Socket(e.to_string()))
    }

    /// The next text frame.
    pub async fn next_text(&mut self) -> Result<String, ConnError> {
        loop {
            match self.stream.next().await {
                Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
                Some(Ok(Message::Close(_))) | None => return Err(ConnError::Closed),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(ConnError::Socket(e.to_string())),
            }
        }
    }

    /// Waits (5 s at most) for a message satisfying `predicate`; returns it
    /// parsed in full.
    pub async fn wait(
        &mut self,
        what: &'static str,
        predicate: impl Fn(&Incoming) -> bool,
    ) -> Result<Value, ConnError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let text = tokio::time::timeout_at(deadline, self.next_text())
                .await
                .map_err(|_| ConnError::Timeout(what))??;
            let Ok(message) = serde_json::from_str::<Incoming>(&text) else {
                continue;
            };
            if let Some(error) = &message.error
                && predicate(&message)
            {
                return Err(ConnError::Server(what, error.to_string()));
            }
            if predicate(&message) {
                return serde_json::from_str(&text).map_err(|e| ConnError::Socket(e.to_string()));
            }
        }
    }
}
