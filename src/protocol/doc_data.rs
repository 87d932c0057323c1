//! A document's data, shared instead of copied.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::ot::json0::{self, Document, Op};

/// A document's JSON data, shared by everyone who holds the same version:
/// the database's cache, the messages that carry it, a client's copy.
///
/// Cloning is a reference count; whoever edits it copies it first
/// ([`DocData::apply`] for a json0 op, [`DocData::make_mut`] for any
/// other change), so the others keep what they had. Its JSON text is
/// worked out once, the first time a message or a page's bundle needs it,
/// and shared too: a hundred page renders of one unchanged document
/// serialize it once. Ops go through a [`Document`], which remembers where
/// its long strings were last edited so that the next edit nearby is
/// cheap; `make_mut` forgets those places.
///
/// It reads as a [`Value`]:
///
/// ```
/// use peloton::protocol::DocData;
/// use serde_json::json;
///
/// let stored = DocData::from(json!({"title": "Groceries", "n": 1}));
/// let mut mine = stored.clone(); // no copy yet
/// assert_eq!(mine["title"], "Groceries");
///
/// mine.make_mut()["n"] = json!(2); // copied here, `stored` is untouched
/// assert_eq!(stored["n"], 1);
///
/// let op = serde_json::from_value(json!([{"p": ["title", 9], "si": "!"}]))?;
/// mine.apply(&op)?;
/// assert_eq!(mine.into_value(), json!({"title": "Groceries!", "n": 2}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct DocData(Arc<Shared>);

#[derive(Default)]
struct Shared {
    /// The value, with where its strings were last edited.
    doc: Document,
    /// The compact JSON of the value, once asked for.
    json: OnceLock<Box<RawValue>>,
}

impl Clone for Shared {
    /// A copy is made to be edited: its JSON starts unknown.
    fn clone(&self) -> Self {
        Self {
            doc: self.doc.clone(),
            json: OnceLock::new(),
        }
    }
}

impl DocData {
    /// Shares `value`.
    pub fn new(value: Value) -> Self {
        Self(Arc::new(Shared {
            doc: Document::new(value),
            json: OnceLock::new(),
        }))
    }

    /// The data, to edit in place: copied first if anyone else holds it.
    pub fn make_mut(&mut self) -> &mut Value {
        let shared = Arc::make_mut(&mut self.0);
        // It is about to change.
        shared.json.take();
        shared.doc.value_mut()
    }

    /// Applies a json0 op, as [`json0::apply`](crate::ot::json0::apply)
    /// does (on error the data is unchanged), copying the data first if
    /// anyone else holds it. A string edit near an earlier one finds its
    /// place from there, not from the string's start (see [`Document`]).
    pub fn apply(&mut self, op: &Op) -> Result<(), json0::Error> {
        let shared = Arc::make_mut(&mut self.0);
        shared.doc.apply(op)?;
        shared.json.take();
        Ok(())
    }

    /// The data as an owned value: moved out if no one else holds it,
    /// copied otherwise.
    pub fn into_value(self) -> Value {
        match Arc::try_unwrap(self.0) {
            Ok(shared) => shared.doc.into_value(),
            Err(shared) => shared.doc.value().clone(),
        }
    }

    /// The compact JSON text, worked out on the first call.
    pub(crate) fn json(&self) -> &RawValue {
        self.0.json.get_or_init(|| {
            serde_json::value::to_raw_value(self.0.doc.value())
                // A `Value` always serializes; keep a valid document anyway.
                .unwrap_or_else(|_| RawValue::NULL.to_owned())
        })
    }

    /// Serializes as its cached JSON text. Only for serde_json's
    /// serializers (the wire and bundles): others would see the
    /// `RawValue` marker instead of the data.
    pub(crate) fn as_json(&self) -> AsJson<'_> {
        AsJson(self)
    }
}

/// [`DocData`] written from its cached JSON text.
pub(crate) struct AsJson<'a>(&'a DocData);

impl Serialize for AsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.json().serialize(serializer)
    }
}

impl Deref for DocData {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.0.doc.value()
    }
}

impl AsRef<Value> for DocData {
    fn as_ref(&self) -> &Value {
        self
    }
}

impl From<Value> for DocData {
    fn from(value: Value) -> Self {
        Self::new(value)
    }
}

impl From<DocData> for Value {
    fn from(data: DocData) -> Self {
        data.into_value()
    }
}

impl PartialEq for DocData {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.doc.value() == other.0.doc.value()
    }
}

impl PartialEq<Value> for DocData {
    fn eq(&self, other: &Value) -> bool {
        *self.0.doc.value() == *other
    }
}

impl fmt::Debug for DocData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.doc.value().fmt(f)
    }
}

impl Serialize for DocData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.doc.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DocData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_edit_forgets_the_cached_json_and_leaves_other_holders_alone() {
        let stored = DocData::from(json!({"n": 1}));
        assert_eq!(stored.json().get(), r#"{"n":1}"#);
        let mut edited = stored.clone();
        edited.make_mut()["n"] = json!(2);
        assert_eq!(edited.json().get(), r#"{"n":2}"#);
        assert_eq!(stored.json().get(), r#"{"n":1}"#);

        // Edited in place when no one else holds it: the cache goes too.
        let mut only = DocData::from(json!([1]));
        assert_eq!(only.json().get(), "[1]");
        only.make_mut()
            .as_array_mut()
            .expect("an array")
            .push(json!(2));
        assert_eq!(only.json().get(), "[1,2]");
    }

    #[test]
    fn the_cached_json_is_what_serde_json_writes() {
        let data = DocData::from(json!({"s": "a\"</script>", "u": "é😀", "f": 1.5}));
        let plain = serde_json::to_string(&*data).expect("serializes");
        assert_eq!(serde_json::to_string(&data.as_json()).expect("raw"), plain);
        assert_eq!(serde_json::to_string(&data).expect("plain"), plain);
        // serde_json's value serializer reads the raw text back.
        assert_eq!(serde_json::to_value(data.as_json()).expect("value"), *data);
    }
}
