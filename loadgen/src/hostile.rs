//! What bad clients cost the good ones: fan-out with some subscribers that
//! stopped reading, the server's memory while their backlog would grow, and
//! latency beside a connection that floods.
//!
//! ```text
//! loadgen --url … --scenario fanout --clients 10000 --docs 100 --stalled 1
//! loadgen --url … --scenario backlog --clients 100 --pid SERVER_PID
//! loadgen --url … --scenario flood --clients 50 --flooders 1
//! ```

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};

use crate::args::Args;
use crate::conn::{Conn, ConnError, Incoming};
use crate::idle::rss_kib;
use crate::stats::Samples;

/// What a scenario measured.
pub struct Report {
    pub json: bool,
    pub figures: Value,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.json {
            return write!(f, "{}", self.figures);
        }
        write!(f, "{:#}", self.figures)
    }
}

fn doc_id(doc: usize) -> String {
    format!("h{doc}")
}

/// Opens `n` connections, each subscribed to `doc(i)`, many at a time.
async fn subscribed(
    args: &Args,
    n: usize,
    doc: impl Fn(usize) -> String,
) -> Result<Vec<Conn>, ConnError> {
    let c = &args.collection;
    opened(args, n, |i| json!({"a": "s", "c": c, "d": doc(i)})).await
}

/// Opens `n` connections, many at a time, each sending `request(i)` and
/// waiting for its answer (a reply with the same action).
pub async fn opened(
    args: &Args,
    n: usize,
    request: impl Fn(usize) -> Value,
) -> Result<Vec<Conn>, ConnError> {
    let mut conns = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(200) {
        let opening: FuturesUnordered<_> = batch
            .iter()
            .map(|&i| {
                let (url, request) = (args.url.clone(), request(i));
                async move {
                    let action = request["a"].as_str().unwrap_or_default().to_owned();
                    let mut conn = Conn::open(&url).await?;
                    conn.send(request.to_string()).await?;
                    conn.wait("the answer to a subscribe", |m| {
                        m.a.as_deref() == Some(action.as_str())
                    })
                    .await?;
                    Ok::<_, ConnError>(conn)
                }
            })
            .collect();
        for conn in opening.collect::<Vec<_>>().await {
            conns.push(conn?);
        }
    }
    Ok(conns)
}

/// Microseconds since `base`, as ops carry their send time.
pub fn micros(base: Instant) -> u64 {
    base.elapsed().as_micros() as u64
}

/// The send time an op message carries (`{"p": ["at"], "oi": µs}`), if it
/// is one of ours.
fn sent_at(text: &str) -> Option<u64> {
    let message: Value = serde_json::from_str(text).ok()?;
    message
        .get("op")?
        .as_array()?
        .iter()
        .find_map(|c| (c.get("p")? == &json!(["at"])).then(|| c.get("oi")?.as_u64())?)
}

/// Reads `conn` until `end`, recording each op's fan-out latency.
pub async fn read_fanout(
    mut conn: Conn,
    base: Instant,
    end: Instant,
    samples: Rc<RefCell<Samples>>,
) {
    while Instant::now() < end {
        let Ok(Ok(text)) = tokio::time::timeout(Duration::from_millis(200), conn.next_text()).await
        else {
            continue;
        };
        if let Some(at) = sent_at(&text) {
            let now = micros(base);
            samples
                .borrow_mut()
                .push(Duration::from_micros(now.saturating_sub(at)));
        }
    }
}

/// Submits an op with the time and `pad` bytes to `doc` every `every`,
/// until `end`, reading (and dropping) what comes back meanwhile.
async fn write_steadily(
    args: &Args,
    docs: usize,
    every: Duration,
    pad: usize,
    base: Instant,
    end: Instant,
) -> Result<u64, ConnError> {
    let mut writer = Conn::open(&args.url).await?;
    let padding = "x".repeat(pad);
    let mut tick = tokio::time::interval(every);
    let mut seq = 0u64;
    while Instant::now() < end {
        tokio::select! {
            _ = tick.tick() => {
                seq += 1;
                let op = json!({
                    "a": "op", "c": args.collection, "d": doc_id(seq as usize % docs), "seq": seq,
                    "op": [{"p": ["at"], "oi": micros(base)}, {"p": ["pad"], "oi": padding}],
                });
                writer.send(op.to_string()).await?;
            }
            text = writer.next_text() => { text?; }
        }
    }
    Ok(seq)
}

