//! The HTTP side, on axum: the `/channel` WebSocket route that speaks
//! ShareDB's protocol, the store's model middleware that gives each
//! request a model and writes its bundle into the page, and the service
//! worker that lets pages open offline.
//!
//! This module owns the HTTP glue only: it hands each connection's HTTP request
//! to the backend, whose middleware decides who the connection is and what it
//! may do, and it keeps no documents of its own.

mod channel;
mod model;
mod service_worker;

pub use channel::{CHANNEL_PATH, channel_route, channel_route_at, tune_stream};
pub use model::{ModelLayer, ModelService, RequestModel, provide_request_model};
pub use service_worker::{SERVICE_WORKER_PATH, service_worker_route};
