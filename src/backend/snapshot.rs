//! A document as the backend keeps it: the wire snapshot plus what only the
//! server sees.

use std::ops::{Deref, DerefMut};

use serde_json::{Map, Value};

use crate::protocol::Snapshot;

/// A document at a version as a [`Db`](super::Db) stores it: its
/// [wire snapshot](Snapshot) (version, type, data), plus the id, the
/// metadata and the database's op link, which clients never see.
///
/// It reads as its wire snapshot (`stored.v`, `stored.data`), so code that
/// only needs those fields does not care which of the two it holds.
///
/// ```
/// use peloton::backend::StoredSnapshot;
/// use peloton::protocol::Snapshot;
/// use serde_json::json;
///
/// let fresh = StoredSnapshot::never_created("n1");
/// assert_eq!((fresh.v, fresh.exists()), (0, false));
///
/// let note = StoredSnapshot::new("n1", Snapshot::json0(3, json!({"text": "hi"})));
/// assert_eq!(note.v, 3);
/// assert_eq!(note.into_wire(), Snapshot::json0(3, json!({"text": "hi"})));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSnapshot {
    /// The document's id.
    pub id: String,
    /// What clients see: the version (0: never created), the type's URI and
    /// the data (`None` for both while the document does not exist).
    pub wire: Snapshot,
    /// Metadata: `ctime` and `mtime` (ms since the epoch), `_create` (the
    /// `src`, `seq` and `v` of the op that created the document), and
    /// whatever middleware adds. sharedb-mongo stores it as `_m`.
    pub m: Map<String, Value>,
    /// The database's link to the op that produced this version, for
    /// databases that chain their ops (sharedb-mongo's `_o`); `None`
    /// elsewhere. A commit links its op to it.
    pub op_link: Option<String>,
}

impl StoredSnapshot {
    /// `id` at `wire`'s version, with no metadata yet.
    pub fn new(id: impl Into<String>, wire: Snapshot) -> Self {
        Self {
            id: id.into(),
            wire,
            m: Map::new(),
            op_link: None,
        }
    }

    /// A document that was never created: version 0, no type, no data.
    pub fn never_created(id: impl Into<String>) -> Self {
        Self::new(id, Snapshot::nonexistent(0))
    }

    /// The wire form, for clients.
    pub fn to_wire(&self) -> Snapshot {
        self.wire.clone()
    }

    /// The wire form, consuming the snapshot (no copy of the data).
    pub fn into_wire(self) -> Snapshot {
        self.wire
    }
}

impl Deref for StoredSnapshot {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.wire
    }
}

impl DerefMut for StoredSnapshot {
    fn deref_mut(&mut self) -> &mut Snapshot {
        &mut self.wire
    }
}
