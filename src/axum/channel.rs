//! `/channel`: ShareDB's protocol over WebSocket, one JSON message per
//! text frame.

use ::axum::Router;
use ::axum::extract::State;
use ::axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use ::axum::response::Response;
use ::axum::routing::get;
use futures::{SinkExt, StreamExt};

use crate::backend::Backend;
use crate::protocol::{ClientMessage, ErrorObject, ServerMessage, transport};

/// Where clients connect: browsers, the npm `sharedb` client, peloton's own
/// WebSocket client.
pub const CHANNEL_PATH: &str = "/channel";

/// A router with the `/channel` WebSocket route, to merge into an app's.
///
/// ```no_run
/// use peloton::backend::Backend;
///
/// # async fn run() -> std::io::Result<()> {
/// let app = axum::Router::new().merge(peloton::axum::channel_route(Backend::new()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
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
        .on_upgrade(move |socket| serve_socket(backend, socket, request))
}

/// Pumps frames between the socket and the connection's agent.
async fn serve_socket(backend: Backend, socket: WebSocket, request: http::request::Parts) {
    let (mut to_agent, agent_end) = transport::pair();
    backend.serve(agent_end, Some(request));
    let limit = backend.options().max_message_bytes;
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            frame = stream.next() => {
                let reply = match frame {
                    Some(Ok(Message::Text(text))) if text.len() > limit => Some(too_large(text.len(), limit)),
                    Some(Ok(Message::Text(text))) => match ClientMessage::parse(&text) {
                        Ok(message) => {
                            if to_agent.tx.unbounded_send(message).is_err() {
                                break;
                            }
                            None
                        }
                        Err(rejected) => Some(ServerMessage::Error(rejected)),
                    },
                    Some(Ok(Message::Binary(_))) => Some(ServerMessage::error(
                        Default::default(),
                        ErrorObject::badly_formed("Binary frames are not supported: send JSON text frames"),
                    )),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                if let Some(reply) = reply
                    && sink.send(Message::text(reply.to_json())).await.is_err() {
                        break;
                    }
            }
            message = to_agent.rx.next() => {
                let Some(message) = message else { break };
                // Write whatever else is queued before flushing once.
                if sink.feed(Message::text(message.to_json())).await.is_err() {
                    break;
                }
                while let Ok(message) = to_agent.rx.try_recv() {
                    if sink.feed(Message::text(message.to_json())).await.is_err() {
                        break;
                    }
                }
                if sink.flush().await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = sink.close().await;
}

fn too_large(size: usize, limit: usize) -> ServerMessage {
    ServerMessage::error(
        Default::default(),
        ErrorObject::badly_formed(format!(
            "Message of {size} bytes is over the limit of {limit} bytes"
        )),
    )
}
