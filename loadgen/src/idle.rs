//! Idle clients: what a connected, subscribed client costs the server.

use std::fmt;
use std::time::Duration;

use serde_json::json;

use crate::args::Args;
use crate::conn::{Conn, ConnError};

pub struct Report {
    pub clients: usize,
    pub before_kib: Option<u64>,
    pub after_kib: Option<u64>,
    pub json: bool,
}

impl Report {
    fn per_client(&self) -> Option<f64> {
        Some((self.after_kib? as f64 - self.before_kib? as f64) / self.clients as f64)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.json {
            let value = json!({
                "idle_clients": self.clients, "rss_before_kib": self.before_kib,
                "rss_after_kib": self.after_kib, "kib_per_client": self.per_client(),
            });
            return write!(f, "{value}");
        }
        match self.per_client() {
            Some(per) => write!(
                f,
                "{} idle subscribed clients: server RSS {} → {} KiB, {per:.1} KiB per client",
                self.clients,
                self.before_kib.unwrap_or(0),
                self.after_kib.unwrap_or(0)
            ),
            None => write!(
                f,
                "{} idle subscribed clients (no --pid: memory not measured)",
                self.clients
            ),
        }
    }
}

/// The resident memory of a process, from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn doc_id(doc: usize) -> String {
    format!("idle{doc}")
}

pub async fn run(args: &Args, clients: usize) -> Result<Report, ConnError> {
    // The documents exist (and are in the server's memory) before the
    // clients come: what is measured is the clients alone.
    crate::load::create_docs(args, doc_id).await?;
    let before_kib = args.pid.and_then(rss_kib);
    let started = std::time::Instant::now();
    let mut conns = Vec::with_capacity(clients);
    for client in 0..clients {
        let mut conn = Conn::open(&args.url).await?;
        let subscribe = json!({"a": "s", "c": args.collection, "d": doc_id(client % args.docs)});
        conn.send(subscribe.to_string()).await?;
        conn.wait("subscribe", |m| m.a.as_deref() == Some("s"))
            .await?;
        conns.push(conn);
    }
    // Let the server settle (allocator, buffers) before reading its memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_kib = args.pid.and_then(rss_kib);
    // These clients read nothing, so they answer no ping: a server that
    // took the first ones for gone (connecting the rest outlasted its
    // idle timeout) would make the figure per client too low.
    let closed = conns
        .iter_mut()
        .map(Conn::closed_meanwhile)
        .filter(|&c| c)
        .count();
    drop(conns);
    if closed > 0 {
        return Err(ConnError::Server(
            "idle clients",
            format!(
                "the server closed {closed} of {clients} before memory was read \
                 (connecting took {:.0?}): not measured",
                started.elapsed()
            ),
        ));
    }
    Ok(Report {
        clients,
        before_kib,
        after_kib,
        json: args.json,
    })
}
