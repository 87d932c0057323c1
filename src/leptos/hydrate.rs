//! The browser's entry: the model rebuilt from the page, then hydration.
//!
//! This module owns the browser's start only: finding the bundle and the
//! WebSocket's URL, and following the network; rebuilding the model is
//! `Model::from_bundle`'s, and what renders is the app's.

use ::leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use super::provide_model;
use crate::client::Connection;
use crate::client::transport::WebSocketConnector;
use crate::model::{BUNDLE_ELEMENT_ID, Bundle, Model, ModelOptions};

/// How the browser side starts: where the server's WebSocket is, and the
/// page model's options.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HydrateOptions {
    /// The WebSocket's path on the page's host (`/channel`, or
    /// `/app/channel` for an app served under `/app`), or a whole
    /// `ws://` / `wss://` URL. It must match the server's
    /// `peloton::axum::channel_route_at`. Default: `/channel`.
    pub channel: String,
    /// The page model's options.
    pub model: ModelOptions,
    /// Whether edits the server has not acknowledged are kept in
    /// IndexedDB, so that closing the page loses none: the next page of
    /// the origin sends them, exactly once (see
    /// `peloton::client::offline`). Default: on.
    pub offline: bool,
    /// With `offline`: the service worker to register, so that pages
    /// visited before open offline (`peloton::axum::service_worker_route`
    /// serves it); `None`: none. Default: `/peloton-sw.js`.
    pub service_worker: Option<String>,
}

impl Default for HydrateOptions {
    fn default() -> Self {
        Self {
            channel: "/channel".to_owned(),
            model: ModelOptions::default(),
            offline: true,
            service_worker: Some("/peloton-sw.js".to_owned()),
        }
    }
}

impl HydrateOptions {
    /// The default options with the WebSocket at `channel` (a path or a URL).
    pub fn channel(channel: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            ..Self::default()
        }
    }
}

/// Hydrates the server-rendered page with the app `app`, after rebuilding
/// the page's model from its bundle (so the first render is the server's)
/// on a WebSocket to `/channel`: what the server loaded is subscribed from
/// the versions it rendered, so only what changed since is sent. The
/// connection reconnects by itself, and goes offline and back with the
/// browser. [`hydrate_body_with`] takes another path.
pub fn hydrate_body<F, N>(app: F)
where
    F: FnOnce() -> N + 'static,
    N: IntoView,
{
    hydrate_body_with(app, HydrateOptions::default());
}

/// [`hydrate_body`] with options: the WebSocket's path, the model's options.
pub fn hydrate_body_with<F, N>(app: F, options: HydrateOptions)
where
    F: FnOnce() -> N + 'static,
    N: IntoView,
{
    let model = page_model(&options);
    follow_network(&model);
    #[cfg(target_arch = "wasm32")]
    if options.offline
        && let Some(connection) = model.connection()
    {
        crate::client::offline::browser::start(
            connection.clone(),
            channel_url(&options.channel),
            options.service_worker.clone(),
        );
    }
    ::leptos::mount::hydrate_body(move || {
        provide_model(model);
        app()
    });
}

/// The model of the page: its bundle on a new connection.
fn page_model(options: &HydrateOptions) -> Model {
    let bundle = read_bundle().unwrap_or_else(|e| {
        ::leptos::logging::warn!("peloton: no usable bundle in the page ({e}); starting empty");
        Bundle::default()
    });
    let connection = Connection::new(WebSocketConnector::new(channel_url(&options.channel)));
    Model::from_bundle(Some(connection), bundle, options.model.clone())
}

fn read_bundle() -> Result<Bundle, String> {
    let element = document()
        .get_element_by_id(BUNDLE_ELEMENT_ID)
        .ok_or("no bundle element")?;
    let json = element.text_content().unwrap_or_default();
    serde_json::from_str(&json).map_err(|e| e.to_string())
}

/// `ws(s)://<this host><path>`, or `channel` itself if it is a URL.
fn channel_url(channel: &str) -> String {
    if channel.starts_with("ws://") || channel.starts_with("wss://") {
        return channel.to_owned();
    }
    let location = window().location();
    let secure = location.protocol().is_ok_and(|p| p == "https:");
    let host = location.host().unwrap_or_default();
    let path = if channel.starts_with('/') {
        channel.to_owned()
    } else {
        format!("/{channel}")
    };
    format!("{}://{host}{path}", if secure { "wss" } else { "ws" })
}

/// Goes offline when the browser does (a dead network does not always
/// close a WebSocket), and reconnects at once when it is back.
fn follow_network(model: &Model) {
    let Some(connection) = model.connection().cloned() else {
        return;
    };
    let listen = |event: &str, f: Box<dyn Fn()>| {
        let closure = Closure::<dyn Fn()>::new(f);
        let _ = window().add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
        // Lives as long as the page.
        closure.forget();
    };
    let offline = connection.clone();
    listen("offline", Box::new(move || offline.disconnect()));
    listen("online", Box::new(move || connection.reconnect()));
}
