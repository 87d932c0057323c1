//! Messages a client sends to the server: what each request is, how it is
//! read from a frame (and checked: collection, id and key names a JavaScript
//! peer would mistake for object internals are refused) and written back.
//!
//! This module owns the request vocabulary only; what a server does with a
//! request is the backend's, and a frame that is not a request is answered
//! by [`Rejected`] (in `rejected`).

mod rejected;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::error::ErrorObject;
use super::snapshot::{OpKind, normalize_type};
use super::wire::{Bulk, Id, Wire};
use super::{PROTOCOL_MAJOR, PROTOCOL_MINOR};
use crate::ot::json0;
pub use rejected::Rejected;
use rejected::diagnose;

/// A request from a client, one per WebSocket text frame.
///
/// Parse one from a frame with [`ClientMessage::parse`]; serialize one to
/// JSON with serde. The wire names (`"a": "s"` for subscribe, …) are
/// ShareDB's.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ClientMessage {
    /// `hs`: the handshake; `id` is the client's previous id, reused as its
    /// `src` after a reconnect.
    Handshake {
        /// The id the client had before, if it reconnects.
        id: Option<String>,
        /// The protocol's major version (1).
        protocol: Option<u64>,
        /// The protocol's minor version.
        protocol_minor: Option<u64>,
    },
    /// `f`: fetch a snapshot, or with `v` the ops since that version.
    Fetch(DocRequest),
    /// `s`: fetch and subscribe to a document.
    Subscribe(DocRequest),
    /// `u`: stop a document subscription.
    Unsubscribe(DocRequest),
    /// `bf`: fetch several documents of one collection.
    BulkFetch(BulkRequest),
    /// `bs`: subscribe to several documents of one collection.
    BulkSubscribe(BulkRequest),
    /// `bu`: unsubscribe from several documents.
    BulkUnsubscribe(BulkRequest),
    /// `qf`: run a query once.
    QueryFetch(QueryRequest),
    /// `qs`: run a query and be sent changes to its results.
    QuerySubscribe(QueryRequest),
    /// `qu`: stop a query subscription.
    QueryUnsubscribe {
        /// The client's id for the query.
        id: u64,
    },
    /// `op`: submit a create, edit or delete.
    Op(OpRequest),
    /// `nf`: a snapshot at a version (`None`: the latest).
    SnapshotFetch {
        /// The client's id for this request.
        id: u64,
        /// Collection.
        c: String,
        /// Document id.
        d: String,
        /// The version wanted.
        v: Option<u64>,
    },
    /// `nt`: a snapshot as it was at a time (ms since the epoch).
    SnapshotFetchByTimestamp {
        /// The client's id for this request.
        id: u64,
        /// Collection.
        c: String,
        /// Document id.
        d: String,
        /// The time wanted; `None`: now.
        ts: Option<f64>,
    },
    /// `hv` (peloton's, not ShareDB's): the versions of a document's
    /// history, from version `from` (the version the first listed op
    /// produced) up to `to` (exclusive; `None`: the latest), at most
    /// [`MAX_HISTORY_VERSIONS`] of them.
    History {
        /// The client's id for this request.
        id: u64,
        /// Collection.
        c: String,
        /// Document id.
        d: String,
        /// The first version listed (`v` on the wire).
        from: u64,
        /// The version after the last one listed.
        to: Option<u64>,
    },
    /// `pp`: ping; the server answers with `pp`.
    Ping,
    /// `p`: this client's presence on a channel.
    Presence(PresenceUpdate),
    /// `ps`: receive the presence of others on a channel.
    PresenceSubscribe {
        /// The channel.
        ch: String,
        /// Orders subscribe/unsubscribe requests.
        seq: u64,
    },
    /// `pu`: stop receiving presence on a channel.
    PresenceUnsubscribe {
        /// The channel.
        ch: String,
        /// Orders subscribe/unsubscribe requests.
        seq: u64,
    },
    /// `pr`: ask everyone on a channel to send their presence again.
    PresenceRequest {
        /// The channel.
        ch: String,
    },
}

/// A request about one document: `{c, d, v?}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocRequest {
    /// Collection.
    pub c: String,
    /// Document id.
    pub d: String,
    /// The version the client has, if any: the server then sends ops, not
    /// a snapshot.
    pub v: Option<u64>,
}

