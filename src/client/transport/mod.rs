//! WebSocket transports: connect a [`Connection`](super::Connection) to a
//! server's `/channel`, natively (feature `native`) or in the browser.
//!
//! This module owns the connector (its URL, and which transport serves it); the
//! sockets are `native`'s and `web`'s, and reconnecting is the connection's.

#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
mod native;
#[cfg(target_arch = "wasm32")]
mod web;

use crate::protocol::{ConnectFuture, Connector};

/// Connects to a ShareDB-protocol server over WebSocket, e.g.
/// `ws://127.0.0.1:3000/channel`. Natively it needs feature `native`; in
/// the browser it uses the page's `WebSocket`.
#[derive(Clone, Debug)]
pub struct WebSocketConnector {
    url: String,
}

impl WebSocketConnector {
    /// A connector for `url` (`ws://…` or `wss://…`).
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into() }
    }

    /// The URL it connects to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Connector for WebSocketConnector {
    fn connect(&self) -> ConnectFuture {
        #[cfg(target_arch = "wasm32")]
        return Box::pin(web::connect(self.url.clone()));
        #[cfg(all(feature = "native", not(target_arch = "wasm32")))]
        return Box::pin(native::connect(self.url.clone()));
        #[cfg(all(not(feature = "native"), not(target_arch = "wasm32")))]
        {
            let url = self.url.clone();
            Box::pin(async move {
                Err(crate::protocol::TransportError {
                    target: url,
                    reason: "peloton was built without the `native` feature".into(),
                })
            })
        }
    }
}
