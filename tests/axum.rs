//! The store's model middleware in plain axum: a fetch-only model per
//! request, its bundle in HTML pages, and the model closed however the
//! request ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Html;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use peloton::axum::ModelLayer;
use peloton::backend::Backend;
use peloton::client::{Connection, ConnectionState};
use peloton::model::{BUNDLE_ELEMENT_ID, Bundle, Model, ModelOptions};
use serde_json::json;
use tower::ServiceExt;

/// The models the handlers were given, to look at after the response.
type Seen = Arc<Mutex<Vec<Model>>>;

async fn backend_with_note(text: &str) -> Backend {
    let backend = Backend::new();
    Model::new(Connection::new(backend.clone()))
        .create("notes.n", json!({"text": text}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    backend
}

fn app(backend: &Backend, seen: &Seen) -> Router {
    let (page_seen, text_seen, stuck_seen) = (seen.clone(), seen.clone(), seen.clone());
    Router::new()
        .route(
            "/page",
            get(move |model: Model| async move {
                page_seen.lock().unwrap().push(model.clone());
                model.subscribe(["notes.n"]).await.unwrap();
                let text = model.get::<String>("notes.n.text").unwrap_or_default();
                Html(format!("<html><body><p>{}</p></body></html>", text.len()))
            }),
        )
        .route(
            "/text",
            get(move |model: Model| async move {
                text_seen.lock().unwrap().push(model.clone());
                model.fetch(["notes.n"]).await.unwrap();
                model.get::<String>("notes.n.text").unwrap_or_default()
            }),
        )
        .route(
            "/stuck",
            get(move |model: Model| async move {
                stuck_seen.lock().unwrap().push(model.clone());
                std::future::pending::<()>().await;
            }),
        )
        .layer(ModelLayer::new(backend.clone()))
}

async fn body(response: axum::response::Response) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn get_request(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn closed(model: &Model) -> bool {
    model.connection().unwrap().state() == ConnectionState::Closed
}

#[tokio::test]
async fn an_html_page_carries_the_bundle_of_its_fetch_only_model() {
    let backend = backend_with_note("</script><script>alert(1)</script>").await;
    let seen = Seen::default();
    let response = app(&backend, &seen)
        .oneshot(get_request("/page"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = body(response).await;
    let start = format!(r#"<script id="{BUNDLE_ELEMENT_ID}" type="application/json">"#);
    let json = html
        .split_once(&start)
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(json, _)| json)
        .expect("the bundle is in the page, before </body>");
    assert!(html.ends_with("</script></body></html>"), "{html}");
    assert!(!json.contains('<'), "nothing in it can close the script");

    let bundle: Bundle = serde_json::from_str(json).unwrap();
    assert_eq!(bundle.counts, [("notes".into(), "n".into(), 1, 0)]);
    assert_eq!(bundle.docs["notes"]["n"].v, 1);
    let options = {
        let mut options = ModelOptions::default();
        options.fetch_only = true;
        options
    };
    let again = Model::from_bundle(Some(Connection::new(backend.clone())), bundle, options);
    assert_eq!(
        again.get::<String>("notes.n.text").as_deref(),
        Some("</script><script>alert(1)</script>"),
        "the browser's model reads what the server's did"
    );

    let model = seen.lock().unwrap()[0].clone();
    assert!(model.options().fetch_only);
    let doc = model.connection().unwrap().get("notes", "n");
    assert!(!doc.subscribed(), "a page's subscribe is a fetch");
    assert!(closed(&model), "closed once the response was done");
}

#[tokio::test]
async fn other_responses_pass_through_untouched_and_their_model_closes() {
    let backend = backend_with_note("hello").await;
    let seen = Seen::default();
    let response = app(&backend, &seen)
        .oneshot(get_request("/text"))
        .await
        .unwrap();
    assert_eq!(body(response).await, "hello");
    assert!(closed(&seen.lock().unwrap()[0]));
}

#[tokio::test]
async fn a_request_dropped_half_way_closes_its_model() {
    let backend = Backend::new();
    let seen = Seen::default();
    let request = app(&backend, &seen).oneshot(get_request("/stuck"));
    assert!(
        tokio::time::timeout(Duration::from_millis(100), request)
            .await
            .is_err(),
        "the handler never answers"
    );
    let model = seen.lock().unwrap()[0].clone();
    assert!(closed(&model), "the client went away: the model is closed");
}

#[tokio::test]
async fn without_the_layer_the_extractor_says_what_is_missing() {
    let app = Router::new().route("/", get(|_: Model| async { "unreachable" }));
    let response = app.oneshot(get_request("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body(response).await.contains("ModelLayer"));
}

#[tokio::test]
async fn the_channel_can_live_under_a_prefix() {
    let backend = backend_with_note("hi").await;
    let app = peloton::axum::channel_route_at("/app/channel", backend);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Connection::new(peloton::client::transport::WebSocketConnector::new(
        format!("ws://{addr}/app/channel"),
    ));
    let note = client.get("notes", "n");
    note.fetch().await.unwrap();
    assert_eq!(note.data(), Some(json!({"text": "hi"})));
}

/// Opens connections that never come up.
struct NeverConnects;

impl peloton::protocol::Connector for NeverConnects {
    fn connect(&self) -> peloton::protocol::ConnectFuture {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn a_bundle_waits_for_pending_requests_as_long_as_the_model_says() {
    let options = {
        let mut options = ModelOptions::default();
        options.fetch_only = true;
        options.bundle_wait = Duration::from_millis(100);
        options
    };
    let model = Model::with_options(Connection::new(NeverConnects), options);
    let loading = model.clone();
    tokio::spawn(async move {
        let _ = loading.subscribe(["notes.n"]).await;
    });
    tokio::task::yield_now().await;
    let started = std::time::Instant::now();
    let bundle = model.bundle().await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(100) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert!(bundle.docs.is_empty());
}
