//! The server's own figures, from its Prometheus endpoint (`--metrics`):
//! CPU time, ops committed and the outbound queue, read at the start and
//! end of the measured window. A server without one (ShareDB) is measured
//! from `/proc` instead.

use std::collections::HashMap;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One scrape: sample name (with labels) to value.
#[derive(Debug, Default, Clone)]
pub struct Scrape(HashMap<String, f64>);

impl Scrape {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }
}

/// Reads `url` (`http://host:port/path`); `None` if it does not answer
/// with a Prometheus text exposition.
pub async fn scrape(url: &str) -> Option<Scrape> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
    let request = format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return None;
    }
    let samples = body
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect();
    Some(Scrape(samples))
}

/// What the server reported over a window, from scrapes at its start and
/// end.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// CPU milliseconds the server process used.
    pub cpu_ms: Option<f64>,
    /// Ops it committed.
    pub committed: Option<f64>,
    /// Messages waiting for a connection at each of its writes, on average.
    pub queue_depth_mean: Option<f64>,
}

impl Window {
    pub fn between(before: &Scrape, after: &Scrape) -> Self {
        let delta = |name: &str| Some(after.get(name)? - before.get(name)?);
        let queue_depth_mean = match (
            delta("peloton_outbound_queue_depth_sum"),
            delta("peloton_outbound_queue_depth_count"),
        ) {
            (Some(sum), Some(count)) if count > 0.0 => Some(sum / count),
            _ => None,
        };
        Self {
            cpu_ms: delta("process_cpu_seconds_total").map(|s| s * 1000.0),
            committed: delta("peloton_ops_committed_total"),
            queue_depth_mean,
        }
    }
}
