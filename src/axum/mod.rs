//! The HTTP side, on axum: the `/channel` WebSocket route that speaks
//! ShareDB's protocol.

mod channel;

pub use channel::{CHANNEL_PATH, channel_route};
