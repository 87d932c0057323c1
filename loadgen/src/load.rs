//! The closed-loop load: every client submits its next op when the
//! previous one is acknowledged.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::args::Args;
use crate::conn::{Conn, ConnError, Incoming};
use crate::stats::Samples;

/// Each op: one increment and a one-character insert, so the final
/// document counts the ops applied twice over.
const OP: &str = r#"[{"p":["n"],"na":1},{"p":["t",0],"si":"x"}]"#;

/// What all clients share (one thread: no locks).
struct Shared {
    warmup_end: Instant,
    end: Instant,
    /// When each client sent each of its ops (index: seq - 1).
    sent: Vec<Vec<Instant>>,
    /// Client index by connection id.
    index: HashMap<String, usize>,
}

/// What one client saw.
#[derive(Default)]
struct ClientResult {
    doc: usize,
    acked_total: u64,
    acked_in_window: u64,
    ack_latency: Samples,
    fanout_latency: Samples,
    /// The version the client subscribed at.
    start_version: u64,
    /// The version the client has its document at: ops (its acks and
    /// others' ops) are applied in order, each at the version it has.
    version: u64,
    /// Ops applied in order, its own included.
    applied: u64,
    /// Ops that came past the next version: ops never received. A run
    /// with any fails.
    gaps: u64,
    /// Ops that came again, at a version applied already. ShareDB clients
    /// ignore them; they are reported.
    duplicates: u64,
}

/// The run's figures.
pub struct Report {
    pub clients: usize,
    pub docs: usize,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub ack_p50: f64,
    pub ack_p99: f64,
    pub fanout_p50: f64,
    pub fanout_p99: f64,
    pub samples: usize,
    /// Ops delivered twice to a subscriber (clients ignore them).
    pub duplicates: u64,
    /// The server's CPU time per committed op in the measured window, in
    /// microseconds: from its `--metrics` endpoint, else from `/proc` (`--pid`).
    pub server_cpu_us_per_op: Option<f64>,
    /// Where the CPU figure came from: `"metrics"` or `"proc"`.
    pub server_cpu_source: Option<&'static str>,
    /// Ops the server says it committed in the window (`--metrics`).
    pub server_committed: Option<f64>,
    /// Messages waiting for a connection at each write, on average, in the
    /// window (`--metrics`).
    pub server_queue_depth_mean: Option<f64>,
    pub verified: Result<(), String>,
    pub json: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.json {
            let value = json!({
                "clients": self.clients, "docs": self.docs, "seconds": self.seconds,
                "ops_per_sec": self.ops_per_sec,
                "ack_p50_ms": self.ack_p50, "ack_p99_ms": self.ack_p99,
                "fanout_p50_ms": self.fanout_p50, "fanout_p99_ms": self.fanout_p99,
                "fanout_samples": self.samples, "duplicates": self.duplicates,
                "server_cpu_us_per_op": self.server_cpu_us_per_op,
                "server_cpu_source": self.server_cpu_source,
                "server_committed": self.server_committed,
                "server_queue_depth_mean": self.server_queue_depth_mean,
                "verified": self.verified.is_ok(),
                "verification_error": self.verified.as_ref().err(),
            });
            return write!(f, "{value}");
        }
        writeln!(
            f,
            "{} clients × {} docs, {:.0} s",
            self.clients, self.docs, self.seconds
        )?;
        writeln!(f, "committed ops/s   {:>10.0}", self.ops_per_sec)?;
        writeln!(
            f,
            "ack latency       p50 {:>7.2} ms   p99 {:>7.2} ms",
            self.ack_p50, self.ack_p99
        )?;
        writeln!(
            f,
            "fan-out latency   p50 {:>7.2} ms   p99 {:>7.2} ms  ({} samples)",
            self.fanout_p50, self.fanout_p99, self.samples
        )?;
        writeln!(f, "ops seen twice    {}", self.duplicates)?;
        if let Some(cpu) = self.server_cpu_us_per_op {
            let source = self.server_cpu_source.unwrap_or("proc");
            writeln!(f, "server CPU per op {cpu:>10.1} µs  (from {source})")?;
        }
        if let Some(depth) = self.server_queue_depth_mean {
            writeln!(
                f,
                "outbound queue    {depth:>10.1} messages per write (mean)"
            )?;
        }
        match &self.verified {
            Ok(()) => write!(
                f,
                "verified: every acknowledged op applied exactly once, and every subscriber \
                 received every op, in order, and ended at the document's version"
            ),
            Err(e) => write!(f, "VERIFICATION FAILED: {e}"),
        }
    }
}