/// A request about several documents of a collection: `{c, b}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkRequest {
    /// Collection.
    pub c: String,
    /// The documents, with the versions the client has if it has them.
    pub b: Bulk,
}

/// A query request: `{id, c, q, o?, r?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryRequest {
    /// The client's id for the query; updates carry it.
    pub id: u64,
    /// Collection.
    pub c: String,
    /// The query expression (Mongo-style).
    pub q: Value,
    /// Query options (`o`), passed to the database and middleware.
    pub options: Option<Value>,
    /// Results the client already has, as `(id, version)` pairs (`r`): the
    /// server then sends only what changed.
    pub results: Option<Vec<(String, Option<u64>)>>,
}

/// A submitted op: `{c, d, v, src, seq, op | create | del, x?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct OpRequest {
    /// Collection.
    pub c: String,
    /// Document id.
    pub d: String,
    /// The version the op was made against; `None` means the latest.
    pub v: Option<u64>,
    /// The client that made the op; defaults to the connection's id.
    pub src: Option<String>,
    /// The op's sequence number on its client.
    pub seq: Option<u64>,
    /// What the op does.
    pub kind: OpKind,
    /// Extra data for middleware (`x`).
    pub x: Option<Value>,
}

/// A presence update (action `p`): where a client is in a document (a
/// cursor, a selection), or `null` when it leaves. Relayed to every
/// subscriber of the channel.
#[derive(Clone, Debug, PartialEq)]
pub struct PresenceUpdate {
    /// The channel (for a document's presence: `collection.id`).
    pub ch: String,
    /// The presence's id, chosen by the client.
    pub id: String,
    /// The presence value; `Null` when the presence is gone.
    pub p: Value,
    /// Orders updates of one presence.
    pub pv: u64,
    /// The document's collection, for document presence.
    pub c: Option<String>,
    /// The document's id, for document presence.
    pub d: Option<String>,
    /// The document version the presence refers to.
    pub v: Option<u64>,
    /// The document's type, for transforming the presence.
    pub t: Option<String>,
    /// The sending client; set by the server when relaying.
    pub src: Option<String>,
}

impl ClientMessage {
    /// Parses one WebSocket text frame.
    ///
    /// A frame that is not a JSON object, has no or an unknown action, or a
    /// field of the wrong type is rejected with `ERR_MESSAGE_BADLY_FORMED`;
    /// an op body that is not a valid json0 op with `ERR_OT_OP_BADLY_FORMED`.
    ///
    /// ```
    /// use peloton::protocol::{ClientMessage, DocRequest};
    ///
    /// let msg = ClientMessage::parse(r#"{"a":"s","c":"todos","d":"t1"}"#).unwrap();
    /// assert_eq!(
    ///     msg,
    ///     ClientMessage::Subscribe(DocRequest { c: "todos".into(), d: "t1".into(), v: None })
    /// );
    /// let err = ClientMessage::parse(r#"{"a":"zz"}"#).unwrap_err();
    /// assert_eq!(err.error.code.as_str(), "ERR_MESSAGE_BADLY_FORMED");
    /// ```
    pub fn parse(text: &str) -> Result<Self, Box<Rejected>> {
        match serde_json::from_str::<Wire>(text) {
            Ok(wire) => Self::from_wire(wire).map_err(|error| {
                // Rare path: read the frame again to echo all of it.
                Box::new(Rejected {
                    echo: match serde_json::from_str(text) {
                        Ok(Value::Object(map)) => map,
                        _ => Map::new(),
                    },
                    error,
                })
            }),
            Err(err) => Err(Box::new(diagnose(text, &err))),
        }
    }

