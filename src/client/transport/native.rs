//! The WebSocket transport on tokio (tokio-tungstenite).
//!
//! This module owns the socket and its task only: frames in and out as the
//! protocol's messages. It never reconnects; the connection sees the stream end
//! and does.

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::protocol::{ClientEnd, ServerMessage, TransportError, transport};

pub(super) async fn connect(url: String) -> Result<ClientEnd, TransportError> {
    // Many small frames: send each at once (no Nagle).
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), None, true)
        .await
        .map_err(|e| TransportError {
            target: url.clone(),
            reason: e.to_string(),
        })?;
    let (client, server) = transport::pair();
    let (mut sink, mut stream) = socket.split();
    let (to_client, mut from_client) = (server.tx, server.rx);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => match ServerMessage::parse(&text) {
                        Ok(message) => {
                            if to_client.unbounded_send(message).is_err() {
                                break;
                            }
                        }
                        Err(e) => tracing::warn!("unreadable message from {url}: {e}"),
                    },
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
                message = from_client.next() => {
                    let Some(message) = message else { break };
                    let text = serde_json::to_string(&message).unwrap_or_default();
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.close().await;
    });
    Ok(client)
}
