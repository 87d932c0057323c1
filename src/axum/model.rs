//! The store's model middleware: a fetch-only [`Model`] per request.
//!
//! [`ModelLayer`] gives each request a model (created on first use, so
//! requests that never ask for one cost nothing), connected in-process to
//! the [`Backend`]. Handlers get it with the [`Model`] extractor (the
//! seed's `req.getModel()`); Leptos pages get it from context (see
//! `peloton::leptos`). It is fetch-only: `subscribe` loads the data once,
//! the browser subscribes for real after hydration. When the response is
//! an HTML page, the model's [bundle](crate::model::Bundle) is written into
//! it; then the model is closed.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use peloton::axum::ModelLayer;
//! use peloton::backend::Backend;
//! use peloton::model::Model;
//!
//! async fn count(model: Model) -> String {
//!     let _ = model.fetch(["counters.home"]).await;
//!     format!("{}", model.get::<u64>("counters.home.hits").unwrap_or(0))
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let backend = Backend::new();
//! let app = Router::new()
//!     .route("/count", get(count))
//!     .layer(ModelLayer::new(backend));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use ::axum::body::Body;
use ::axum::extract::FromRequestParts;
use ::axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http::{Request, StatusCode};
use tower::{Layer, Service};

use crate::backend::Backend;
use crate::client::Connection;
use crate::model::{BUNDLE_ELEMENT_ID, Model, ModelOptions};

/// A request's model, created on first use.
#[derive(Clone)]
pub struct RequestModel {
    backend: Backend,
    request: Arc<Parts>,
    model: Arc<OnceLock<Model>>,
}

impl RequestModel {
    /// The request's model (created now if it was not yet).
    pub fn get(&self) -> Model {
        self.model
            .get_or_init(|| {
                let connection = Connection::new(InProcess {
                    backend: self.backend.clone(),
                    request: self.request.clone(),
                });
                Model::with_options(
                    connection,
                    ModelOptions {
                        fetch_only: true,
                        ..ModelOptions::default()
                    },
                )
            })
            .clone()
    }

    fn created(&self) -> Option<&Model> {
        self.model.get()
    }
}

/// Connects in-process on behalf of the page request, so the backend's
/// `connect` middleware sees its headers (cookies, sessions).
struct InProcess {
    backend: Backend,
    request: Arc<Parts>,
}

impl crate::protocol::Connector for InProcess {
    fn connect(&self) -> crate::protocol::ConnectFuture {
        // The page's connection runs the server's side in its own task.
        let end = (self.backend).connect_driven(Some(clone_parts(&self.request)));
        Box::pin(async move { Ok(end) })
    }
}

fn clone_parts(parts: &Parts) -> Parts {
    let mut request = Request::new(());
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    request.into_parts().0
}

/// The tower layer of the store's model middleware.
#[derive(Clone)]
pub struct ModelLayer {
    backend: Backend,
}

impl ModelLayer {
    /// Models on `backend`.
    pub fn new(backend: Backend) -> Self {
        Self { backend }
    }
}

impl<S> Layer<S> for ModelLayer {
    type Service = ModelService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ModelService {
            inner,
            backend: self.backend.clone(),
        }
    }
}

/// The service of [`ModelLayer`].
#[derive(Clone)]
pub struct ModelService<S> {
    inner: S,
    backend: Backend,
}

impl<S> Service<Request<Body>> for ModelService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let model = RequestModel {
            backend: self.backend.clone(),
            request: Arc::new(clone_parts(&parts)),
            model: Arc::new(OnceLock::new()),
        };
        request = Request::from_parts(parts, body);
        request.extensions_mut().insert(model.clone());
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            // Closes the model however the request ends: answered, failed,
            // or dropped half-way (the client went away).
            let close = CloseOnDrop(model.clone(), std::time::Instant::now());
            let response = inner.call(request).await?;
            if model.created().is_none() || !is_html(&response) {
                return Ok(response);
            }
            Ok(with_bundle(response, close))
        })
    }
}

