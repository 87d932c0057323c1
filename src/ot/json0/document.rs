//! A json0 document that remembers where its strings were edited.
//!
//! Ops count string offsets in UTF-16 code units, and a Rust string is
//! UTF-8: finding an offset's byte means counting from somewhere known.
//! [`apply`](super::apply) counts from the string's start, so an edit
//! costs the length of the string before it. A [`Document`] keeps a
//! [`TextIndex`] beside its value: for each string recently edited, a few
//! places whose offsets are known (where each user's last edit ended),
//! shifted by every edit. The next edit near one of them counts from
//! there: typing into a long note costs the distance to the last keystroke,
//! not the note's length.
//!
//! This module owns the index and when it is forgotten; the counting is
//! `utf16`'s, and the edits are `apply`'s.

use serde_json::Value;

use super::apply::apply_indexed;
use super::error::Error;
use super::op::{Action, Component, Op, PathSegment};
use crate::ot::utf16::Marks;

/// A JSON document to apply json0 ops to, many in a row, that keeps an
/// index of where its strings were last edited.
///
/// It applies ops exactly as [`apply`](super::apply) does, with the same
/// results and errors; only faster when edits follow each other in long
/// strings. The value can be read at any time; editing it other than by
/// [`Document::apply`] ([`Document::value_mut`]) forgets the index.
///
/// ```
/// use peloton::ot::json0::{Component, Document, Op};
/// use serde_json::json;
///
/// let mut doc = Document::new(json!({"note": "Hello 👋"}));
/// for (at, ch) in [(8, "!"), (9, "!")] {
///     doc.apply(&Op::from(Component::string_insert(["note"], at, ch)))?;
/// }
/// assert_eq!(doc.value(), &json!({"note": "Hello 👋!!"}));
/// # Ok::<(), peloton::ot::json0::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Document {
    value: Value,
    index: TextIndex,
}

impl Document {
    /// A document holding `value`, with nothing indexed yet.
    pub fn new(value: Value) -> Self {
        Self {
            value,
            index: TextIndex::default(),
        }
    }

    /// Applies `op`, as [`apply`](super::apply) does: on error the value is
    /// unchanged.
    pub fn apply(&mut self, op: &Op) -> Result<(), Error> {
        apply_indexed(&mut self.value, op, Some(&mut self.index))
    }

    /// The value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The value, to edit other than by an op: the index is forgotten.
    pub fn value_mut(&mut self) -> &mut Value {
        self.index.clear();
        &mut self.value
    }

    /// The value, owned.
    pub fn into_value(self) -> Value {
        self.value
    }
}

impl From<Value> for Document {
    fn from(value: Value) -> Self {
        Self::new(value)
    }
}

impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

/// The strings of a document recently edited, each with its [`Marks`].
///
/// Only right while every change to the document goes through
/// [`apply_indexed`] with it: each component first drops the strings it
/// may move or replace ([`TextIndex::before`]), and a failed op empties it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextIndex {
    strings: Vec<(Vec<PathSegment>, Marks)>,
}

/// Strings indexed at once; the least recently edited goes first.
const STRINGS: usize = 8;

/// Strings shorter than this (in bytes) are not indexed: scanning them
/// costs less than keeping their marks.
const LONG: usize = 256;

impl TextIndex {
    /// The marks of `text`, the string at `path` (made empty if it has
    /// none), or `None` if it is too short to need any: a short string is
    /// scanned from its start, and forgotten here so that marks never miss
    /// an edit.
    pub(crate) fn marks(&mut self, path: &[PathSegment], text: &str) -> Option<&mut Marks> {
        let found = self.strings.iter().rposition(|(p, _)| p == path);
        if text.len() < LONG {
            if let Some(at) = found {
                self.strings.remove(at);
            }
            return None;
        }
        // The most recently edited is last: most edits follow one there.
        match found {
            Some(at) if at + 1 == self.strings.len() => {}
            Some(at) => self.strings[at..].rotate_left(1),
            None => {
                if self.strings.len() == STRINGS {
                    self.strings.remove(0);
                }
                self.strings.push((path.to_vec(), Marks::default()));
            }
        }
        self.strings.last_mut().map(|(_, marks)| marks)
    }

    /// Forgets the strings `c` may move, replace or remove: everything in
    /// the list it changes (indexes shift), or under the key it sets or
    /// deletes. String edits keep their own string's marks up to date, and
    /// numbers move nothing.
    pub(crate) fn before(&mut self, c: &Component) {
        let affected = match &c.action {
            Action::NumberAdd(_)
            | Action::StringInsert(_)
            | Action::StringDelete(_)
            | Action::Text0(_) => return,
            Action::ListInsert(_)
            | Action::ListDelete(_)
            | Action::ListReplace { .. }
            | Action::ListMove(_) => c.p.split_last().map_or(&c.p[..], |(_, list)| list),
            Action::ObjectInsert(_) | Action::ObjectDelete(_) | Action::ObjectReplace { .. } => {
                &c.p[..]
            }
        };
        self.strings.retain(|(path, _)| !path.starts_with(affected));
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.strings.clear();
    }
}
