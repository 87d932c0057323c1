//! The HTTP side, on axum: the `/channel` WebSocket route that speaks
//! ShareDB's protocol, and the store's model middleware that gives each
//! request a model and writes its bundle into the page.

mod channel;
mod model;

pub use channel::{CHANNEL_PATH, channel_route, channel_route_at, tune_stream};
pub use model::{ModelLayer, ModelService, RequestModel, provide_request_model};
