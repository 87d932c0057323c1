//! text0 ops and their JSON form: `[{"p": 3, "i": "abc"}, {"p": 0, "d": "x"}]`.
//!
//! This module owns the types and their JSON form only; what an op does to a
//! string is `apply`'s, and reading offsets and component lists is shared
//! through `serde_util`.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::ot::serde_util::{self, Offset};

/// A text0 op: components applied in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Op(pub Vec<Component>);

/// One edit: `action` at UTF-16 offset `p` of the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The offset, in UTF-16 code units.
    pub p: usize,
    /// The insert or delete.
    pub action: Action,
}

/// What a component does at its offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `i`: insert this text.
    Insert(String),
    /// `d`: delete this text, which must be the text at the offset.
    Delete(String),
}

/// A component's action with its text borrowed: what moving an offset past
/// an edit needs, without copying the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edit<'a> {
    Insert(&'a str),
    Delete(&'a str),
}

impl Op {
    /// An op made of `components`.
    pub fn new(components: Vec<Component>) -> Self {
        Op(components)
    }

    /// True if the op has no components.
    pub fn is_noop(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<Component>> for Op {
    fn from(components: Vec<Component>) -> Self {
        Op(components)
    }
}

impl Component {
    /// Inserts `text` at UTF-16 offset `p`.
    pub fn insert(p: usize, text: impl Into<String>) -> Self {
        Component {
            p,
            action: Action::Insert(text.into()),
        }
    }

    /// Deletes `text`, which starts at UTF-16 offset `p`.
    pub fn delete(p: usize, text: impl Into<String>) -> Self {
        Component {
            p,
            action: Action::Delete(text.into()),
        }
    }

    /// The component doing `edit` at offset `p`, with its text copied.
    pub(crate) fn from_edit(p: usize, edit: Edit<'_>) -> Self {
        match edit {
            Edit::Insert(t) => Self::insert(p, t),
            Edit::Delete(t) => Self::delete(p, t),
        }
    }

    /// The edit, its text borrowed.
    pub(crate) fn edit(&self) -> Edit<'_> {
        match &self.action {
            Action::Insert(t) => Edit::Insert(t),
            Action::Delete(t) => Edit::Delete(t),
        }
    }

    /// The inserted or deleted text.
    pub fn text(&self) -> &str {
        match &self.action {
            Action::Insert(t) | Action::Delete(t) => t,
        }
    }

    /// The inverse edit: an insert becomes a delete of the same text, and back.
    pub fn invert(&self) -> Self {
        let action = match &self.action {
            Action::Insert(t) => Action::Delete(t.clone()),
            Action::Delete(t) => Action::Insert(t.clone()),
        };
        Component { p: self.p, action }
    }
}

impl Serialize for Component {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("p", &self.p)?;
        match &self.action {
            Action::Insert(t) => map.serialize_entry("i", t)?,
            Action::Delete(t) => map.serialize_entry("d", t)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Component {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ComponentVisitor)
    }
}

struct ComponentVisitor;

impl<'de> Visitor<'de> for ComponentVisitor {
    type Value = Component;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a text0 component, {"p": offset, "i": text} or {"p": offset, "d": text}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Component, A::Error> {
        let mut p = None;
        let mut action = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "p" if p.is_none() => p = Some(map.next_value::<Offset>()?.0),
                "i" | "d" if action.is_none() => {
                    let text = map.next_value::<String>()?;
                    action = Some(if key == "i" {
                        Action::Insert(text)
                    } else {
                        Action::Delete(text)
                    });
                }
                "p" => return Err(de::Error::custom("text0 component has `p` twice")),
                "i" | "d" => return Err(de::Error::custom("text0 component has both `i` and `d`")),
                _ => {
                    return Err(de::Error::custom(format_args!(
                        "unknown key `{key}` in text0 component (expected `p` and one of `i`, `d`)"
                    )));
                }
            }
        }
        let p = p.ok_or_else(|| de::Error::custom("text0 component is missing its offset `p`"))?;
        let action = action.ok_or_else(|| {
            de::Error::custom("text0 component needs `i` (insert) or `d` (delete)")
        })?;
        Ok(Component { p, action })
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OpVisitor;
        impl<'de> Visitor<'de> for OpVisitor {
            type Value = Op;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text0 op (an array of components)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Op, A::Error> {
                serde_util::components(seq).map(Op)
            }
        }
        deserializer.deserialize_seq(OpVisitor)
    }
}
