//! The service worker that lets a page open offline: `GET /peloton-sw.js`.
//!
//! It answers same-origin `GET`s from the network, keeping a copy of each
//! page and file, and from that copy when the network does not answer; the
//! edits a page kept offline come back from IndexedDB (see
//! `peloton::client::offline`). The browser side registers it when
//! `HydrateOptions::offline` is on. This module only serves the script.

use ::axum::Router;
use ::axum::http::header;
use ::axum::response::IntoResponse;
use ::axum::routing::get;

/// Where the service worker is served: at the root, so its scope is the
/// whole site.
pub const SERVICE_WORKER_PATH: &str = "/peloton-sw.js";

const SCRIPT: &str = include_str!("../../js/peloton-sw.js");

/// The route of the service worker script, to merge into the app's router
/// beside [`channel_route`](super::channel_route).
pub fn service_worker_route<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route(SERVICE_WORKER_PATH, get(script))
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Checked for updates on every page load.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
}