fn doc_id(doc: usize) -> String {
    format!("d{doc}")
}

/// Creates the documents the clients will use, `name(0..args.docs)`.
pub async fn create_docs(args: &Args, name: impl Fn(usize) -> String) -> Result<(), ConnError> {
    let mut setup = Conn::open(&args.url).await?;
    for doc in 0..args.docs {
        let create = json!({
            "a": "op", "c": args.collection, "d": name(doc), "v": null,
            "src": setup.id, "seq": doc + 1,
            "create": {"type": "http://sharejs.org/types/JSONv0", "data": {"n": 0, "t": ""}},
        });
        setup.send(create.to_string()).await?;
        let seq = (doc + 1) as u64;
        setup
            .wait("create", |m| {
                m.a.as_deref() == Some("op") && m.seq == Some(seq)
            })
            .await?;
    }
    Ok(())
}

/// Creates `n` documents like the demo's lists in `args.collection`.
pub async fn seed(args: &Args, n: usize) -> Result<String, ConnError> {
    let mut conn = Conn::open(&args.url).await?;
    for i in 0..n {
        let items: Vec<_> = (0..5)
            .map(
                |k| json!({"id": format!("i{k}"), "text": format!("item {k}"), "done": k % 2 == 0}),
            )
            .collect();
        let create = json!({
            "a": "op", "c": args.collection, "d": format!("seed{i}"), "v": null, "src": conn.id, "seq": i + 1,
            "create": {"type": "http://sharejs.org/types/JSONv0",
                       "data": {"title": format!("List {i}"), "createdAt": i, "items": items}},
        });
        conn.send(create.to_string()).await?;
    }
    conn.wait("the last create", |m| {
        m.a.as_deref() == Some("op") && m.seq == Some(n as u64)
    })
    .await?;
    Ok(format!("created {n} documents in {}", args.collection))
}