/// Closes a request's model (if it made one) when dropped, and records how
/// long the page took since the request came in (its last byte is out, or
/// the client went away).
struct CloseOnDrop(RequestModel, std::time::Instant);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(model) = self.0.created() {
            model.close();
            metrics::histogram!(crate::backend::telemetry::SSR_RENDER_SECONDS)
                .record(self.1.elapsed());
        }
    }
}

fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// Streams an HTML page through as it renders, and writes the model's
/// bundle at its end, once every resource of the page has loaded: Leptos
/// hydrates only after the whole stream, so the bundle is there in time in
/// every SSR mode (Async, InOrder, OutOfOrder, PartiallyBlocked). The last
/// chunk is held back, so that a page that ends with `</body>` (all of an
/// `Async` page is one chunk) gets the bundle inside its body; after
/// out-of-order chunks, which Leptos itself writes after `</html>`, it
/// follows them. The model closes when the stream ends or is dropped.
fn with_bundle(response: Response, close: CloseOnDrop) -> Response {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    let stream = WithBundle {
        chunks: body.into_data_stream(),
        held: None,
        close: Some(close),
        bundling: None,
        out: VecDeque::new(),
        done: false,
    };
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The stream of [`with_bundle`]: a struct rather than a combinator, so
/// that each chunk passes without its state being moved, and the page's
/// last chunk goes out as slices around the bundle, not copied into a new
/// buffer with it.
struct WithBundle {
    chunks: ::axum::body::BodyDataStream,
    /// The latest chunk, held back until the next one (or the end) comes.
    held: Option<Bytes>,
    /// Dropped once the last byte is out (or the client went away).
    close: Option<CloseOnDrop>,
    /// The bundle's `<script>`, being made once the page has rendered.
    bundling: Option<BoxFuture<'static, Bytes>>,
    /// What is left to send, in order.
    out: VecDeque<Bytes>,
    /// The page's chunks have all come (or one failed).
    done: bool,
}

impl futures::Stream for WithBundle {
    type Item = Result<Bytes, ::axum::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(next) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(next)));
            }
            if let Some(bundling) = &mut this.bundling {
                let script = std::task::ready!(bundling.as_mut().poll(cx));
                this.bundling = None;
                let last = this.held.take().unwrap_or_default();
                this.out.extend(around_body_end(last, script));
                continue;
            }
            if this.done {
                // Everything is out: the model can go.
                this.close = None;
                return Poll::Ready(None);
            }
            match std::task::ready!(this.chunks.poll_next_unpin(cx)) {
                // An empty chunk (leptos ends its stream with one) is not
                // worth holding back.
                Some(Ok(chunk)) if chunk.is_empty() => {}
                Some(Ok(chunk)) => {
                    if let Some(previous) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Some(Err(e)) => {
                    tracing::error!("rendering the page failed: {e}");
                    this.done = true;
                    this.held = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.done = true;
                    match this.close.as_ref().and_then(|c| c.0.created().cloned()) {
                        Some(model) => {
                            this.bundling =
                                Some(Box::pin(async move { bundle_script(&model).await }));
                        }
                        None => this.out.extend(this.held.take()),
                    }
                }
            }
        }
    }
}

