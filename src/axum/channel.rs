//! `/channel`: ShareDB's protocol over WebSocket, one JSON message per
//! text frame.
//!
//! This module owns the socket only: frames in and out, the size check, close
//! frames and TCP settings. Parsing messages is `protocol`'s; answering them,
//! and deciding when to ping or close, is the agent's (`backend`).

use ::axum::Router;
use ::axum::extract::State;
use std::time::{Duration, Instant};

use ::axum::extract::ws::{
    CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code,
};
use ::axum::response::Response;
use ::axum::routing::get;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};

use crate::backend::Backend;
use crate::protocol::{
    ClientMessage, ErrorObject, Incoming, Rejected, ServerMessage, ServerTransport,
};

/// Where clients connect by default: browsers, the npm `sharedb` client,
/// peloton's own WebSocket client (see [`channel_route_at`] for another
/// path).
pub const CHANNEL_PATH: &str = "/channel";

/// A router with the `/channel` WebSocket route, to merge into an app's.
///
/// Serve it on sockets set up by [`tune_stream`], as below: realtime
/// traffic is many small frames, which Nagle's algorithm would delay by
/// tens of milliseconds, and TCP keepalive lets the kernel notice a client
/// that vanished without closing.
///
/// ```no_run
/// use peloton::backend::Backend;
///
/// # async fn run() -> std::io::Result<()> {
/// use axum::serve::ListenerExt;
///
/// let app = axum::Router::new().merge(peloton::axum::channel_route(Backend::new()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000")
///     .await?
///     .tap_io(|stream| { let _ = peloton::axum::tune_stream(stream); });
/// axum::serve(listener, app).await
/// # }
/// ```
pub fn channel_route<S>(backend: Backend) -> Router<S> {
    channel_route_at(CHANNEL_PATH, backend)
}

/// The WebSocket route at another path, for an app served under a prefix
/// (`/app/channel`); the browser side must use the same path
/// (`peloton::leptos::HydrateOptions::channel`).
///
/// # Panics
/// If `path` is not a valid axum route path (it must start with `/`).
pub fn channel_route_at<S>(path: &str, backend: Backend) -> Router<S> {
    Router::new().route(path, get(upgrade)).with_state(backend)
}

/// Sets a served TCP stream up for realtime traffic: `TCP_NODELAY` (each
/// small frame leaves at once) and keepalive probes after a minute of
/// silence, every 10 seconds, so a peer gone without a word (a phone that
/// left coverage) is dropped by the kernel even when nothing is sent to it.
/// The server's own WebSocket pings and idle timeout
/// ([`Limits`](crate::backend::Limits)) catch the rest.
pub fn tune_stream(stream: &tokio::net::TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(10));
    socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)
}

async fn upgrade(
    State(backend): State<Backend>,
    request: http::request::Parts,
    ws: WebSocketUpgrade,
) -> Response {
    // Messages over the backend's limit are answered with an error and
    // dropped; the read limit above it bounds the memory one message takes.
    let limit = backend.options().max_message_bytes;
    let read_limit = backend.options().max_read_bytes.max(limit);
    ws.max_message_size(read_limit)
        .max_frame_size(read_limit)
        // The default read buffer (128 KiB, zeroed on every read) costs
        // memory per idle client and time per message; frames are small.
        .read_buffer_size(1 << 10)
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            let io = SocketIo {
                sink,
                stream,
                limit,
                last_seen: Instant::now(),
            };
            // The agent owns the socket: no task between them.
            backend.serve_in_place(io, Some(request))
        })
}

/// A WebSocket as an agent's connection: text frames in and out.
struct SocketIo {
    sink: SplitSink<WebSocket, Message>,
    stream: SplitStream<WebSocket>,
    limit: usize,
    /// When the client last sent a frame of any kind.
    last_seen: Instant,
}