/// Fan-out to `--clients` subscribers over `--docs` documents while a
/// writer submits 200 ops/s (`--rate`); `--stalled` percent of the subscribers never
/// read. Reports the fan-out latency the others see.
pub async fn fanout(args: &Args) -> Result<Report, ConnError> {
    crate::load::create_docs(args, doc_id).await?;
    let docs = args.docs;
    let conns = subscribed(args, args.clients, |i| doc_id(i % docs)).await?;
    let stalled_n = args.clients * args.stalled_percent / 100;
    let (stalled, readers): (Vec<_>, Vec<_>) = conns
        .into_iter()
        .enumerate()
        .partition(|(i, _)| *i < stalled_n);
    let rss_before = args.pid.and_then(rss_kib);
    let cpu_before = args.pid.and_then(crate::queries::cpu_ms);
    let base = Instant::now();
    let end = base + args.seconds;
    let samples = Rc::new(RefCell::new(Samples::default()));
    let local = tokio::task::LocalSet::new();
    for (_, conn) in readers {
        local.spawn_local(read_fanout(conn, base, end, samples.clone()));
    }
    let written = local
        .run_until(write_steadily(
            args,
            docs,
            args.interval(200),
            200,
            base,
            end,
        ))
        .await?;
    local.await;
    let rss_after = args.pid.and_then(rss_kib);
    let cpu_per_op = crate::queries::per_op(
        cpu_before,
        args.pid.and_then(crate::queries::cpu_ms),
        written,
    );
    drop(stalled);
    let mut samples = samples.take();
    Ok(Report {
        json: args.json,
        figures: json!({
            "scenario": "fanout", "clients": args.clients, "docs": docs,
            "stalled": stalled_n, "ops": written, "fanout_samples": samples.len(),
            "fanout_p50_ms": samples.percentile_ms(50.0), "fanout_p99_ms": samples.percentile_ms(99.0),
            "rss_before_kib": rss_before, "rss_after_kib": rss_after,
            "fanout_max_ms": samples.percentile_ms(100.0), "server_cpu_ms_per_op": cpu_per_op,
            "server_cpu_us_per_message": crate::queries::per_message(cpu_per_op, written, samples.len()),
        }),
    })
}