/// The `<script>` that carries `model`'s bundle into the page.
async fn bundle_script(model: &Model) -> Bytes {
    let mut script = Vec::with_capacity(32 * 1024);
    script.extend_from_slice(br#"<script id=""#);
    script.extend_from_slice(BUNDLE_ELEMENT_ID.as_bytes());
    script.extend_from_slice(br#"" type="application/json">"#);
    let open = script.len();
    match model.write_bundle_json(&mut script).await {
        Ok(()) => escape_for_script(&mut script, open),
        Err(e) => {
            tracing::error!("serializing a bundle failed: {e}");
            script.truncate(open);
            script.extend_from_slice(b"{}");
        }
    }
    script.extend_from_slice(b"</script>");
    Bytes::from(script)
}

/// `last` split around its last `</body>`, with `script` in between (or
/// after it, if it has none); empty pieces left out.
fn around_body_end(last: Bytes, script: Bytes) -> Vec<Bytes> {
    const BODY_END: &[u8] = b"</body>";
    let at = last
        .windows(BODY_END.len())
        .rposition(|w| w == BODY_END)
        .unwrap_or(last.len());
    [last.slice(..at), script, last.slice(at..)]
        .into_iter()
        .filter(|piece| !piece.is_empty())
        .collect()
}

/// Makes the JSON in `buf` from `from` on safe inside `<script>`: `<`,
/// `>` and `&` only occur in JSON strings, where their `\u` escapes mean
/// the same. Most bundles have none, and are left as they are.
fn escape_for_script(buf: &mut Vec<u8>, from: usize) {
    let Some(first) = memchr::memchr3(b'<', b'>', b'&', &buf[from..]) else {
        return;
    };
    let json = buf.split_off(from + first);
    let mut rest = &json[..];
    while let Some(at) = memchr::memchr3(b'<', b'>', b'&', rest) {
        buf.extend_from_slice(&rest[..at]);
        buf.extend_from_slice(match rest[at] {
            b'<' => b"\\u003c",
            b'>' => b"\\u003e",
            _ => b"\\u0026",
        });
        rest = &rest[at + 1..];
    }
    buf.extend_from_slice(rest);
}

/// `Model` as an axum extractor: the request's model (needs
/// [`ModelLayer`]).
impl<S: Send + Sync> FromRequestParts<S> for Model {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestModel>()
            .map(RequestModel::get)
            .ok_or((
                StatusCode::INTERNAL_SERVER_ERROR,
                "no model for this request: add peloton::axum::ModelLayer to the router",
            ))
    }
}

/// Provides the request's model (from [`ModelLayer`]) to the page's
/// components, as `peloton::leptos` reads it: pass it to
/// `leptos_routes_with_context` (and to `file_and_error_handler_with_context`,
/// so error pages have it too). The model is made when a component first
/// asks for it, so responses that never do (static files) cost nothing.
pub fn provide_request_model() {
    use ::leptos::prelude::{provide_context, use_context};
    // Without the request's parts this is no page render (leptos_axum's
    // file handler serving a static file): nothing to provide.
    let Some(parts) = use_context::<http::request::Parts>() else {
        return;
    };
    match parts.extensions.get::<RequestModel>() {
        Some(model) => {
            let model = model.clone();
            provide_context(crate::leptos::LazyModel::new(move || model.get()));
        }
        None => tracing::error!("no request model: add peloton::axum::ModelLayer to the router"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_goes_inside_the_body_or_after_the_last_chunk() {
        let script = Bytes::from_static(b"<script>b</script>");
        let page = |last: &'static [u8]| {
            around_body_end(Bytes::from_static(last), script.clone()).concat()
        };
        assert_eq!(
            page(b"<html><body><p>x</p></body></html>"),
            b"<html><body><p>x</p><script>b</script></body></html>"
        );
        assert_eq!(
            page(b"<template>y</template>"),
            b"<template>y</template><script>b</script>"
        );
        assert_eq!(page(b""), b"<script>b</script>");
    }

    #[test]
    fn scripts_cannot_be_closed_from_data() {
        let json = serde_json::json!({"t": "</script><script>alert(1)</script>&"}).to_string();
        let mut escaped = b"<script>".to_vec();
        escaped.extend_from_slice(json.as_bytes());
        escape_for_script(&mut escaped, "<script>".len());
        let escaped = String::from_utf8(escaped).unwrap();
        let escaped = escaped.strip_prefix("<script>").unwrap();
        assert!(!escaped.contains("</"));
        let back: serde_json::Value = serde_json::from_str(escaped).unwrap();
        assert_eq!(back["t"], "</script><script>alert(1)</script>&");
    }
}