pub async fn run(args: &Args) -> Result<Report, ConnError> {
    create_docs(args, doc_id).await?;
    // Everyone connects and subscribes before the clock starts.
    let mut conns = Vec::with_capacity(args.clients);
    let mut index = HashMap::new();
    for client in 0..args.clients {
        let mut conn = Conn::open(&args.url).await?;
        let doc = client % args.docs;
        let subscribe = json!({"a": "s", "c": args.collection, "d": doc_id(doc)});
        conn.send(subscribe.to_string()).await?;
        let reply = conn
            .wait("subscribe", |m| m.a.as_deref() == Some("s"))
            .await?;
        let version = reply["data"]["v"].as_u64().unwrap_or(0);
        index.insert(conn.id.clone(), client);
        conns.push((conn, doc, version));
    }
    let start = Instant::now();
    let shared = Rc::new(RefCell::new(Shared {
        warmup_end: start + args.warmup,
        end: start + args.warmup + args.seconds,
        sent: vec![Vec::new(); args.clients],
        index,
    }));
    let local = tokio::task::LocalSet::new();
    let mut handles = Vec::new();
    for (client, (conn, doc, version)) in conns.into_iter().enumerate() {
        let (shared, collection, doc_name) = (shared.clone(), args.collection.clone(), doc_id(doc));
        handles.push(local.spawn_local(client_loop(
            client, conn, doc, doc_name, collection, version, shared,
        )));
    }
    // The server's figures over the measured window only: from its
    // metrics endpoint if it has one, its CPU time from /proc if not.
    let readings = Rc::new(RefCell::new(Readings::default()));
    {
        let (readings, warmup_end, end) = (
            readings.clone(),
            start + args.warmup,
            start + args.warmup + args.seconds,
        );
        let (pid, metrics) = (args.pid, args.metrics.clone());
        local.spawn_local(async move {
            tokio::time::sleep_until(warmup_end.into()).await;
            let before = Reading::take(pid, metrics.as_deref()).await;
            readings.borrow_mut().before = before;
            tokio::time::sleep_until(end.into()).await;
            let after = Reading::take(pid, metrics.as_deref()).await;
            readings.borrow_mut().after = after;
        });
    }
    let results = local
        .run_until(async move {
            let mut results = Vec::new();
            for handle in handles {
                results.push(
                    handle
                        .await
                        .map_err(|e| ConnError::Socket(e.to_string()))??,
                );
            }
            Ok::<_, ConnError>(results)
        })
        .await?;

    let mut ack = Samples::default();
    let mut fanout = Samples::default();
    let window_ops: u64 = results.iter().map(|r| r.acked_in_window).sum();
    let duplicates: u64 = results.iter().map(|r| r.duplicates).sum();
    let verified = verify(args, &results).await;
    for r in results {
        ack.extend(r.ack_latency);
        fanout.extend(r.fanout_latency);
    }
    let seconds = args.seconds.as_secs_f64();
    let readings = readings.borrow().clone();
    let window = match (&readings.before.scrape, &readings.after.scrape) {
        (Some(before), Some(after)) => Some(crate::metrics::Window::between(before, after)),
        _ => None,
    };
    let (cpu_ms, server_cpu_source) = match window.and_then(|w| w.cpu_ms) {
        Some(ms) => (Some(ms), Some("metrics")),
        None => match (readings.before.cpu_ms, readings.after.cpu_ms) {
            (Some(before), Some(after)) => (Some(after - before), Some("proc")),
            _ => (None, None),
        },
    };
    let server_cpu_us_per_op = cpu_ms
        .filter(|_| window_ops > 0)
        .map(|ms| ms * 1000.0 / window_ops as f64);
    Ok(Report {
        clients: args.clients,
        docs: args.docs,
        seconds,
        ops_per_sec: window_ops as f64 / seconds,
        ack_p50: ack.percentile_ms(50.0),
        ack_p99: ack.percentile_ms(99.0),
        fanout_p50: fanout.percentile_ms(50.0),
        fanout_p99: fanout.percentile_ms(99.0),
        samples: fanout.len(),
        duplicates,
        server_cpu_us_per_op,
        server_cpu_source,
        server_committed: window.and_then(|w| w.committed),
        server_queue_depth_mean: window.and_then(|w| w.queue_depth_mean),
        verified,
        json: args.json,
    })
}

