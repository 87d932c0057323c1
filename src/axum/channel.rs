//! `/channel`: ShareDB's protocol over WebSocket, one JSON message per
//! text frame.

use ::axum::Router;
use ::axum::extract::State;
use ::axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use ::axum::response::Response;
use ::axum::routing::get;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};

use crate::backend::Backend;
use crate::backend::agent::AgentIo;
use crate::protocol::{ClientMessage, ErrorObject, ServerMessage};

/// Where clients connect: browsers, the npm `sharedb` client, peloton's own
/// WebSocket client.
pub const CHANNEL_PATH: &str = "/channel";

/// A router with the `/channel` WebSocket route, to merge into an app's.
///
/// Realtime traffic is many small frames: serve it with `TCP_NODELAY` on,
/// as below, or Nagle's algorithm adds tens of milliseconds to some of
/// them.
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
///     .tap_io(|stream| { let _ = stream.set_nodelay(true); });
/// axum::serve(listener, app).await
/// # }
/// ```
pub fn channel_route<S>(backend: Backend) -> Router<S> {
    Router::new()
        .route(CHANNEL_PATH, get(upgrade))
        .with_state(backend)
}

async fn upgrade(
    State(backend): State<Backend>,
    request: http::request::Parts,
    ws: WebSocketUpgrade,
) -> Response {
    // Frames over the backend's limit are answered with an error and
    // dropped; the transport's own limit, far above it, only guards memory.
    let limit = backend.options().max_message_bytes;
    ws.max_message_size(limit.saturating_mul(8).max(64 << 10))
        // The default read buffer (128 KiB, zeroed on every read) costs
        // memory per idle client and time per message; frames are small.
        .read_buffer_size(1 << 10)
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            let io = SocketIo {
                sink,
                stream,
                limit,
            };
            // The agent owns the socket: no task between them.
            backend.agent(io, Some(request), false)
        })
}

/// A WebSocket as an agent's connection: text frames in and out.
struct SocketIo {
    sink: SplitSink<WebSocket, Message>,
    stream: SplitStream<WebSocket>,
    limit: usize,
}

impl AgentIo for SocketIo {
    async fn recv(&mut self) -> Option<Result<ClientMessage, ServerMessage>> {
        loop {
            let reply = match self.stream.next().await? {
                Ok(Message::Text(text)) if text.len() > self.limit => {
                    too_large(text.len(), self.limit)
                }
                Ok(Message::Text(text)) => {
                    return Some(ClientMessage::parse(&text).map_err(ServerMessage::Error));
                }
                Ok(Message::Binary(_)) => ServerMessage::error(
                    Default::default(),
                    ErrorObject::badly_formed(
                        "Binary frames are not supported: send JSON text frames",
                    ),
                ),
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(Message::Close(_)) | Err(_) => return None,
            };
            return Some(Err(reply));
        }
    }

    async fn send(&mut self, messages: Vec<ServerMessage>) -> bool {
        if messages.is_empty() {
            return true;
        }
        for message in messages {
            if self
                .sink
                .feed(Message::text(message.to_json()))
                .await
                .is_err()
            {
                return false;
            }
        }
        self.sink.flush().await.is_ok()
    }
}

fn too_large(size: usize, limit: usize) -> ServerMessage {
    ServerMessage::error(
        Default::default(),
        ErrorObject::badly_formed(format!(
            "Message of {size} bytes is over the limit of {limit} bytes"
        )),
    )
}
