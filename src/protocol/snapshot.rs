//! Documents and ops as they travel on the wire.
//!
//! This module owns these shapes and their wire and pub/sub forms only; it
//! applies no op and checks no version (that is the backend's and the
//! client's), and how they are stored is each database's.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::DocData;
use crate::ot::json0;

/// A document's state at a version, in ShareDB's wire form `{v, data, type?}`.
///
/// `doc_type` is `None` for a document that does not exist (never created,
/// or deleted): on the wire `{"v": 4, "type": null}`. json0, the default
/// type, is left out of the wire form, as ShareDB does.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// How many ops the document has seen.
    pub v: u64,
    /// The type's URI, or `None` if the document does not exist.
    pub doc_type: Option<String>,
    /// The document's data; `None` when it does not exist. Shared, not
    /// copied, between the database's cache, the messages that carry it
    /// and a client's copy (see [`DocData`]).
    pub data: Option<DocData>,
}

impl Snapshot {
    /// A document that does not exist at version `v`: never created (at
    /// 0), or deleted by op `v - 1`.
    pub fn nonexistent(v: u64) -> Self {
        Self {
            v,
            doc_type: None,
            data: None,
        }
    }

    /// A json0 document.
    pub fn json0(v: u64, data: Value) -> Self {
        Self {
            v,
            doc_type: Some(json0::URI.to_owned()),
            data: Some(DocData::new(data)),
        }
    }

    /// The data, if the document exists.
    pub fn value(&self) -> Option<&Value> {
        self.data.as_deref()
    }

    /// The data to change in place, e.g. in a `readSnapshots` middleware
    /// that hides a field; copied first if anyone else shares it.
    ///
    /// ```
    /// use peloton::protocol::Snapshot;
    /// use serde_json::json;
    ///
    /// let stored = Snapshot::json0(1, json!({"title": "a", "secret": "s"}));
    /// let mut sent = stored.clone(); // shares the data
    /// if let Some(data) = sent.value_mut().and_then(|d| d.as_object_mut()) {
    ///     data.remove("secret");
    /// }
    /// assert_eq!(sent.value(), Some(&json!({"title": "a"})));
    /// assert_eq!(stored.value(), Some(&json!({"title": "a", "secret": "s"})));
    /// ```
    pub fn value_mut(&mut self) -> Option<&mut Value> {
        self.data.as_mut().map(DocData::make_mut)
    }

    /// Whether the document exists (was created and not deleted).
    pub fn exists(&self) -> bool {
        self.doc_type.is_some()
    }

    /// Writes this snapshot's wire fields into a map serde_json is
    /// writing; `id` adds the `d` field of query results.
    pub(crate) fn serialize_fields<M: SerializeMap>(
        &self,
        map: &mut M,
        id: Option<&str>,
    ) -> Result<(), M::Error> {
        self.wire().serialize_fields(map, id, true)
    }

    /// This snapshot as a wire message writes it: its data from its
    /// cached JSON text, so for serde_json only.
    pub(crate) fn wire(&self) -> SnapshotRef<'_> {
        SnapshotRef {
            v: self.v,
            doc_type: self.doc_type.as_deref(),
            data: self.data.as_ref(),
        }
    }

    /// Builds a snapshot from wire fields: a missing type means json0,
    /// a null type a document that does not exist.
    pub(crate) fn from_wire(v: u64, doc_type: Option<Option<String>>, data: Option<Value>) -> Self {
        let data = data.map(DocData::new);
        match doc_type {
            Some(None) => Self::nonexistent(v),
            Some(Some(ty)) => Self {
                v,
                doc_type: Some(normalize_type(ty)),
                data,
            },
            None => Self {
                v,
                doc_type: Some(json0::URI.to_owned()),
                data,
            },
        }
    }
}

/// A snapshot's parts, borrowed from whoever holds them: serialized as a
/// [`Snapshot`] is, without copying the data first, and (as `Serialize`)
/// from the data's cached JSON text: for the wire and bundles, which
/// serde_json writes.
pub(crate) struct SnapshotRef<'a> {
    pub v: u64,
    pub doc_type: Option<&'a str>,
    pub data: Option<&'a DocData>,
}

