//! What one connection may ask of a server, and how long the server waits
//! for it: sizes, counts, rates, queues and timeouts, each with a default a
//! public server can live with.
//!
//! Every limit a client hits is answered with an error (ShareDB's shape,
//! `{code, message}`, codes below) and changes nothing stored; the
//! connection stays. Only a client that does not read what it is sent, or
//! sends nothing at all for too long, is disconnected, with a close code
//! and a reason.
//!
//! | limit | default | when hit |
//! |---|---|---|
//! | [`max_depth`](Limits::max_depth) | 100 levels (as BSON) | `ERR_DOC_TOO_DEEP` |
//! | [`max_snapshot_bytes`](Limits::max_snapshot_bytes) | 16 MiB (as MongoDB) | `ERR_DOC_TOO_LARGE` |
//! | [`max_subscriptions`](Limits::max_subscriptions) | 10,000 documents | `ERR_TOO_MANY_SUBSCRIPTIONS` |
//! | [`max_queries`](Limits::max_queries) | 1,000 live queries | `ERR_TOO_MANY_QUERIES` |
//! | [`max_presence_channels`](Limits::max_presence_channels) | 1,000 | `ERR_TOO_MANY_PRESENCE_CHANNELS` |
//! | [`ops`](Limits::ops) | 1,000 ops/s, bursts of 2,000 | `ERR_RATE_LIMITED` |
//! | [`requests`](Limits::requests) | 5,000 messages/s, bursts of 10,000 | `ERR_RATE_LIMITED` |
//! | [`max_replay_ops`](Limits::max_replay_ops) | 100,000 ops | `ERR_HISTORY_TOO_LONG` |
//! | [`max_outbound_messages`](Limits::max_outbound_messages) | 10,000 | closed: 1013, "too slow" |
//! | [`write_timeout`](Limits::write_timeout) | 10 s | closed: 1013, "too slow" |
//! | [`ping_interval`](Limits::ping_interval) / [`idle_timeout`](Limits::idle_timeout) | 20 s / 60 s | closed: 1001, "idle" |
//! | [`db_timeout`](Limits::db_timeout) / [`pubsub_timeout`](Limits::pubsub_timeout) | 30 s / 10 s | `ERR_TIMEOUT` |
//!
//! ```
//! use std::time::Duration;
//! use peloton::backend::{Backend, BackendOptions, Limits, Rate};
//!
//! let mut limits = Limits::default();
//! limits.ops = Rate::per_second(50);
//! limits.idle_timeout = Duration::from_secs(120);
//! let mut options = BackendOptions::default();
//! options.limits = limits;
//! let backend = Backend::builder().options(options).build();
//! # drop(backend);
//! ```

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ot::json0::{Action, Component};
use crate::protocol::{ErrorCode, ErrorObject};

/// Bounds on what one connection may do, and the server's patience with
/// it; see the [module](self) docs for the defaults and errors.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// How deeply a document may nest (an object or list in an object or
    /// list counts one level): an op that would go deeper, or a path
    /// longer than this, is refused. Values this deep make recursive
    /// copies, serialization and drops of a document overflow the stack.
    pub max_depth: usize,
    /// The largest a document may grow, as JSON, in bytes.
    pub max_snapshot_bytes: usize,
    /// Documents one connection may be subscribed to at once.
    pub max_subscriptions: usize,
    /// Live queries one connection may have at once.
    pub max_queries: usize,
    /// Presence channels one connection may be subscribed to at once.
    pub max_presence_channels: usize,
    /// How fast one connection may submit ops.
    pub ops: Rate,
    /// How fast one connection may send messages of any kind.
    pub requests: Rate,
    /// How many ops a snapshot at a past version or time may be rebuilt
    /// from.
    pub max_replay_ops: usize,
    /// How many messages (ops, query updates, presence) may wait for a
    /// connection that does not read them; past it the connection is
    /// closed and its memory freed. It catches up when it reconnects.
    pub max_outbound_messages: usize,
    /// How long a write to a connection may take before it counts as not
    /// reading.
    pub write_timeout: Duration,
    /// How often the server pings an idle WebSocket.
    pub ping_interval: Duration,
    /// How long a WebSocket may send nothing (not even a pong) before the
    /// server closes it: a client that vanished without closing.
    pub idle_timeout: Duration,
    /// How long one database call may take.
    pub db_timeout: Duration,
    /// How long one pub/sub call may take.
    pub pubsub_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 100,
            max_snapshot_bytes: 16 << 20,
            max_subscriptions: 10_000,
            max_queries: 1_000,
            max_presence_channels: 1_000,
            // A person types a few ops a second; a service syncing data, a
            // few hundred (the load bench's clients: ~550).
            ops: Rate::per_second(1_000),
            requests: Rate::per_second(5_000),
            max_replay_ops: 100_000,
            max_outbound_messages: 10_000,
            write_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            db_timeout: Duration::from_secs(30),
            pubsub_timeout: Duration::from_secs(10),
        }
    }
}

