//! Messages the server sends to a client: replies, published ops, query
//! diffs and presence, with the exact shapes ShareDB's clients expect (and
//! parsed back, for peloton's own client).
//!
//! This module owns the reply vocabulary and its wire form only; what to
//! send, and when, is the agent's (`backend::agent`).
//!
//! It runs a little past 600 lines because it is one vocabulary: every
//! reply ShareDB's clients know, written and parsed in one place, so the
//! two directions cannot drift apart (its tests are in `tests.rs`).

use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::client_message::{PresenceUpdate, Rejected};
use super::error::ErrorObject;
use super::snapshot::{DocOp, Snapshot, VersionInfo};
use super::wire::{Bulk, Id, Wire};
use super::{PROTOCOL_MAJOR, PROTOCOL_MINOR};
use crate::ot::json0;

/// A message from the server: a reply, an op, a query update, presence.
///
/// Its `Serialize` writes ShareDB's JSON for serde_json (`to_json`,
/// `serde_json::to_string`, `to_value`): documents' data goes out as its
/// cached JSON text ([`DocData`](super::DocData)), which other
/// serializers would not understand.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ServerMessage {
    /// `init`: sent by the server as soon as a client connects (legacy
    /// clients read their id from it; current ones answer with `hs`).
    Init(Hello),
    /// `hs`: the reply to a handshake.
    Handshake(Hello),
    /// `f`: the reply to a fetch; `data` is absent when ops were sent instead.
    Fetch {
        /// Collection.
        c: String,
        /// Document id.
        d: String,
        /// The snapshot, for a fetch without a version.
        data: Option<Snapshot>,
    },
    /// `s`: the reply to a subscribe.
    Subscribe {
        /// Collection.
        c: String,
        /// Document id.
        d: String,
        /// The snapshot, for a subscribe without a version.
        data: Option<Snapshot>,
    },
    /// `u`: the reply to an unsubscribe.
    Unsubscribe {
        /// Collection.
        c: String,
        /// Document id.
        d: String,
    },
    /// `bf`: the reply to a bulk fetch.
    BulkFetch(BulkReply),
    /// `bs`: the reply to a bulk subscribe.
    BulkSubscribe(BulkReply),
    /// `bu`: the reply to a bulk unsubscribe.
    BulkUnsubscribe(BulkReply),
    /// `qf`: the results of a query fetch.
    QueryFetch(QueryReply),
    /// `qs`: the first results of a query subscription.
    QuerySubscribe(QueryReply),
    /// `qu`: the reply to a query unsubscribe.
    QueryUnsubscribe {
        /// The client's id for the query.
        id: u64,
    },
    /// `q`: a subscribed query's results or extra changed.
    QueryUpdate {
        /// The client's id for the query.
        id: u64,
        /// Changes to the result list, in order.
        diff: Option<Vec<QueryDiff>>,
        /// The new extra (`$count`, …), if it changed; `Some(Null)` if it
        /// became null.
        extra: Option<Value>,
    },
    /// `op`: an op committed by another client, or sent to catch up.
    Op(Arc<DocOp>),
    /// `op` without a body: acknowledges the client's own op, committed at
    /// version `v`.
    OpAck {
        /// Collection.
        c: String,
        /// Document id.
        d: String,
        /// The op's client.
        src: Option<String>,
        /// The op's sequence number.
        seq: Option<u64>,
        /// The version the op was applied at.
        v: u64,
    },
    /// `nf` / `nt`: a snapshot at a version or time.
    SnapshotFetch(SnapshotReply),
    /// `hv` (peloton's): versions of a document's history.
    History {
        /// The client's id for the request.
        id: u64,
        /// The versions, oldest first.
        versions: Vec<VersionInfo>,
    },
    /// `pp`: the reply to a ping.
    Pong,
    /// `p`: another client's presence.
    Presence(PresenceUpdate),
    /// `ps`: the reply to a presence subscribe.
    PresenceSubscribe {
        /// The channel.
        ch: String,
        /// The request's seq.
        seq: u64,
    },
    /// `pu`: the reply to a presence unsubscribe.
    PresenceUnsubscribe {
        /// The channel.
        ch: String,
        /// The request's seq.
        seq: u64,
    },
    /// `pr`: someone asks for this client's presence on a channel.
    PresenceRequest {
        /// The channel.
        ch: String,
    },
    /// A request's error: the request echoed back with `error` set.
    Error(Box<Rejected>),
}