    fn from_wire(mut w: Wire) -> Result<Self, ErrorObject> {
        let action =
            w.a.take()
                .ok_or_else(|| ErrorObject::badly_formed("Invalid or unknown message"))?;
        let msg = match action.as_str() {
            "hs" => Self::Handshake {
                id: match w.id {
                    Some(Id::String(id)) => Some(id),
                    Some(Id::Number(_)) => {
                        return Err(ErrorObject::badly_formed("Invalid client id"));
                    }
                    None => None,
                },
                protocol: w.protocol,
                protocol_minor: w.protocol_minor,
            },
            "f" => Self::Fetch(doc_request(&mut w)?),
            "s" => Self::Subscribe(doc_request(&mut w)?),
            "u" => Self::Unsubscribe(doc_request(&mut w)?),
            "bf" => Self::BulkFetch(bulk_request(&mut w)?),
            "bs" => Self::BulkSubscribe(bulk_request(&mut w)?),
            "bu" => Self::BulkUnsubscribe(bulk_request(&mut w)?),
            "qf" => Self::QueryFetch(query_request(&mut w)?),
            "qs" => Self::QuerySubscribe(query_request(&mut w)?),
            "qu" => Self::QueryUnsubscribe { id: query_id(&w)? },
            "op" => {
                let (c, d) = collection_and_id(&mut w)?;
                let kind = w.take_op_kind()?;
                let kind = match kind {
                    OpKind::Create(mut create) => {
                        create.doc_type = normalize_type(create.doc_type);
                        OpKind::Create(create)
                    }
                    other => other,
                };
                Self::Op(OpRequest {
                    c,
                    d,
                    v: w.v,
                    src: w.src,
                    seq: w.seq,
                    kind,
                    x: w.x,
                })
            }
            "nf" => {
                let id = query_id(&w)?;
                let (c, d) = collection_and_id(&mut w)?;
                Self::SnapshotFetch { id, c, d, v: w.v }
            }
            "nt" => {
                let id = query_id(&w)?;
                let (c, d) = collection_and_id(&mut w)?;
                Self::SnapshotFetchByTimestamp { id, c, d, ts: w.ts }
            }
            "hv" => {
                let id = query_id(&w)?;
                let (c, d) = collection_and_id(&mut w)?;
                Self::History {
                    id,
                    c,
                    d,
                    from: w.v.unwrap_or(1),
                    to: w.to,
                }
            }
            "pp" => Self::Ping,
            "p" => {
                let ch = channel(&mut w)?;
                let id = match w.id.take() {
                    Some(Id::String(id)) if is_safe_key(&id) => id,
                    _ => return Err(ErrorObject::badly_formed("Invalid presence ID")),
                };
                Self::Presence(PresenceUpdate {
                    ch,
                    id,
                    p: w.p.unwrap_or(Value::Null),
                    pv: w.pv.unwrap_or(0),
                    c: safe_key(w.c, "Invalid collection")?,
                    d: safe_key(w.d, "Invalid id")?,
                    v: w.v,
                    t: w.t,
                    src: None,
                })
            }
            "ps" => Self::PresenceSubscribe {
                ch: channel(&mut w)?,
                seq: w.seq.unwrap_or(0),
            },
            "pu" => Self::PresenceUnsubscribe {
                ch: channel(&mut w)?,
                seq: w.seq.unwrap_or(0),
            },
            "pr" => Self::PresenceRequest {
                ch: channel(&mut w)?,
            },
            _ => return Err(ErrorObject::badly_formed("Invalid or unknown message")),
        };
        Ok(msg)
    }

    /// The request as a JSON object, to echo it back with an error.
    pub fn to_echo(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// The wire action (`"s"`, `"op"`, …).
    pub fn action(&self) -> &'static str {
        match self {
            Self::Handshake { .. } => "hs",
            Self::Fetch(_) => "f",
            Self::Subscribe(_) => "s",
            Self::Unsubscribe(_) => "u",
            Self::BulkFetch(_) => "bf",
            Self::BulkSubscribe(_) => "bs",
            Self::BulkUnsubscribe(_) => "bu",
            Self::QueryFetch(_) => "qf",
            Self::QuerySubscribe(_) => "qs",
            Self::QueryUnsubscribe { .. } => "qu",
            Self::Op(_) => "op",
            Self::SnapshotFetch { .. } => "nf",
            Self::SnapshotFetchByTimestamp { .. } => "nt",
            Self::History { .. } => "hv",
            Self::Ping => "pp",
            Self::Presence(_) => "p",
            Self::PresenceSubscribe { .. } => "ps",
            Self::PresenceUnsubscribe { .. } => "pu",
            Self::PresenceRequest { .. } => "pr",
        }
    }

