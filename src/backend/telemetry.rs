//! What the backend tells an operator: metrics through the [`metrics`]
//! facade, so any exporter the app installs (Prometheus, StatsD, …) sees
//! them. With no recorder installed each one costs an atomic load.
//!
//! | Name | Kind | Labels | What |
//! |---|---|---|---|
//! | `peloton_connections` | gauge | `kind` | live connections: `websocket` or `in_process` (server renders) |
//! | `peloton_subscriptions` | gauge | | documents subscribed to, over all connections |
//! | `peloton_live_queries` | gauge | | live queries, over all connections |
//! | `peloton_ops_committed_total` | counter | | ops committed |
//! | `peloton_ops_rejected_total` | counter | `code` | submits refused, by ShareDB error code |
//! | `peloton_submit_seconds` | histogram | | a submit, from receipt to commit or refusal |
//! | `peloton_fanout_seconds` | histogram | | a message, from this server's pub/sub to the connection that sends it on |
//! | `peloton_outbound_queue_depth` | histogram | | messages waiting for a connection, at each of its writes |
//! | `peloton_db_seconds` | histogram | `call` | a database call (`commit`, `get_snapshot`, `query`, …) |
//! | `peloton_db_errors_total` | counter | `call` | database calls that failed or timed out |
//! | `peloton_pubsub_seconds` | histogram | `call` | a pub/sub call (`publish`, `subscribe`) |
//! | `peloton_pubsub_errors_total` | counter | `call` | pub/sub calls that failed or timed out |
//! | `peloton_ssr_render_seconds` | histogram | | a server-rendered page, from request to last byte ([`ModelLayer`](crate::axum::ModelLayer)) |
//!
//! Labels take a few fixed values (kinds, calls, error codes): never a collection,
//! document or client id, which a client chooses.
//!
//! This module owns the names and the recording; the places that count are
//! the agent, the submit pipeline, the timed database and pub/sub, and
//! `peloton::axum`.

use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

use crate::protocol::ErrorObject;

/// Live connections, labelled with their `kind`: `websocket` (browsers and
/// services) or `in_process` (server renders and other models on the
/// server, which last a request).
pub const CONNECTIONS: &str = "peloton_connections";
/// Documents subscribed to, over all connections.
pub const SUBSCRIPTIONS: &str = "peloton_subscriptions";
/// Live queries, over all connections.
pub const LIVE_QUERIES: &str = "peloton_live_queries";
/// Ops committed.
pub const OPS_COMMITTED: &str = "peloton_ops_committed_total";
/// Submits refused, labelled with the error `code`.
pub const OPS_REJECTED: &str = "peloton_ops_rejected_total";
/// Seconds a submit took, from receipt to commit or refusal.
pub const SUBMIT_SECONDS: &str = "peloton_submit_seconds";
/// Seconds from a message reaching this server's pub/sub to its connection
/// taking it for sending.
pub const FANOUT_SECONDS: &str = "peloton_fanout_seconds";
/// Messages waiting for a connection when it writes.
pub const OUTBOUND_QUEUE_DEPTH: &str = "peloton_outbound_queue_depth";
/// Seconds a database call took, labelled with the `call`.
pub const DB_SECONDS: &str = "peloton_db_seconds";
/// Database calls that failed or timed out, labelled with the `call`.
pub const DB_ERRORS: &str = "peloton_db_errors_total";
/// Seconds a pub/sub call took, labelled with the `call`.
pub const PUBSUB_SECONDS: &str = "peloton_pubsub_seconds";
/// Pub/sub calls that failed or timed out, labelled with the `call`.
pub const PUBSUB_ERRORS: &str = "peloton_pubsub_errors_total";
/// Seconds a server-rendered page took, from request to last byte.
pub const SSR_RENDER_SECONDS: &str = "peloton_ssr_render_seconds";

/// Registers each metric's description and unit with the installed
/// recorder, so an exporter can print them (Prometheus's `# HELP`). Call
/// it once, after installing the recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        CONNECTIONS,
        "Live connections, by kind: websocket or in_process (server renders)"
    );
    describe_gauge!(
        SUBSCRIPTIONS,
        "Documents subscribed to, over all connections"
    );
    describe_gauge!(LIVE_QUERIES, "Live queries, over all connections");
    describe_counter!(OPS_COMMITTED, "Ops committed");
    describe_counter!(OPS_REJECTED, "Submits refused, by error code");
    describe_histogram!(
        SUBMIT_SECONDS,
        Unit::Seconds,
        "A submit, from receipt to commit or refusal"
    );
    describe_histogram!(
        FANOUT_SECONDS,
        Unit::Seconds,
        "A message, from this server's pub/sub to the connection sending it"
    );
    describe_histogram!(
        OUTBOUND_QUEUE_DEPTH,
        Unit::Count,
        "Messages waiting for a connection at each of its writes"
    );
    describe_histogram!(DB_SECONDS, Unit::Seconds, "A database call, by call");
    describe_counter!(DB_ERRORS, "Database calls that failed or timed out");
    describe_histogram!(PUBSUB_SECONDS, Unit::Seconds, "A pub/sub call, by call");
    describe_counter!(PUBSUB_ERRORS, "Pub/sub calls that failed or timed out");
    describe_histogram!(
        SSR_RENDER_SECONDS,
        Unit::Seconds,
        "A server-rendered page, from request to last byte"
    );
}

/// The backend's handles on its busiest metrics, taken once when it is
/// built (so from the recorder installed then) instead of looked up by
/// name at every op.
pub(crate) struct Telemetry {
    websocket_connections: Gauge,
    in_process_connections: Gauge,
    pub(crate) subscriptions: Gauge,
    pub(crate) live_queries: Gauge,
    committed: Counter,
    submit_seconds: Histogram,
    fanout_seconds: Histogram,
    pub(crate) queue_depth: Histogram,
}

impl Telemetry {
    pub(crate) fn new() -> Self {
        Self {
            websocket_connections: gauge!(CONNECTIONS, "kind" => "websocket"),
            in_process_connections: gauge!(CONNECTIONS, "kind" => "in_process"),
            subscriptions: gauge!(SUBSCRIPTIONS),
            live_queries: gauge!(LIVE_QUERIES),
            committed: counter!(OPS_COMMITTED),
            submit_seconds: histogram!(SUBMIT_SECONDS),
            fanout_seconds: histogram!(FANOUT_SECONDS),
            queue_depth: histogram!(OUTBOUND_QUEUE_DEPTH),
        }
    }

    /// The live connections of one kind.
    pub(crate) fn connections(&self, in_process: bool) -> &Gauge {
        if in_process {
            &self.in_process_connections
        } else {
            &self.websocket_connections
        }
    }

    /// A submit that ended, started at `started`.
    pub(crate) fn submitted(&self, started: Instant, result: &Result<(), ErrorObject>) {
        self.submit_seconds.record(started.elapsed());
        match result {
            Ok(()) => self.committed.increment(1),
            Err(error) => {
                counter!(OPS_REJECTED, "code" => error.code.as_str().into_owned()).increment(1)
            }
        }
    }

    /// A delivery taken from a mailbox, handed out at `sent`.
    pub(crate) fn delivered(&self, sent: Instant) {
        self.fanout_seconds.record(sent.elapsed());
    }
}

/// A database (`DB_*`) or pub/sub (`PUBSUB_*`) call that ended.
pub(crate) fn called(
    seconds: &'static str,
    errors: &'static str,
    call: &'static str,
    took: Duration,
    ok: bool,
) {
    histogram!(seconds, "call" => call).record(took);
    if !ok {
        counter!(errors, "call" => call).increment(1);
    }
}