/// The fields of `init` and `hs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The client's id: the `src` of its ops.
    pub id: String,
    /// The protocol's major version.
    pub protocol: u64,
    /// The protocol's minor version.
    pub protocol_minor: u64,
    /// The default type's URI (json0).
    pub doc_type: String,
}

impl Hello {
    /// The hello of this server for a client id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            protocol: PROTOCOL_MAJOR,
            protocol_minor: PROTOCOL_MINOR,
            doc_type: json0::URI.to_owned(),
        }
    }
}

/// The reply to a bulk request: snapshots (or per-document errors) when the
/// client gave ids, else the request's `b` echoed.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkReply {
    /// Collection.
    pub c: String,
    /// Per document: its snapshot or why it could not be read.
    pub data: Option<Vec<(String, Result<Snapshot, ErrorObject>)>>,
    /// The request's `b`, echoed when there is no `data`.
    pub b: Option<Bulk>,
}

/// The reply to a query fetch or subscribe.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryReply {
    /// The client's id for the query.
    pub id: u64,
    /// The results.
    pub data: QueryData,
    /// Extra results of the database (`$count`, …).
    pub extra: Option<Value>,
}

/// The results part of a query reply.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryData {
    /// No results in the reply: they arrive as diffs.
    None,
    /// The results, in order: `[{d, v, data}, …]`.
    Results(Vec<QueryResult>),
    /// Snapshots of some results, by id: `{id: {v, data}}`; sent when the
    /// client gave its results and needs only some documents.
    Snapshots(Vec<(String, Snapshot)>),
}

/// One result of a query: a document id with its snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// The document's id.
    pub id: String,
    /// The document.
    pub snapshot: Snapshot,
}

impl Serialize for QueryResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.snapshot.serialize_fields(&mut map, Some(&self.id))?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for QueryResult {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            d: String,
            v: u64,
            #[serde(default, rename = "type", deserialize_with = "super::wire::present")]
            doc_type: Option<Option<String>>,
            #[serde(default)]
            data: Option<Value>,
        }
        let w = Wire::deserialize(deserializer)?;
        Ok(Self {
            id: w.d,
            snapshot: Snapshot::from_wire(w.v, w.doc_type, w.data),
        })
    }
}

/// A change to a subscribed query's result list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum QueryDiff {
    /// Documents now match, at `index`.
    Insert {
        /// Where they go.
        index: usize,
        /// The documents.
        values: Vec<QueryResult>,
    },
    /// `how_many` documents at `index` no longer match.
    Remove {
        /// Where they were.
        index: usize,
        /// How many.
        #[serde(rename = "howMany")]
        how_many: usize,
    },
    /// Documents moved within the results.
    Move {
        /// Where they were.
        from: usize,
        /// Where they go.
        to: usize,
        /// How many.
        #[serde(rename = "howMany")]
        how_many: usize,
    },
}

/// The reply to `nf` / `nt`: `{id, v, type, data, m: null}`.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotReply {
    /// `true` for `nt` (by timestamp), `false` for `nf` (by version).
    pub by_timestamp: bool,
    /// The client's id for the request.
    pub id: u64,
    /// The document as it was.
    pub snapshot: Snapshot,
}

impl ServerMessage {
    /// The wire action (`"s"`, `"op"`, …); `None` for an error that echoes a
    /// request without one.
    pub fn action(&self) -> Option<&str> {
        Some(match self {
            Self::Init(_) => "init",
            Self::Handshake(_) => "hs",
            Self::Fetch { .. } => "f",
            Self::Subscribe { .. } => "s",
            Self::Unsubscribe { .. } => "u",
            Self::BulkFetch(_) => "bf",
            Self::BulkSubscribe(_) => "bs",
            Self::BulkUnsubscribe(_) => "bu",
            Self::QueryFetch(_) => "qf",
            Self::QuerySubscribe(_) => "qs",
            Self::QueryUnsubscribe { .. } => "qu",
            Self::QueryUpdate { .. } => "q",
            Self::Op(_) | Self::OpAck { .. } => "op",
            Self::SnapshotFetch(r) if r.by_timestamp => "nt",
            Self::SnapshotFetch(_) => "nf",
            Self::History { .. } => "hv",
            Self::Pong => "pp",
            Self::Presence(_) => "p",
            Self::PresenceSubscribe { .. } => "ps",
            Self::PresenceUnsubscribe { .. } => "pu",
            Self::PresenceRequest { .. } => "pr",
            Self::Error(rejected) => return rejected.echo.get("a").and_then(Value::as_str),
        })
    }