/// One client: submit, wait for the ack, submit again, until the end;
/// then drain what others still send.
async fn client_loop(
    client: usize,
    mut conn: Conn,
    doc: usize,
    doc_name: String,
    collection: String,
    version: u64,
    shared: Rc<RefCell<Shared>>,
) -> Result<ClientResult, ConnError> {
    let mut result = ClientResult {
        doc,
        start_version: version,
        version,
        ..Default::default()
    };
    let (warmup_end, end) = {
        let s = shared.borrow();
        (s.warmup_end, s.end)
    };
    let prefix = format!(
        r#"{{"a":"op","c":"{collection}","d":"{doc_name}","src":"{}","#,
        conn.id
    );
    let submit =
        |seq: u64, version: u64| format!(r#"{prefix}"seq":{seq},"v":{version},"op":{OP}}}"#);
    let mut seq: u64 = 1;
    conn.send(submit(seq, result.version)).await?;
    let now = Instant::now();
    shared.borrow_mut().sent[client].push(now);
    let mut inflight = Some(now);
    // After the end: the last ack, then others' ops until the server has
    // been quiet for five seconds (a slow server can take seconds to deliver).
    let quiet = Duration::from_secs(5);
    let give_up = end + Duration::from_secs(60);
    loop {
        let now = Instant::now();
        let deadline = if now < end || inflight.is_some() {
            give_up
        } else {
            (now + quiet).min(give_up)
        };
        let text = match tokio::time::timeout_at(deadline.into(), conn.next_text()).await {
            Ok(text) => text?,
            Err(_) if inflight.is_none() => break,
            Err(_) => return Err(ConnError::Timeout("an ack")),
        };
        let Ok(message) = serde_json::from_str::<Incoming>(&text) else {
            continue;
        };
        if message.a.as_deref() != Some("op") {
            continue;
        }
        if let Some(error) = &message.error {
            return Err(ConnError::Server("op", error.to_string()));
        }
        let now = Instant::now();
        let v = message.v.unwrap_or(0);
        if v < result.version {
            result.duplicates += 1;
            continue;
        }
        if v > result.version {
            result.gaps += v - result.version;
        }
        result.version = v + 1;
        result.applied += 1;
        let mine = message.src.as_deref() == Some(conn.id.as_str());
        if !message.has_body() && mine && message.seq == Some(seq) {
            // Our ack: the op is committed at v.
            let Some(sent) = inflight.take() else {
                continue;
            };
            result.acked_total += 1;
            if sent >= warmup_end && now <= end {
                result.acked_in_window += 1;
                result.ack_latency.push(now - sent);
            }
            if now < end {
                seq += 1;
                conn.send(submit(seq, result.version)).await?;
                let sent = Instant::now();
                shared.borrow_mut().sent[client].push(sent);
                inflight = Some(sent);
            }
        } else if message.has_body() {
            // Someone else's op, at v.
            let shared = shared.borrow();
            if let (Some(src), Some(op_seq)) = (message.src.as_deref(), message.seq)
                && let Some(&author) = shared.index.get(src)
                && let Some(&sent) = shared.sent[author].get(op_seq as usize - 1)
                && sent >= shared.warmup_end
                && sent <= shared.end
            {
                result.fanout_latency.push(now - sent);
            }
        }
    }
    Ok(result)
}

/// After the run: each document holds exactly its acknowledged ops, and
/// every subscriber of it received every op since it subscribed, once, in
/// order, up to the final version.
async fn verify(args: &Args, results: &[ClientResult]) -> Result<(), String> {
    let mut conn = Conn::open(&args.url).await.map_err(|e| e.to_string())?;
    for doc in 0..args.docs {
        let acked: u64 = results
            .iter()
            .filter(|r| r.doc == doc)
            .map(|r| r.acked_total)
            .sum();
        let fetch = json!({"a": "f", "c": args.collection, "d": doc_id(doc)});
        conn.send(fetch.to_string())
            .await
            .map_err(|e| e.to_string())?;
        let reply = conn
            .wait("fetch", |m| m.a.as_deref() == Some("f"))
            .await
            .map_err(|e| e.to_string())?;
        let data = &reply["data"];
        let (v, n, text) = (
            data["v"].as_u64().unwrap_or(0),
            data["data"]["n"].as_u64().unwrap_or(0),
            data["data"]["t"].as_str().map_or(0, str::len) as u64,
        );
        if n != acked || text != acked || v != acked + 1 {
            return Err(format!(
                "doc {doc}: {acked} ops acknowledged, but the document counts {n} increments, {text} inserts, version {v}"
            ));
        }
        for (client, r) in results.iter().enumerate().filter(|(_, r)| r.doc == doc) {
            if r.gaps > 0 || r.version != v || r.applied != v - r.start_version {
                return Err(format!(
                    "client {client} of doc {doc} (at version {v}) applied {} ops from version {} \
                     to {}, missing {}",
                    r.applied, r.start_version, r.version, r.gaps
                ));
            }
        }
    }
    Ok(())
}

/// The server's figures at the start and at the end of the measured window.
#[derive(Debug, Default, Clone)]
struct Readings {
    before: Reading,
    after: Reading,
}

/// One reading of the server: its metrics, and its CPU time from /proc.
#[derive(Debug, Default, Clone)]
struct Reading {
    scrape: Option<crate::metrics::Scrape>,
    cpu_ms: Option<f64>,
}

impl Reading {
    async fn take(pid: Option<u32>, metrics: Option<&str>) -> Self {
        let scrape = match metrics {
            Some(url) => crate::metrics::scrape(url).await,
            None => None,
        };
        Self {
            scrape,
            cpu_ms: pid.and_then(crate::queries::cpu_ms),
        }
    }
}