    /// The collection and document the request is about, where it names
    /// them (a bulk or query request names a collection only).
    pub fn target(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Self::Fetch(r) | Self::Subscribe(r) | Self::Unsubscribe(r) => (Some(&r.c), Some(&r.d)),
            Self::Op(r) => (Some(&r.c), Some(&r.d)),
            Self::SnapshotFetch { c, d, .. }
            | Self::SnapshotFetchByTimestamp { c, d, .. }
            | Self::History { c, d, .. } => (Some(c), Some(d)),
            Self::BulkFetch(r) | Self::BulkSubscribe(r) | Self::BulkUnsubscribe(r) => {
                (Some(&r.c), None)
            }
            Self::QueryFetch(r) | Self::QuerySubscribe(r) => (Some(&r.c), None),
            _ => (None, None),
        }
    }

    /// The handshake a client sends first.
    pub fn handshake(previous_id: Option<String>) -> Self {
        Self::Handshake {
            id: previous_id,
            protocol: Some(PROTOCOL_MAJOR),
            protocol_minor: Some(PROTOCOL_MINOR),
        }
    }
}

/// The most versions one `hv` reply lists; ask again from the next one.
pub const MAX_HISTORY_VERSIONS: usize = 1000;

const DANGEROUS_KEYS: [&str; 3] = ["__proto__", "constructor", "prototype"];

/// Whether a collection, id or object key is safe to hand to JavaScript
/// peers: not one they would treat as object internals (`__proto__`,
/// `constructor`, `prototype`). ShareDB refuses those, and peloton shares
/// databases and pub/sub with Node servers.
pub fn is_safe_key(key: &str) -> bool {
    !DANGEROUS_KEYS.contains(&key)
}

fn safe_key(key: Option<String>, message: &'static str) -> Result<Option<String>, ErrorObject> {
    match key {
        Some(k) if !is_safe_key(&k) => Err(ErrorObject::badly_formed(message)),
        other => Ok(other),
    }
}

fn collection_and_id(w: &mut Wire) -> Result<(String, String), ErrorObject> {
    let c = safe_key(w.c.take(), "Invalid collection")?
        .ok_or_else(|| ErrorObject::badly_formed("Missing collection"))?;
    let d = safe_key(w.d.take(), "Invalid id")?
        .ok_or_else(|| ErrorObject::badly_formed("Missing id"))?;
    Ok((c, d))
}

fn doc_request(w: &mut Wire) -> Result<DocRequest, ErrorObject> {
    let (c, d) = collection_and_id(w)?;
    Ok(DocRequest { c, d, v: w.v })
}

fn bulk_request(w: &mut Wire) -> Result<BulkRequest, ErrorObject> {
    let c = safe_key(w.c.take(), "Invalid collection")?
        .ok_or_else(|| ErrorObject::badly_formed("Missing collection"))?;
    let b =
        w.b.take()
            .ok_or_else(|| ErrorObject::badly_formed("Invalid bulk subscribe data"))?;
    if b.ids().iter().any(|id| !is_safe_key(id)) {
        return Err(ErrorObject::badly_formed("Invalid id"));
    }
    Ok(BulkRequest { c, b })
}

fn query_id(w: &Wire) -> Result<u64, ErrorObject> {
    match w.id {
        Some(Id::Number(id)) => Ok(id),
        _ => Err(ErrorObject::badly_formed("Missing query ID")),
    }
}

fn query_request(w: &mut Wire) -> Result<QueryRequest, ErrorObject> {
    let id = query_id(w)?;
    let c = safe_key(w.c.take(), "Invalid collection")?
        .ok_or_else(|| ErrorObject::badly_formed("Missing collection"))?;
    Ok(QueryRequest {
        id,
        c,
        q: w.q.take().unwrap_or(Value::Null),
        options: w.o.take(),
        results: w.r.take(),
    })
}

fn channel(w: &mut Wire) -> Result<String, ErrorObject> {
    safe_key(w.ch.take(), "Invalid presence channel")?
        .ok_or_else(|| ErrorObject::badly_formed("Invalid presence channel"))
}