impl ServerTransport for SocketIo {
    async fn recv(&mut self) -> Incoming {
        loop {
            let Some(frame) = self.stream.next().await else {
                return Incoming::Gone(None);
            };
            self.last_seen = Instant::now();
            let reply = match frame {
                Ok(Message::Text(text)) if text.len() > self.limit => {
                    ServerMessage::Error(Box::new(Rejected::oversized(&text, self.limit)))
                }
                Ok(Message::Text(text)) => {
                    return match ClientMessage::parse(&text) {
                        Ok(message) => Incoming::Message(message),
                        Err(rejected) => Incoming::Reply(ServerMessage::Error(rejected)),
                    };
                }
                Ok(Message::Binary(_)) => ServerMessage::error(
                    Default::default(),
                    ErrorObject::badly_formed(
                        "Binary frames are not supported: send JSON text frames",
                    ),
                ),
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(Message::Close(_)) => return Incoming::Gone(None),
                Err(error) => return Incoming::Gone(close_reason(error)),
            };
            return Incoming::Reply(reply);
        }
    }

    async fn send(&mut self, messages: Vec<ServerMessage>) -> bool {
        if messages.is_empty() {
            return true;
        }
        for message in messages {
            if self
                .sink
                .feed(Message::Text(text_frame(&message)))
                .await
                .is_err()
            {
                return false;
            }
        }
        self.sink.flush().await.is_ok()
    }

    fn idle_for(&self) -> Duration {
        self.last_seen.elapsed()
    }

    async fn ping(&mut self) -> bool {
        self.sink
            .send(Message::Ping(Default::default()))
            .await
            .is_ok()
    }

    /// Sends a close frame with the code and reason, then waits (briefly)
    /// for the client's: closing the socket with unread data would make
    /// the kernel reset the connection, and the client could lose the
    /// frame, and with it the reason.
    async fn close(&mut self, code: u16, reason: String) {
        let frame = CloseFrame {
            code,
            reason: truncate(reason, MAX_CLOSE_REASON).into(),
        };
        let sent = tokio::time::timeout(CLOSE_LINGER, self.sink.send(Message::Close(Some(frame))));
        if !matches!(sent.await, Ok(Ok(()))) {
            return;
        }
        let deadline = tokio::time::Instant::now() + CLOSE_LINGER;
        let answered = tokio::time::timeout_at(deadline, async {
            while let Some(Ok(frame)) = self.stream.next().await {
                if matches!(frame, Message::Close(_)) {
                    return true;
                }
            }
            false
        })
        .await;
        // A stream that cannot be read (a message too big, left unread)
        // gives no answer: linger all the same, or the kernel resets the
        // connection over the unread data and the frame is lost.
        if answered != Ok(true) {
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// How long a closing connection waits for its close frame to go out, and
/// then for the client's.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

/// The longest close reason the protocol allows, in bytes.
const MAX_CLOSE_REASON: usize = 123;

/// The close code and reason for a read error, or `None` when the
/// connection itself failed and there is no one to tell.
fn close_reason(error: ::axum::Error) -> Option<(u16, String)> {
    use tungstenite::error::{CapacityError, Error};
    let error = error.into_inner().downcast::<Error>().ok()?;
    Some(match *error {
        Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => (
            close_code::SIZE,
            format!("Message of {size} bytes is over the limit of {max_size} bytes"),
        ),
        Error::Capacity(e) => (close_code::SIZE, e.to_string()),
        Error::Protocol(e) => (
            close_code::PROTOCOL,
            format!("WebSocket protocol error: {e}"),
        ),
        Error::Utf8(_) => (
            close_code::INVALID,
            "Text frame is not valid UTF-8".to_owned(),
        ),
        _ => return None,
    })
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// A message as a text frame: an op's shared bytes as they are (checked as
/// UTF-8, which they are, without a copy), anything else serialized.
fn text_frame(message: &ServerMessage) -> Utf8Bytes {
    Utf8Bytes::try_from(message.to_json_bytes()).unwrap_or_else(|_| message.to_json().into())
}
