//! The little the client needs from an async runtime: spawning a task and
//! sleeping. tokio natively; the browser's event loop in WASM.
//!
//! This module owns those calls and the clock (`now_ms`) only; it keeps no
//! state and knows nothing of its callers (the connection, the model, the
//! views).

use std::future::Future;
use std::time::Duration;

/// Runs a future in the background.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
    tokio::spawn(future);
}

/// Runs a future in the background.
#[cfg(target_arch = "wasm32")]
pub(crate) fn spawn<F: Future<Output = ()> + 'static>(future: F) {
    wasm_bindgen_futures::spawn_local(future);
}

/// Waits for `duration`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// Waits for `duration`.
#[cfg(target_arch = "wasm32")]
pub(crate) async fn sleep(duration: Duration) {
    gloo_timers::future::sleep(duration).await;
}

/// Milliseconds since the Unix epoch, as a float (the browser's clock in
/// WASM): for time windows, not for ordering events across machines.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Milliseconds since the Unix epoch, as a float (the browser's clock in
/// WASM): for time windows, not for ordering events across machines.
#[cfg(target_arch = "wasm32")]
pub(crate) fn now_ms() -> f64 {
    js_sys::Date::now()
}