impl Serialize for ClientMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("a", self.action())?;
        match self {
            Self::Handshake {
                id,
                protocol,
                protocol_minor,
            } => {
                m.serialize_entry("id", id)?;
                if let Some(p) = protocol {
                    m.serialize_entry("protocol", p)?;
                }
                if let Some(p) = protocol_minor {
                    m.serialize_entry("protocolMinor", p)?;
                }
            }
            Self::Fetch(r) | Self::Subscribe(r) | Self::Unsubscribe(r) => {
                m.serialize_entry("c", &r.c)?;
                m.serialize_entry("d", &r.d)?;
                if let Some(v) = r.v {
                    m.serialize_entry("v", &v)?;
                }
            }
            Self::BulkFetch(r) | Self::BulkSubscribe(r) | Self::BulkUnsubscribe(r) => {
                m.serialize_entry("c", &r.c)?;
                m.serialize_entry("b", &r.b)?;
            }
            Self::QueryFetch(q) | Self::QuerySubscribe(q) => {
                m.serialize_entry("id", &q.id)?;
                m.serialize_entry("c", &q.c)?;
                m.serialize_entry("q", &q.q)?;
                if let Some(o) = &q.options {
                    m.serialize_entry("o", o)?;
                }
                if let Some(r) = &q.results {
                    m.serialize_entry("r", r)?;
                }
            }
            Self::QueryUnsubscribe { id } => m.serialize_entry("id", id)?,
            Self::Op(op) => {
                m.serialize_entry("c", &op.c)?;
                m.serialize_entry("d", &op.d)?;
                m.serialize_entry("v", &op.v)?;
                if let Some(src) = &op.src {
                    m.serialize_entry("src", src)?;
                }
                if let Some(seq) = &op.seq {
                    m.serialize_entry("seq", seq)?;
                }
                op.kind.serialize_fields(&mut m)?;
                if let Some(x) = &op.x {
                    m.serialize_entry("x", x)?;
                }
            }
            Self::SnapshotFetch { id, c, d, v } => {
                m.serialize_entry("id", id)?;
                m.serialize_entry("c", c)?;
                m.serialize_entry("d", d)?;
                m.serialize_entry("v", v)?;
            }
            Self::SnapshotFetchByTimestamp { id, c, d, ts } => {
                m.serialize_entry("id", id)?;
                m.serialize_entry("c", c)?;
                m.serialize_entry("d", d)?;
                m.serialize_entry("ts", ts)?;
            }
            Self::History { id, c, d, from, to } => {
                m.serialize_entry("id", id)?;
                m.serialize_entry("c", c)?;
                m.serialize_entry("d", d)?;
                m.serialize_entry("v", from)?;
                if let Some(to) = to {
                    m.serialize_entry("to", to)?;
                }
            }
            Self::Ping => {}
            Self::Presence(p) => p.serialize_fields(&mut m)?,
            Self::PresenceSubscribe { ch, seq } | Self::PresenceUnsubscribe { ch, seq } => {
                m.serialize_entry("ch", ch)?;
                m.serialize_entry("seq", seq)?;
            }
            Self::PresenceRequest { ch } => m.serialize_entry("ch", ch)?,
        }
        m.end()
    }
}

impl PresenceUpdate {
    /// Whether this is a document's presence (it names the document and
    /// the version its value refers to).
    pub fn is_doc_presence(&self) -> bool {
        self.c.is_some() && self.d.is_some() && self.v.is_some()
    }

    /// Moves a document presence past the op that took the document from
    /// version `v` to `v + 1` (ShareDB's `ot.transformPresence`): the
    /// value follows the edit ([`json0::transform_presence`]; `own` when
    /// the presence's client made the op), a create or delete clears it.
    pub fn transform(&mut self, op: &OpKind, own: bool) {
        self.p = match op {
            OpKind::Edit(op) => json0::transform_presence(&self.p, op, own),
            OpKind::Create(_) | OpKind::Delete => Value::Null,
        };
        self.v = self.v.map(|v| v.saturating_add(1));
    }

    /// Writes the presence's fields (not `a`) into a map.
    pub(crate) fn serialize_fields<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        m.serialize_entry("ch", &self.ch)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("p", &self.p)?;
        m.serialize_entry("pv", &self.pv)?;
        for (key, value) in [
            ("c", &self.c),
            ("d", &self.d),
            ("t", &self.t),
            ("src", &self.src),
        ] {
            if let Some(value) = value {
                m.serialize_entry(key, value)?;
            }
        }
        if let Some(v) = self.v {
            m.serialize_entry("v", &v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
