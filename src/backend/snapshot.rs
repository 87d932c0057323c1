//! A document as the backend keeps it.

use serde_json::{Map, Value};

use crate::protocol;

/// A document at a version, with its id and metadata.
///
/// This is what a [`Db`](super::Db) stores and returns. Clients see the
/// [wire form](protocol::Snapshot), without `id` and `m`.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The document's id.
    pub id: String,
    /// How many ops the document has seen (0: never created).
    pub v: u64,
    /// The type's URI; `None` if the document does not exist (never created
    /// or deleted).
    pub doc_type: Option<String>,
    /// The data; `None` if the document does not exist.
    pub data: Option<Value>,
    /// Metadata: `ctime` and `mtime` (ms since the epoch), `_create` (the
    /// `src`, `seq` and `v` of the op that created the document), and
    /// whatever middleware adds. sharedb-mongo stores it as `_m`.
    pub m: Map<String, Value>,
    /// The database's link to the op that produced this version, for
    /// databases that chain their ops (sharedb-mongo's `_o`); `None`
    /// elsewhere. A commit links its op to it.
    pub op_link: Option<String>,
}

impl Snapshot {
    /// A document that was never created.
    pub fn missing(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            v: 0,
            doc_type: None,
            data: None,
            m: Map::new(),
            op_link: None,
        }
    }

    /// Whether the document exists.
    pub fn exists(&self) -> bool {
        self.doc_type.is_some()
    }

    /// The wire form, for clients.
    pub fn to_wire(&self) -> protocol::Snapshot {
        protocol::Snapshot {
            v: self.v,
            doc_type: self.doc_type.clone(),
            data: self.data.clone(),
        }
    }

    /// The wire form, consuming the snapshot (no copy of the data).
    pub fn into_wire(self) -> protocol::Snapshot {
        protocol::Snapshot {
            v: self.v,
            doc_type: self.doc_type,
            data: self.data,
        }
    }
}
