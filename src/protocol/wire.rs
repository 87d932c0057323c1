//! The flat shape every ShareDB message shares.
//!
//! ShareDB's messages are JSON objects told apart by their `a` field, with a
//! small vocabulary of other fields (`c`, `d`, `v`, `op`, …) whose meaning
//! depends on `a`. Deserializing into this one flat struct reads a message in
//! a single pass (serde's internally tagged enums buffer the whole message
//! first); the typed messages are then built from it.
//!
//! This module owns reading the shared fields only; which fields each action
//! needs, and writing messages back, are `client_message`'s and
//! `server_message`'s.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ErrorCode, ErrorObject};
use super::snapshot::{CreateData, OpKind};
use crate::ot::json0;

/// Every field of every message, as optional values.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Wire {
    pub a: Option<String>,
    pub id: Option<Id>,
    pub c: Option<String>,
    pub d: Option<String>,
    pub v: Option<u64>,
    pub b: Option<Bulk>,
    pub q: Option<Value>,
    pub o: Option<Value>,
    pub r: Option<Vec<(String, Option<u64>)>>,
    pub src: Option<String>,
    pub seq: Option<u64>,
    /// `Some(None)`: `"op": null`.
    #[serde(deserialize_with = "present")]
    pub op: Option<Option<json0::Op>>,
    pub create: Option<CreateData>,
    pub del: Option<bool>,
    pub x: Option<Value>,
    pub ts: Option<f64>,
    /// `hv`: the end of the versions asked for.
    pub to: Option<u64>,
    /// `hv`: the versions listed.
    pub versions: Option<Vec<super::VersionInfo>>,
    pub ch: Option<String>,
    #[serde(deserialize_with = "present")]
    pub p: Option<Value>,
    pub pv: Option<u64>,
    pub t: Option<String>,
    #[serde(deserialize_with = "protocol_version")]
    pub protocol: Option<u64>,
    #[serde(rename = "protocolMinor", deserialize_with = "protocol_version")]
    pub protocol_minor: Option<u64>,
    #[serde(rename = "type", deserialize_with = "present")]
    pub doc_type: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    pub data: Option<Value>,
    pub error: Option<ErrorObject>,
    pub diff: Option<Value>,
    #[serde(deserialize_with = "present")]
    pub extra: Option<Value>,
}

impl Wire {
    /// The op body, moved out: exactly one of `op`, `create` and `del: true`.
    pub fn take_op_kind(&mut self) -> Result<OpKind, ErrorObject> {
        match (self.op.take(), self.create.take(), self.del) {
            (Some(Some(op)), None, None | Some(false)) => Ok(OpKind::Edit(op)),
            // ShareDB takes `"op": null` for an edit, which no type applies.
            (Some(None), None, None | Some(false)) => Err(ErrorObject::new(
                ErrorCode::OtOpBadlyFormed,
                "Invalid op: `op` is null; a json0 op is a list of components",
            )),
            (None, Some(create), None | Some(false)) => Ok(OpKind::Create(create)),
            (None, None, Some(true)) => Ok(OpKind::Delete),
            (None, None, _) => Err(ErrorObject::badly_formed(
                "Invalid op message: Missing op, create, or del",
            )),
            _ => Err(ErrorObject::badly_formed(
                "Invalid op message: Only one of op, create, or del may be given",
            )),
        }
    }
}

/// Deserializes a field that may be `null`, keeping "present and null"
/// (`Some(Value::Null)` / `Some(None)`) apart from "absent" (`None`, via
/// `#[serde(default)]`).
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Deserializes a handshake's protocol version as ShareDB accepts it: a
/// number, a string (`"1"`) or null. A version that is not a whole number
/// (`"beta"`, `1.5`) reads as absent: the server only ever answers with its
/// own. Anything else (a list, an object, a boolean) is an error.
pub(crate) fn protocol_version<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    struct VersionVisitor;
    impl<'de> Visitor<'de> for VersionVisitor {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a protocol version: a number or a string")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(v).ok())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // `as` saturates: a version past u64::MAX is not one to answer.
            Ok((v.fract() == 0.0 && v >= 0.0).then_some(v as u64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.trim().parse().ok())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    deserializer.deserialize_any(VersionVisitor)
}

/// The `id` field: a string in handshakes and presence, a number for
/// queries and snapshot requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum Id {
    Number(u64),
    String(String),
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a non-negative integer or a string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                Ok(Id::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Id, E> {
                Ok(Id::String(v))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// The `b` field of bulk requests: doc ids, or a map from id to the
/// version the client has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bulk {
    /// `["a", "b"]`: fetch or subscribe from the current snapshot.
    Ids(Vec<String>),
    /// `{"a": 3}`: the client has these versions; send the ops since.
    Versions(Vec<(String, u64)>),
}

impl Bulk {
    /// The document ids, in order.
    pub fn ids(&self) -> Vec<&str> {
        match self {
            Self::Ids(ids) => ids.iter().map(String::as_str).collect(),
            Self::Versions(versions) => versions.iter().map(|(id, _)| id.as_str()).collect(),
        }
    }
}

impl Serialize for Bulk {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Self::Ids(ids) => ids.serialize(serializer),
            Self::Versions(versions) => {
                let mut map = serializer.serialize_map(Some(versions.len()))?;
                for (id, v) in versions {
                    map.serialize_entry(id, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Bulk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BulkVisitor;
        impl<'de> Visitor<'de> for BulkVisitor {
            type Value = Bulk;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of ids or a map from id to version")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bulk, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<String>()? {
                    ids.push(id);
                }
                Ok(Bulk::Ids(ids))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bulk, A::Error> {
                let mut versions = Vec::new();
                while let Some((id, v)) = map.next_entry::<String, u64>()? {
                    versions.push((id, v));
                }
                Ok(Bulk::Versions(versions))
            }
        }
        deserializer.deserialize_any(BulkVisitor)
    }
}