impl SnapshotRef<'_> {
    /// `cached`: the data from its JSON text (serde_json only), else as
    /// the value, for any serializer.
    fn serialize_fields<M: SerializeMap>(
        &self,
        map: &mut M,
        id: Option<&str>,
        cached: bool,
    ) -> Result<(), M::Error> {
        if let Some(id) = id {
            map.serialize_entry("d", id)?;
        }
        map.serialize_entry("v", &self.v)?;
        match self.doc_type {
            None => map.serialize_entry("type", &Value::Null)?,
            Some(ty) => {
                if cached {
                    map.serialize_entry("data", &self.data.map(DocData::as_json))?;
                } else {
                    map.serialize_entry("data", &self.data)?;
                }
                if !is_json0(ty) {
                    map.serialize_entry("type", ty)?;
                }
            }
        }
        Ok(())
    }
}

impl Serialize for SnapshotRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.serialize_fields(&mut map, None, true)?;
        map.end()
    }
}

/// ShareDB's wire form, `{v, data, type?}`, with any serializer.
impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.wire().serialize_fields(&mut map, None, false)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            v: u64,
            #[serde(default, rename = "type", deserialize_with = "super::wire::present")]
            doc_type: Option<Option<String>>,
            #[serde(default)]
            data: Option<Value>,
        }
        let wire = Wire::deserialize(deserializer)?;
        Ok(Self::from_wire(wire.v, wire.doc_type, wire.data))
    }
}

/// Whether a type name or URI means json0 (ShareDB accepts both).
pub fn is_json0(doc_type: &str) -> bool {
    doc_type == json0::URI || doc_type == "json0"
}

/// The URI of a type given by name or URI (`"json0"` → json0's URI).
pub fn normalize_type(doc_type: String) -> String {
    if doc_type == "json0" {
        json0::URI.to_owned()
    } else {
        doc_type
    }
}

/// What an op does to its document.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// Creates the document with a type and initial data (`create` on the wire).
    Create(CreateData),
    /// Edits the document with a json0 op (`op` on the wire).
    Edit(json0::Op),
    /// Deletes the document (`del: true` on the wire).
    Delete,
}

impl OpKind {
    /// Writes the op's body (`op`, `create` or `del`) into a map.
    pub(crate) fn serialize_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        match self {
            Self::Create(create) => map.serialize_entry("create", create),
            Self::Edit(op) => map.serialize_entry("op", op),
            Self::Delete => map.serialize_entry("del", &true),
        }
    }
}

/// The body of a create op: `{"type": uri, "data": …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateData {
    /// The new document's type (a URI, or `"json0"`).
    #[serde(rename = "type")]
    pub doc_type: String,
    /// The initial data, given to the type's `create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// An op with its envelope: which document, at which version, from whom.
///
/// This is what the backend commits, publishes on pub/sub and sends to
/// subscribers. On the wire (and on ShareDB's pub/sub channels) it is
/// `{c, d, v, src, seq, op | create | del}`.
#[derive(Clone, Debug, PartialEq)]
pub struct DocOp {
    /// The document's collection.
    pub c: String,
    /// The document's id.
    pub d: String,
    /// The version the op applies to; after it the document is at `v + 1`.
    pub v: u64,
    /// The id of the connection that made the op (its `src`), if any.
    pub src: Option<String>,
    /// The op's sequence number on that connection.
    pub seq: Option<u64>,
    /// What the op does.
    pub kind: OpKind,
    /// Metadata kept with the op in the journal; never sent to clients.
    pub m: OpMeta,
    /// The op's wire message, serialized once for all its recipients.
    wire: WireCache,
}

/// A lazily serialized wire message. Clones start empty (a clone may be
/// changed), and it takes no part in equality.
#[derive(Default)]
struct WireCache(std::sync::OnceLock<bytes::Bytes>);

impl Clone for WireCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for WireCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for WireCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

/// Metadata stored with a committed op.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpMeta {
    /// When the op was committed, in milliseconds since the Unix epoch.
    pub ts: Option<f64>,
    /// For a delete: the data the document had before it.
    pub data: Option<Value>,
}

impl DocOp {
    /// An op on `c.d` at version `v`, from no particular client.
    pub fn new(c: impl Into<String>, d: impl Into<String>, v: u64, kind: OpKind) -> Self {
        Self {
            c: c.into(),
            d: d.into(),
            v,
            src: None,
            seq: None,
            kind,
            m: OpMeta::default(),
            wire: WireCache::default(),
        }
    }

    /// The same op, made by client `src` as its op number `seq`.
    pub fn with_source(mut self, src: impl Into<String>, seq: u64) -> Self {
        self.src = Some(src.into());
        self.seq = Some(seq);
        self
    }

    /// The same op, with journal metadata.
    pub fn with_meta(mut self, m: OpMeta) -> Self {
        self.m = m;
        self
    }