/// `--clients` subscribers of one document stop reading while a writer
/// submits large ops (16 KiB, 100/s) to it: without a bound the server
/// would keep every one for every stalled client. Reports the server's
/// memory before and at its highest, what the backlog would have been,
/// and how many stalled connections the server closed.
pub async fn backlog(args: &Args) -> Result<Report, ConnError> {
    crate::load::create_docs(
        &Args {
            docs: 1,
            ..args.clone()
        },
        doc_id,
    )
    .await?;
    let mut stalled = subscribed(args, args.clients, |_| doc_id(0)).await?;
    // One healthy subscriber, to see that fan-out goes on.
    let healthy = subscribed(args, 1, |_| doc_id(0)).await?.remove(0);
    let rss_before = args.pid.and_then(rss_kib);
    let base = Instant::now();
    let end = base + args.seconds;
    let samples = Rc::new(RefCell::new(Samples::default()));
    let peak = Rc::new(RefCell::new(rss_before));
    let local = tokio::task::LocalSet::new();
    local.spawn_local(read_fanout(healthy, base, end, samples.clone()));
    if let Some(pid) = args.pid {
        let peak = peak.clone();
        local.spawn_local(async move {
            while Instant::now() < end {
                let now = rss_kib(pid);
                peak.replace_with(|peak| (*peak).max(now));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
    }
    let pad = 16 << 10;
    let written = local
        .run_until(write_steadily(
            args,
            1,
            Duration::from_millis(10),
            pad,
            base,
            end,
        ))
        .await?;
    local.await;
    // The server gives a client that does not read its write timeout (10 s
    // by default), then closes it: wait that long, then read what each
    // stalled connection got, to its end if the server closed it.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let rss_end = args.pid.and_then(rss_kib);
    let draining: FuturesUnordered<_> = stalled
        .iter_mut()
        .map(|conn| async move {
            let drained = async { while conn.next_text().await.is_ok() {} };
            tokio::time::timeout(Duration::from_secs(20), drained)
                .await
                .is_ok()
        })
        .collect();
    let closed = draining
        .filter(|closed| std::future::ready(*closed))
        .count()
        .await;
    let mut samples = samples.take();
    let backlog_kib = written * pad as u64 * args.clients as u64 / 1024;
    let peak = *peak.borrow();
    Ok(Report {
        json: args.json,
        figures: json!({
            "scenario": "backlog", "stalled": args.clients, "ops": written, "op_kib": pad / 1024,
            "unbounded_backlog_kib": backlog_kib, "rss_before_kib": rss_before, "rss_peak_kib": peak,
            "rss_end_kib": rss_end,
            "stalled_closed_by_server": closed,
            "healthy_fanout_p99_ms": samples.percentile_ms(99.0),
        }),
    })
}

/// `--clients` well-behaved clients in a closed loop (one op, wait for its
/// ack) while `--flooders` connections send ops as fast as they can.
/// Reports the well-behaved clients' ack latency.
pub async fn flood(args: &Args) -> Result<Report, ConnError> {
    crate::load::create_docs(args, doc_id).await?;
    let docs = args.docs;
    let base = Instant::now();
    let end = base + args.seconds;
    let samples = Rc::new(RefCell::new(Samples::default()));
    let refused = Rc::new(RefCell::new(0u64));
    let local = tokio::task::LocalSet::new();
    for i in 0..args.flooders {
        let (url, c, refused) = (args.url.clone(), args.collection.clone(), refused.clone());
        local.spawn_local(async move {
            let Ok(mut conn) = Conn::open(&url).await else {
                return;
            };
            let mut seq = 0u64;
            while Instant::now() < end {
                // A burst, then whatever came back.
                for _ in 0..100 {
                    seq += 1;
                    let op = json!({"a": "op", "c": c, "d": doc_id(i % docs), "seq": seq,
                        "op": [{"p": ["n"], "na": 1}]});
                    if conn.send(op.to_string()).await.is_err() {
                        return;
                    }
                }
                while let Ok(Ok(text)) =
                    tokio::time::timeout(Duration::from_millis(1), conn.next_text()).await
                {
                    if text.contains("ERR_RATE_LIMITED") {
                        *refused.borrow_mut() += 1;
                    }
                }
            }
        });
    }
    let mut clients = Vec::new();
    for i in 0..args.clients {
        let (url, c, samples) = (args.url.clone(), args.collection.clone(), samples.clone());
        clients.push(local.spawn_local(async move {
            let mut conn = Conn::open(&url).await?;
            let mut seq = 0u64;
            while Instant::now() < end {
                seq += 1;
                let started = Instant::now();
                let op = json!({"a": "op", "c": c, "d": doc_id(i % docs), "seq": seq,
                    "op": [{"p": ["n"], "na": 1}]});
                conn.send(op.to_string()).await?;
                conn.wait("ack", |m: &Incoming| {
                    m.a.as_deref() == Some("op") && m.seq == Some(seq) && !m.has_body()
                })
                .await?;
                samples.borrow_mut().push(started.elapsed());
            }
            Ok::<_, ConnError>(())
        }));
    }
    // A client that fails (an ack later than 5 s) is counted, not fatal.
    let failed = local
        .run_until(async {
            let mut failed = 0;
            for client in clients {
                if !matches!(client.await, Ok(Ok(()))) {
                    failed += 1;
                }
            }
            failed
        })
        .await;
    local.await;
    let mut samples = samples.take();
    let acked = samples.len();
    let refused = *refused.borrow();
    Ok(Report {
        json: args.json,
        figures: json!({
            "scenario": "flood", "clients": args.clients, "flooders": args.flooders,
            "acked": acked, "ops_per_sec": acked as f64 / args.seconds.as_secs_f64(),
            "ack_p50_ms": samples.percentile_ms(50.0), "ack_p99_ms": samples.percentile_ms(99.0),
            "flood_refused": refused, "clients_failed": failed,
        }),
    })
}