    /// An error reply that echoes `echo`.
    pub fn error(echo: Map<String, Value>, error: ErrorObject) -> Self {
        Self::Error(Box::new(Rejected { echo, error }))
    }

    /// Serializes to the JSON text of one WebSocket frame.
    pub fn to_json(&self) -> String {
        if let Self::Op(op) = self {
            return op.wire_json();
        }
        // Serializing these types cannot fail: every map key is a string.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"error":{{"code":"ERR_UNKNOWN_ERROR","message":"{e}"}}}}"#)
        })
    }

    /// The message as UTF-8 JSON bytes: for an op, the bytes every
    /// recipient shares ([`DocOp::wire_bytes`]), so a transport that
    /// takes `Bytes` sends them without copying.
    pub fn to_json_bytes(&self) -> bytes::Bytes {
        match self {
            Self::Op(op) => op.wire_bytes(),
            other => bytes::Bytes::from(other.to_json()),
        }
    }

    /// Parses one frame from a server.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        use serde::de::Error;
        let mut w: Wire = serde_json::from_str(text)?;
        if let Some(error) = w.error.take() {
            let echo = match serde_json::from_str(text)? {
                Value::Object(mut map) => {
                    map.remove("error");
                    map
                }
                _ => Map::new(),
            };
            return Ok(Self::error(echo, error));
        }
        let action =
            w.a.take()
                .ok_or_else(|| serde_json::Error::custom("message without an action"))?;
        let missing = |field: &str| serde_json::Error::custom(format!("{action}: missing {field}"));
        let (c_field, d_field) = (w.c.take(), w.d.take());
        let c = || c_field.clone().ok_or_else(|| missing("c"));
        let d = || d_field.clone().ok_or_else(|| missing("d"));
        let num_id = || match w.id {
            Some(Id::Number(id)) => Ok(id),
            _ => Err(missing("id")),
        };
        let snapshot = |data: Option<Value>| -> Result<Option<Snapshot>, serde_json::Error> {
            data.map(serde_json::from_value).transpose()
        };
        Ok(match action.as_str() {
            "init" | "hs" => {
                let hello = Hello {
                    id: match &w.id {
                        Some(Id::String(id)) => id.clone(),
                        _ => return Err(missing("id")),
                    },
                    protocol: w.protocol.ok_or_else(|| missing("protocol"))?,
                    protocol_minor: w.protocol_minor.unwrap_or(0),
                    doc_type: w.doc_type.clone().flatten().unwrap_or_default(),
                };
                if action == "init" {
                    Self::Init(hello)
                } else {
                    Self::Handshake(hello)
                }
            }
            "f" => Self::Fetch {
                c: c()?,
                d: d()?,
                data: snapshot(w.data.clone())?,
            },
            "s" => Self::Subscribe {
                c: c()?,
                d: d()?,
                data: snapshot(w.data.clone())?,
            },
            "u" => Self::Unsubscribe { c: c()?, d: d()? },
            "bf" | "bs" | "bu" => {
                let data = match w.data.take() {
                    Some(Value::Object(map)) => Some(
                        map.into_iter()
                            .map(|(id, item)| Ok((id, bulk_item(item)?)))
                            .collect::<Result<Vec<_>, serde_json::Error>>()?,
                    ),
                    _ => None,
                };
                let reply = BulkReply {
                    c: c()?,
                    data,
                    b: w.b.take(),
                };
                match action.as_str() {
                    "bf" => Self::BulkFetch(reply),
                    "bs" => Self::BulkSubscribe(reply),
                    _ => Self::BulkUnsubscribe(reply),
                }
            }
            "qf" | "qs" => {
                let data = match w.data.take() {
                    Some(Value::Array(items)) => QueryData::Results(
                        items
                            .into_iter()
                            .map(serde_json::from_value)
                            .collect::<Result<_, _>>()?,
                    ),
                    Some(Value::Object(map)) => QueryData::Snapshots(
                        map.into_iter()
                            .map(|(id, s)| Ok((id, serde_json::from_value(s)?)))
                            .collect::<Result<_, serde_json::Error>>()?,
                    ),
                    _ => QueryData::None,
                };
                let reply = QueryReply {
                    id: num_id()?,
                    data,
                    extra: w.extra.take(),
                };
                if action == "qf" {
                    Self::QueryFetch(reply)
                } else {
                    Self::QuerySubscribe(reply)
                }
            }
            "qu" => Self::QueryUnsubscribe { id: num_id()? },
            "q" => Self::QueryUpdate {
                id: num_id()?,
                diff: w.diff.take().map(serde_json::from_value).transpose()?,
                extra: w.extra.take(),
            },
            "op" => {
                let v = w.v.ok_or_else(|| missing("v"))?;
                if w.op.is_none() && w.create.is_none() && w.del.is_none() {
                    Self::OpAck {
                        c: c()?,
                        d: d()?,
                        src: w.src.take(),
                        seq: w.seq,
                        v,
                    }
                } else {
                    let kind = w.take_op_kind().map_err(serde_json::Error::custom)?;
                    let mut op = DocOp::new(c()?, d()?, v, kind);
                    op.src = w.src.take();
                    op.seq = w.seq;
                    Self::Op(Arc::new(op))
                }
            }
            "nf" | "nt" => Self::SnapshotFetch(SnapshotReply {
                by_timestamp: action == "nt",
                id: num_id()?,
                snapshot: Snapshot::from_wire(
                    w.v.ok_or_else(|| missing("v"))?,
                    Some(w.doc_type.take().flatten()),
                    w.data.take(),
                ),
            }),
            "hv" => Self::History {
                id: num_id()?,
                versions: w.versions.take().ok_or_else(|| missing("versions"))?,
            },
            "pp" => Self::Pong,
            "p" => Self::Presence(PresenceUpdate {
                ch: w.ch.take().ok_or_else(|| missing("ch"))?,
                id: match w.id.take() {
                    Some(Id::String(id)) => id,
                    _ => return Err(missing("id")),
                },
                p: w.p.take().unwrap_or(Value::Null),
                pv: w.pv.unwrap_or(0),
                c: c_field.clone(),
                d: d_field.clone(),
                v: w.v,
                t: w.t.take(),
                src: w.src.take(),
            }),
            "ps" | "pu" => {
                let ch = w.ch.take().ok_or_else(|| missing("ch"))?;
                let seq = w.seq.unwrap_or(0);
                if action == "ps" {
                    Self::PresenceSubscribe { ch, seq }
                } else {
                    Self::PresenceUnsubscribe { ch, seq }
                }
            }
            "pr" => Self::PresenceRequest {
                ch: w.ch.take().ok_or_else(|| missing("ch"))?,
            },
            other => return Err(serde_json::Error::custom(format!("unknown action {other}"))),
        })
    }
}