/// A rate: on average `per_second`, in bursts of up to `burst`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Rate {
    /// The sustained rate.
    pub per_second: f64,
    /// How many may come at once after a quiet spell.
    pub burst: f64,
}

impl Rate {
    /// `n` per second, in bursts of up to `2n`.
    pub fn per_second(n: u32) -> Self {
        Self {
            per_second: f64::from(n),
            burst: f64::from(n) * 2.0,
        }
    }

    /// No limit.
    pub fn unlimited() -> Self {
        Self {
            per_second: f64::INFINITY,
            burst: f64::INFINITY,
        }
    }

    /// The same rate with bursts of up to `burst`.
    pub fn with_burst(self, burst: u32) -> Self {
        Self {
            burst: f64::from(burst),
            ..self
        }
    }
}

/// A token bucket: one token per request, refilled at the rate.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub(crate) fn new(rate: Rate) -> Self {
        Self {
            rate,
            tokens: rate.burst,
            last: Instant::now(),
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn take(&mut self) -> bool {
        if self.rate.per_second.is_infinite() {
            return true;
        }
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate.per_second;
        self.tokens = (self.tokens + refill).min(self.rate.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The error for a request over the rate.
    pub(crate) fn refusal(&self, what: &str) -> ErrorObject {
        ErrorObject::new(
            ErrorCode::RateLimited,
            format!(
                "Too many {what}: this server allows {} per second (bursts of {}); slow down and retry",
                self.rate.per_second, self.rate.burst
            ),
        )
    }
}

/// How deeply `value` nests: 0 for a scalar, 1 for an object or list of
/// scalars, and so on. Values parsed from the wire are at most 128 deep
/// (serde_json's recursion limit), so the recursion is bounded.
pub(crate) fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Refuses a component that would nest the document deeper than `max`:
/// its path, plus what it puts there.
pub(crate) fn check_component_depth(c: &Component, max: usize) -> Result<(), ErrorObject> {
    let inserted = match &c.action {
        Action::ListInsert(v)
        | Action::ObjectInsert(v)
        | Action::ListReplace { li: v, .. }
        | Action::ObjectReplace { oi: v, .. } => depth(v),
        _ => 0,
    };
    // A value at path p sits p.len() levels down.
    if c.p.len() > max || c.p.len() + inserted > max {
        return Err(too_deep(max));
    }
    Ok(())
}

pub(crate) fn too_deep(max: usize) -> ErrorObject {
    ErrorObject::new(
        ErrorCode::DocTooDeep,
        format!("Document would nest more than {max} levels deep (the server's limit)"),
    )
}

/// How many bytes an op may add to its document as JSON, at most: what it
/// inserts, with room for a key and separators, never less than it adds.
pub(crate) fn growth(op: &crate::ot::json0::Op) -> usize {
    op.iter()
        .map(|c| {
            let key = match c.p.last() {
                Some(crate::ot::json0::PathSegment::Key(k)) => json_bytes(&Value::from(k.as_str())),
                _ => 0,
            };
            match &c.action {
                Action::ListInsert(v) | Action::ListReplace { li: v, .. } => json_bytes(v) + 1,
                Action::ObjectInsert(v) | Action::ObjectReplace { oi: v, .. } => {
                    json_bytes(v) + key + 2
                }
                Action::StringInsert(text) => json_bytes(&Value::from(text.as_str())),
                Action::Text0(op) => {
                    op.0.iter()
                        .map(|t| match &t.action {
                            crate::ot::text0::Action::Insert(text) => {
                                json_bytes(&Value::from(text.as_str()))
                            }
                            crate::ot::text0::Action::Delete(_) => 0,
                        })
                        .sum()
                }
                // A number's digits: at most a double's longest form.
                Action::NumberAdd(_) => 24,
                Action::ListDelete(_)
                | Action::ObjectDelete(_)
                | Action::StringDelete(_)
                | Action::ListMove(_) => 0,
            }
        })
        .sum()
}

/// The size of `value` as JSON, in bytes, without building the JSON.
pub(crate) fn json_bytes(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({})), 1);
        assert_eq!(depth(&json!({"a": [1, {"b": []}]})), 4);
    }

    #[test]
    fn a_bucket_allows_bursts_then_the_rate() {
        let mut bucket = Bucket::new(Rate::per_second(10).with_burst(3));
        assert!(bucket.take() && bucket.take() && bucket.take());
        assert!(!bucket.take());
        bucket.last -= Duration::from_millis(250);
        assert!(bucket.take() && bucket.take());
        assert!(!bucket.take());
        assert!(Bucket::new(Rate::unlimited()).take());
    }

    #[test]
    fn json_bytes_is_the_serialized_length() {
        let v = json!({"a": "é", "b": [1, 2.5, null]});
        assert_eq!(json_bytes(&v), serde_json::to_string(&v).unwrap().len());
    }
}
