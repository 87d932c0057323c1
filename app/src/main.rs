//! The demo app's server: axum + Leptos SSR.

use std::net::SocketAddr;

use app::{App, shell};
use axum::Router;
use axum::serve::{Listener, ListenerExt};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use peloton::axum::ModelLayer;
use peloton::axum::provide_request_model;
use peloton::backend::db::MongoDb;
use peloton::backend::pubsub::RedisPubSub;
use peloton::backend::{Backend, redact_password};
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

/// A realtime server allocates many small, short-lived buffers from many
/// threads; mimalloc does that faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    // Before the backend: it takes its metric handles from this recorder.
    let metrics = prometheus()?;

    let options = leptos_options()?;
    let addr = options.site_addr;
    let backend = backend().await?;
    let routes = generate_route_list(App);
    // The SSR bench's baselines: the home page's lists from a plain `Vec`,
    // written out, and through `<For>` and row components as `/` is.
    let plain = {
        let (options, lists) = (options.clone(), app::seeded_lists(100));
        leptos_axum::render_app_async(move || app::plain_shell(options.clone(), lists.clone()))
    };
    let plain_for = {
        let (options, lists) = (options.clone(), app::seeded_lists(100));
        leptos_axum::render_app_async(move || app::for_shell(options.clone(), lists.clone()))
    };
    let app = Router::new()
        .merge(peloton::axum::channel_route(backend.clone()))
        .merge(peloton::axum::service_worker_route())
        .route("/bench/plain", axum::routing::get(plain))
        .route("/bench/for", axum::routing::get(plain_for))
        .leptos_routes_with_context(&options, routes, provide_request_model, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            provide_request_model,
            shell,
        ))
        // Each request gets a fetch-only model; its bundle goes into the page.
        .layer(ModelLayer::new(backend.clone()))
        // Routes from here on are outside the model layer.
        .route("/metrics", axum::routing::get(metrics))
        // A `debug` span per HTTP request (`RUST_LOG=tower_http=debug`).
        .layer(TraceLayer::new_for_http())
        .with_state(options);

    // Realtime traffic: many small frames, each sent at once (no Nagle),
    // and keepalive probes for clients gone without a word.
    let listener = tokio::net::TcpListener::bind(addr).await?.tap_io(|stream| {
        if let Err(e) = peloton::axum::tune_stream(stream) {
            tracing::warn!("cannot set TCP_NODELAY and keepalive: {e}");
        }
    });
    tracing::info!("listening on http://{}", listener.local_addr()?);
    // The client's address reaches each connection's span.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    backend.close().await;
    tracing::info!("shut down");
    Ok(())
}

/// Installs the Prometheus recorder (so peloton's metrics and the process's
/// are kept) and returns what `GET /metrics` answers with: the text
/// exposition format, read fresh on every scrape.
fn prometheus()
-> Result<impl Fn() -> std::future::Ready<String> + Clone, Box<dyn std::error::Error>> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    // Latencies from 100 µs to 10 s; queue depths from 1 to 10,000.
    let seconds = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        5.0, 10.0,
    ];
    let depths = [
        1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 10000.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)?
        .set_buckets_for_metric(Matcher::Suffix("_depth".into()), &depths)?
        .install_recorder()?;
    peloton::backend::telemetry::describe();
    let process = metrics_process::Collector::default();
    process.describe();
    // Histograms are kept in buckets that need draining now and then.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(move || {
        process.collect();
        std::future::ready(handle.render())
    })
}

/// The backend: in memory, unless `PELOTON_MONGO_URL` (MongoDB, in
/// sharedb-mongo's layout, with milestone snapshots in
/// sharedb-milestone-mongo's) or `PELOTON_REDIS_URL` (pub/sub shared with
/// other servers) say otherwise.
async fn backend() -> Result<Backend, Box<dyn std::error::Error>> {
    let mut builder = Backend::builder();
    if let Ok(url) = std::env::var("PELOTON_MONGO_URL") {
        let db = MongoDb::connect(&url).await?;
        // Milestone snapshots beside the documents, as sharedb-milestone-mongo keeps them.
        builder = builder.milestones(db.milestones()).db(db);
        tracing::info!("storing documents in MongoDB at {}", redact_password(&url));
    }
    if let Ok(url) = std::env::var("PELOTON_REDIS_URL") {
        builder = builder.pubsub(RedisPubSub::connect(&url).await?);
        tracing::info!("sharing ops through Redis at {}", redact_password(&url));
    }
    Ok(builder.build())
}

/// Leptos's options, from the environment with the demo's defaults.
///
/// cargo-leptos sets `LEPTOS_OUTPUT_NAME` and the other `LEPTOS_*` variables
/// from the workspace's `[[workspace.metadata.leptos]]`: then they all apply,
/// the reload port of `cargo leptos watch` among them.
fn leptos_options() -> Result<LeptosOptions, Box<dyn std::error::Error>> {
    if std::env::var_os("LEPTOS_OUTPUT_NAME").is_some() {
        return Ok(get_configuration(None)?.leptos_options);
    }
    let addr: SocketAddr = std::env::var("LEPTOS_SITE_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()
        .map_err(|e| format!("LEPTOS_SITE_ADDR is not a socket address: {e}"))?;
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    Ok(LeptosOptions::builder()
        .output_name("app")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build())
}

/// Resolves on Ctrl-C or SIGTERM, so in-flight requests finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