/// One entry of a bulk reply's `data`: a snapshot or `{error}`.
fn bulk_item(item: Value) -> Result<Result<Snapshot, ErrorObject>, serde_json::Error> {
    if let Some(error) = item.get("error") {
        return Ok(Err(serde_json::from_value(error.clone())?));
    }
    Ok(Ok(serde_json::from_value(item)?))
}

struct BulkData<'a>(&'a [(String, Result<Snapshot, ErrorObject>)]);

impl Serialize for BulkData<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct ErrorItem<'a> {
            error: &'a ErrorObject,
        }
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (id, item) in self.0 {
            match item {
                Ok(snapshot) => map.serialize_entry(id, &snapshot.wire())?,
                Err(error) => map.serialize_entry(id, &ErrorItem { error })?,
            }
        }
        map.end()
    }
}

struct SnapshotMap<'a>(&'a [(String, Snapshot)]);

impl Serialize for SnapshotMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (id, snapshot) in self.0 {
            map.serialize_entry(id, &snapshot.wire())?;
        }
        map.end()
    }
}

impl Serialize for ServerMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Self::Op(op) = self {
            return op.serialize_with(serializer, true);
        }
        let mut m = serializer.serialize_map(None)?;
        if let Some(action) = self.action()
            && !matches!(self, Self::Error(_))
        {
            m.serialize_entry("a", action)?;
        }
        match self {
            Self::Init(hello) | Self::Handshake(hello) => {
                m.serialize_entry("protocol", &hello.protocol)?;
                m.serialize_entry("protocolMinor", &hello.protocol_minor)?;
                m.serialize_entry("id", &hello.id)?;
                m.serialize_entry("type", &hello.doc_type)?;
            }
            Self::Fetch { c, d, data } | Self::Subscribe { c, d, data } => {
                m.serialize_entry("c", c)?;
                m.serialize_entry("d", d)?;
                if let Some(data) = data {
                    m.serialize_entry("data", &data.wire())?;
                }
            }
            Self::Unsubscribe { c, d } => {
                m.serialize_entry("c", c)?;
                m.serialize_entry("d", d)?;
            }
            Self::BulkFetch(r) | Self::BulkSubscribe(r) | Self::BulkUnsubscribe(r) => {
                m.serialize_entry("c", &r.c)?;
                match &r.data {
                    Some(data) => m.serialize_entry("data", &BulkData(data))?,
                    None => {
                        if let Some(b) = &r.b {
                            m.serialize_entry("b", b)?;
                        }
                    }
                }
            }
            Self::QueryFetch(r) | Self::QuerySubscribe(r) => {
                m.serialize_entry("id", &r.id)?;
                match &r.data {
                    QueryData::None => {}
                    QueryData::Results(results) => m.serialize_entry("data", results)?,
                    QueryData::Snapshots(snaps) => {
                        m.serialize_entry("data", &SnapshotMap(snaps))?
                    }
                }
                if let Some(extra) = &r.extra {
                    m.serialize_entry("extra", extra)?;
                }
            }
            Self::QueryUnsubscribe { id } => m.serialize_entry("id", id)?,
            Self::QueryUpdate { id, diff, extra } => {
                m.serialize_entry("id", id)?;
                if let Some(diff) = diff {
                    m.serialize_entry("diff", diff)?;
                }
                if let Some(extra) = extra {
                    m.serialize_entry("extra", extra)?;
                }
            }
            Self::Op(_) => unreachable!("serialized above"),
            Self::OpAck { c, d, src, seq, v } => {
                m.serialize_entry("c", c)?;
                m.serialize_entry("d", d)?;
                if let Some(src) = src {
                    m.serialize_entry("src", src)?;
                }
                if let Some(seq) = seq {
                    m.serialize_entry("seq", seq)?;
                }
                m.serialize_entry("v", v)?;
            }
            Self::SnapshotFetch(r) => {
                m.serialize_entry("id", &r.id)?;
                m.serialize_entry("v", &r.snapshot.v)?;
                m.serialize_entry("type", &r.snapshot.doc_type)?;
                if let Some(data) = &r.snapshot.data {
                    m.serialize_entry("data", &data.as_json())?;
                }
                m.serialize_entry("m", &Value::Null)?;
            }
            Self::History { id, versions } => {
                m.serialize_entry("id", id)?;
                m.serialize_entry("versions", versions)?;
            }
            Self::Pong => {}
            Self::Presence(p) => p.serialize_fields(&mut m)?,
            Self::PresenceSubscribe { ch, seq } | Self::PresenceUnsubscribe { ch, seq } => {
                m.serialize_entry("ch", ch)?;
                m.serialize_entry("seq", seq)?;
            }
            Self::PresenceRequest { ch } => m.serialize_entry("ch", ch)?,
            Self::Error(rejected) => {
                for (key, value) in &rejected.echo {
                    if key != "error" {
                        m.serialize_entry(key, value)?;
                    }
                }
                m.serialize_entry("error", &rejected.error)?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests;
