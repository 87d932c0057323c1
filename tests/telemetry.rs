//! What an operator sees of a session: the backend's metrics, read through
//! a real Prometheus exporter, and its tracing spans, written by a real
//! `tracing-subscriber`.
//!
//! One test in its own binary: the metrics recorder is process-wide.

mod util;

use std::io::Write;
use std::sync::{Arc, Mutex};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use peloton::backend::{Backend, telemetry};
use serde_json::json;
use util::RawSocket;

/// Everything the subscriber wrote.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The value of the sample `name` (with its labels, as Prometheus prints
/// them) in `handle`'s exposition, if it is there.
fn sample(handle: &PrometheusHandle, name: &str) -> Option<f64> {
    handle.render().lines().find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        (key == name).then(|| value.parse().ok()).flatten()
    })
}

#[test]
fn metrics_and_spans_follow_a_session() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder of this process");
    telemetry::describe();
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("peloton=trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // A current-thread runtime: every task logs through this thread's
    // subscriber.
    let _logging = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(session(&handle, &logs));
}

async fn session(handle: &PrometheusHandle, logs: &Logs) {
    let backend = Backend::new();
    let addr = util::serve(backend.clone()).await;
    let mut raw = RawSocket::connect(addr).await;
    let id = raw.handshake(None).await;

    raw.send(json!({"a": "s", "c": "notes", "d": "n1"})).await;
    raw.next(|m| m["a"] == "s").await;
    raw.send(json!({"a": "qs", "id": 1, "c": "notes", "q": {}}))
        .await;
    raw.next(|m| m["a"] == "qs").await;
    raw.send(
        json!({"a": "op", "c": "notes", "d": "n1", "v": 0, "src": id, "seq": 1,
        "create": {"type": "json0", "data": {"text": "hi"}}}),
    )
    .await;
    raw.next(|m| m["a"] == "op" && m["seq"] == 1).await;
    // An edit of a document that does not exist is refused.
    raw.send(
        json!({"a": "op", "c": "notes", "d": "nope", "v": 0, "src": id, "seq": 2,
        "op": [{"p": ["text", 0], "si": "x"}]}),
    )
    .await;
    raw.next(|m| m["a"] == "op" && m["seq"] == 2).await;
    raw.flush(&backend).await;

    let value = |name: &str| sample(handle, name);
    assert_eq!(value(r#"peloton_connections{kind="websocket"}"#), Some(1.0));
    // The note and the flush's sentinel document.
    assert_eq!(value("peloton_subscriptions"), Some(2.0));
    assert_eq!(value("peloton_live_queries"), Some(1.0));
    // The create, and the sentinel's op.
    assert_eq!(value("peloton_ops_committed_total"), Some(2.0));
    assert_eq!(
        value(r#"peloton_ops_rejected_total{code="ERR_DOC_DOES_NOT_EXIST"}"#),
        Some(1.0)
    );
    assert!(value("peloton_submit_seconds_count") >= Some(3.0));
    assert!(value(r#"peloton_db_seconds_count{call="commit"}"#) >= Some(2.0));
    assert!(value(r#"peloton_pubsub_seconds_count{call="publish"}"#) >= Some(2.0));
    assert!(value(r#"peloton_pubsub_seconds_count{call="subscribe"}"#) >= Some(2.0));
    // The create reached the note's subscription and the live query.
    assert!(value("peloton_fanout_seconds_count") >= Some(2.0));
    assert!(value("peloton_outbound_queue_depth_count") >= Some(4.0));
    assert!(handle.render().contains("# HELP peloton_submit_seconds"));

    // A server-side connection (a page's model) is counted apart.
    let in_process = backend.connect();
    util::until("the in-process connection to count", || {
        value(r#"peloton_connections{kind="in_process"}"#) == Some(1.0)
    })
    .await;
    assert_eq!(value(r#"peloton_connections{kind="websocket"}"#), Some(1.0));

    drop(in_process);
    drop(raw);
    util::until("the connections' gauges to drop", || {
        value(r#"peloton_connections{kind="websocket"}"#) == Some(0.0)
            && value(r#"peloton_connections{kind="in_process"}"#) == Some(0.0)
    })
    .await;
    assert_eq!(value("peloton_subscriptions"), Some(0.0));
    assert_eq!(value("peloton_live_queries"), Some(0.0));

    let text = logs.text();
    let line = |needle: &[&str]| {
        text.lines()
            .find(|l| needle.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no log line with {needle:?} in:\n{text}"))
            .to_owned()
    };
    // Every event of a connection names its client and address.
    line(&[
        "connection{",
        &format!("client={id}"),
        "remote=127.0.0.1:",
        "connection opened",
    ]);
    line(&[
        "request{a=\"op\" c=\"notes\" d=\"n1\"}",
        "submit{collection=notes doc=n1 v=0",
        "op committed",
    ]);
    line(&["submit{collection=notes doc=nope", "op refused"]);
    line(&[
        "request{a=\"op\" c=\"notes\" d=\"nope\"}",
        "refused",
        "code=ERR_DOC_DOES_NOT_EXIST",
    ]);
    // Database calls are spans too; at `trace`, each says how long it took.
    line(&["db{call=\"commit\" collection=notes}", "done", "took="]);
    line(&[&format!("client={id}"), "connection closed"]);
}
