//! One live query, many subscribers: `--clients` connections subscribed to
//! the same sorted query over `--docs` documents, while a writer changes
//! the field it sorts by, 50 ops a second (`--rate`). Every op changes the results'
//! order, so every subscriber gets a query update and the op.
//!
//! ```text
//! loadgen --url … --scenario query --clients 1000 --docs 1000 --pid SERVER_PID
//! ```
//!
//! Reports the latency from submit to each subscriber's receipt of the op
//! (sent after the query update) and, with `--pid`, the server's CPU time
//! per op.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use serde_json::json;

use crate::args::Args;
use crate::conn::{Conn, ConnError};
use crate::hostile::{Report, micros, opened, read_fanout};
use crate::stats::Samples;

fn doc_id(doc: usize) -> String {
    format!("q{doc}")
}

/// The query every subscriber runs: all documents, highest `n` first.
fn query() -> serde_json::Value {
    json!({"n": {"$gte": 0}, "$sort": {"n": -1}})
}

/// The CPU time (user + system) a process has used, from /proc, in
/// milliseconds.
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start after ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel counts in clock ticks, 100 a second on Linux.
    Some(ticks * 10.0)
}

/// CPU microseconds per message delivered, from CPU milliseconds per op.
pub fn per_message(cpu_ms_per_op: Option<f64>, ops: u64, messages: usize) -> Option<f64> {
    cpu_ms_per_op
        .filter(|_| messages > 0)
        .map(|per_op| per_op * ops as f64 * 1000.0 / messages as f64)
}

/// CPU milliseconds per op between two readings.
pub fn per_op(before: Option<f64>, after: Option<f64>, ops: u64) -> Option<f64> {
    match (before, after) {
        (Some(before), Some(after)) if ops > 0 => Some((after - before) / ops as f64),
        _ => None,
    }
}

pub async fn run(args: &Args) -> Result<Report, ConnError> {
    crate::load::create_docs(args, doc_id).await?;
    let c = &args.collection;
    let conns = opened(
        args,
        args.clients,
        |_| json!({"a": "qs", "id": 1, "c": c, "q": query()}),
    )
    .await?;
    let cpu_before = args.pid.and_then(cpu_ms);
    let base = Instant::now();
    let end = base + args.seconds;
    let samples = Rc::new(RefCell::new(Samples::default()));
    let local = tokio::task::LocalSet::new();
    for conn in conns {
        local.spawn_local(read_fanout(conn, base, end, samples.clone()));
    }
    let written = local.run_until(write(args, base, end)).await?;
    local.await;
    let cpu_per_op = per_op(cpu_before, args.pid.and_then(cpu_ms), written);
    let mut samples = samples.take();
    Ok(Report {
        json: args.json,
        figures: json!({
            "scenario": "query", "clients": args.clients, "docs": args.docs, "ops": written,
            "samples": samples.len(), "expected_samples": written as usize * args.clients,
            "update_p50_ms": samples.percentile_ms(50.0), "update_p99_ms": samples.percentile_ms(99.0),
            "server_cpu_ms_per_op": cpu_per_op,
            "server_cpu_us_per_message": per_message(cpu_per_op, written, samples.len()),
        }),
    })
}

/// Raises `n` of a document (round robin) at `--rate` until `end`, with
/// the send time, so the document moves in every subscriber's results.
async fn write(args: &Args, base: Instant, end: Instant) -> Result<u64, ConnError> {
    let mut writer = Conn::open(&args.url).await?;
    let mut tick = tokio::time::interval(args.interval(50));
    let mut seq = 0u64;
    while Instant::now() < end {
        tokio::select! {
            _ = tick.tick() => {
                seq += 1;
                let op = json!({
                    "a": "op", "c": args.collection, "d": doc_id(seq as usize % args.docs),
                    "seq": seq,
                    "op": [{"p": ["n"], "na": 1000 + seq}, {"p": ["at"], "oi": micros(base)}],
                });
                writer.send(op.to_string()).await?;
            }
            text = writer.next_text() => { text?; }
        }
    }
    Ok(seq)
}