    /// Drops the serialized wire message, after a change to the op.
    #[cfg(feature = "ssr")]
    pub(crate) fn forget_wire_json(&mut self) {
        self.wire = WireCache::default();
    }

    /// The op as a wire message (`{"a": "op", …}`), serialized once and
    /// kept: every subscriber of a document gets the same bytes (a clone
    /// shares them), which are UTF-8 JSON.
    pub fn wire_bytes(&self) -> bytes::Bytes {
        self.wire
            .0
            .get_or_init(|| {
                let mut out = Vec::with_capacity(128);
                let mut serializer = serde_json::Serializer::new(&mut out);
                // Serializing into a Vec cannot fail, and yields UTF-8.
                let _ = self.serialize_with(&mut serializer, true);
                bytes::Bytes::from(out)
            })
            .clone()
    }

    /// [`DocOp::wire_bytes`] as text.
    pub fn wire_json(&self) -> String {
        String::from_utf8_lossy(&self.wire_bytes()).into_owned()
    }

    /// Serializes the op as a wire message (with `"a": "op"`) when
    /// `action` is set, otherwise as a pub/sub message.
    pub(crate) fn serialize_with<S: Serializer>(
        &self,
        serializer: S,
        action: bool,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if action {
            map.serialize_entry("a", "op")?;
        }
        map.serialize_entry("c", &self.c)?;
        map.serialize_entry("d", &self.d)?;
        map.serialize_entry("v", &self.v)?;
        if let Some(src) = &self.src {
            map.serialize_entry("src", src)?;
        }
        if let Some(seq) = &self.seq {
            map.serialize_entry("seq", seq)?;
        }
        self.kind.serialize_fields(&mut map)?;
        map.end()
    }
}

/// The pub/sub form of an op: `{c, d, v, src, seq, op | create | del}`,
/// without metadata, as sharedb-redis-pubsub publishes it.
impl Serialize for DocOp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.serialize_with(serializer, false)
    }
}

impl<'de> Deserialize<'de> for DocOp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut wire = super::wire::Wire::deserialize(deserializer)?;
        let kind = wire.take_op_kind().map_err(D::Error::custom)?;
        let (Some(c), Some(d), Some(v)) = (wire.c, wire.d, wire.v) else {
            return Err(D::Error::custom("an op needs c, d and v"));
        };
        let mut op = Self::new(c, d, v, kind);
        op.src = wire.src;
        op.seq = wire.seq;
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snapshot_wire_forms() {
        let s = Snapshot::json0(1, json!({"k": "fruit"}));
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"v": 1, "data": {"k": "fruit"}})
        );
        assert_eq!(
            serde_json::to_value(Snapshot::nonexistent(0)).unwrap(),
            json!({"v": 0, "type": null})
        );
        let back: Snapshot =
            serde_json::from_value(json!({"v": 1, "data": {"k": "fruit"}})).unwrap();
        assert_eq!(back, s);
        let missing: Snapshot = serde_json::from_value(json!({"v": 3, "type": null})).unwrap();
        assert!(!missing.exists());
        let named: Snapshot =
            serde_json::from_value(json!({"v": 3, "type": "json0", "data": 1})).unwrap();
        assert_eq!(named.doc_type.as_deref(), Some(json0::URI));
    }

    #[test]
    fn doc_op_pubsub_form() {
        let op = DocOp::new("todos", "a", 3, OpKind::Delete).with_source("s1", 7);
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(
            json,
            json!({"c": "todos", "d": "a", "v": 3, "src": "s1", "seq": 7, "del": true})
        );
        assert_eq!(serde_json::from_value::<DocOp>(json).unwrap(), op);
    }
}

/// One version in a document's history (`hv`): the version an op produced,
/// when, by whom, and what kind of op it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The version the op produced (the op applied at `v - 1`).
    pub v: u64,
    /// When it was committed, in ms since the Unix epoch, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<f64>,
    /// The id of the connection that made it, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Whether it created, edited or deleted the document.
    pub kind: VersionKind,
}

/// What an op in a document's history did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionKind {
    /// Created the document.
    Create,
    /// Edited it.
    Edit,
    /// Deleted it.
    Delete,
}

impl VersionInfo {
    /// What `op` made of its document.
    pub fn of(op: &DocOp) -> Self {
        Self {
            v: op.v + 1,
            ts: op.m.ts,
            src: op.src.clone(),
            kind: match op.kind {
                OpKind::Create(_) => VersionKind::Create,
                OpKind::Edit(_) => VersionKind::Edit,
                OpKind::Delete => VersionKind::Delete,
            },
        }
    }
}
