//! json0 ops as Rust types.
//!
//! This module owns the types, their constructors and the questions ot-json0
//! asks of a component; their JSON form is `serde_impl`'s, and what they do to
//! a document is `apply`'s.

use std::fmt;

use serde_json::Value;

use crate::ot::text0;

/// A json0 op: components applied in order, each against the document the
/// ones before it left.
///
/// Its JSON form is json0's: an array of components, `[{"p": [...], "li": ...}]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Op(pub Vec<Component>);

/// One edit at one place in the document.
///
/// JSON form: `{"p": [path...], <action keys>}`, for example
/// `{"p": ["todos", 0], "li": {"title": "milk"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// Where the edit happens. For list and object edits the last segment is
    /// the index or key edited; for legacy `si`/`sd` it is the string offset.
    pub p: Path,
    /// What the edit does.
    pub action: Action,
}

/// A path from the document root: object keys and list indexes.
pub type Path = Vec<PathSegment>;

/// One step of a [`Path`]. JSON form: a number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// A list index (or, last in a legacy `si`/`sd` path, a string offset).
    Index(usize),
    /// An object key.
    Key(String),
}

/// What a component does; the names in brackets are json0's JSON keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `na`: add to the number at the path.
    NumberAdd(f64),
    /// `li`: insert into the list before the index.
    ListInsert(Value),
    /// `ld`: delete the list element at the index. Like ot-json0, the value
    /// is not checked against the document; it is what `invert` puts back.
    ListDelete(Value),
    /// `ld` + `li`: replace the list element at the index.
    ListReplace {
        /// The element removed (not checked, as for `ld`).
        ld: Value,
        /// The element put in its place.
        li: Value,
    },
    /// `lm`: move the list element at the index to this index.
    ListMove(usize),
    /// `oi`: set the object key (or, at the root path, the whole document).
    ObjectInsert(Value),
    /// `od`: delete the object key. The value is not checked.
    ObjectDelete(Value),
    /// `od` + `oi`: replace the object key's value.
    ObjectReplace {
        /// The value removed (not checked, as for `od`).
        od: Value,
        /// The value put in its place.
        oi: Value,
    },
    /// `si`: legacy string insert; the path's last segment is the offset.
    StringInsert(String),
    /// `sd`: legacy string delete; the path's last segment is the offset.
    StringDelete(String),
    /// `t: "text0", o: [...]`: a text0 op on the string at the path.
    Text0(text0::Op),
}

impl Op {
    /// An op made of `components`.
    pub fn new(components: Vec<Component>) -> Self {
        Op(components)
    }

    /// True if the op has no components, which is how ShareDB spells "no-op".
    pub fn is_noop(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of components.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if the op has no components.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The components, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Component> {
        self.0.iter()
    }

    /// Adds a component at the end, as is (see [`super::normalize`] to merge).
    pub fn push(&mut self, c: Component) {
        self.0.push(c);
    }
}

impl From<Vec<Component>> for Op {
    fn from(components: Vec<Component>) -> Self {
        Op(components)
    }
}

impl From<Component> for Op {
    fn from(c: Component) -> Self {
        Op(vec![c])
    }
}

impl FromIterator<Component> for Op {
    fn from_iter<I: IntoIterator<Item = Component>>(iter: I) -> Self {
        Op(iter.into_iter().collect())
    }
}

impl IntoIterator for Op {
    type Item = Component;
    type IntoIter = std::vec::IntoIter<Component>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Op {
    type Item = &'a Component;
    type IntoIter = std::slice::Iter<'a, Component>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Constructors, one per kind of component. List and string constructors take
/// the path of the list or string and the index or offset separately.
impl Component {
    /// A component doing `action` at `p`.
    pub fn new(p: impl IntoPath, action: Action) -> Self {
        Component {
            p: p.into_path(),
            action,
        }
    }

    /// `na`: adds `n` to the number at `p`.
    pub fn number_add(p: impl IntoPath, n: f64) -> Self {
        Self::new(p, Action::NumberAdd(n))
    }

    /// `li`: inserts `value` at `index` of the list at `list`.
    pub fn list_insert(list: impl IntoPath, index: usize, value: Value) -> Self {
        Self::new(child(list, index), Action::ListInsert(value))
    }

    /// `ld`: deletes `value`, element `index` of the list at `list`.
    pub fn list_delete(list: impl IntoPath, index: usize, value: Value) -> Self {
        Self::new(child(list, index), Action::ListDelete(value))
    }

    /// `ld`+`li`: replaces element `index` (`old`) of the list at `list` by `new`.
    pub fn list_replace(list: impl IntoPath, index: usize, old: Value, new: Value) -> Self {
        Self::new(child(list, index), Action::ListReplace { ld: old, li: new })
    }

    /// `lm`: moves element `from` of the list at `list` to index `to`.
    pub fn list_move(list: impl IntoPath, from: usize, to: usize) -> Self {
        Self::new(child(list, from), Action::ListMove(to))
    }

    /// `oi`: sets the key at `p` (the whole document if `p` is empty).
    pub fn object_insert(p: impl IntoPath, value: Value) -> Self {
        Self::new(p, Action::ObjectInsert(value))
    }

    /// `od`: deletes the key at `p`, whose value is `value`.
    pub fn object_delete(p: impl IntoPath, value: Value) -> Self {
        Self::new(p, Action::ObjectDelete(value))
    }

    /// `od`+`oi`: replaces the value `old` at `p` by `new`.
    pub fn object_replace(p: impl IntoPath, old: Value, new: Value) -> Self {
        Self::new(p, Action::ObjectReplace { od: old, oi: new })
    }

    /// Legacy `si`: inserts `text` at UTF-16 `offset` of the string at `string`.
    pub fn string_insert(string: impl IntoPath, offset: usize, text: impl Into<String>) -> Self {
        Self::new(child(string, offset), Action::StringInsert(text.into()))
    }

    /// Legacy `sd`: deletes `text` at UTF-16 `offset` of the string at `string`.
    pub fn string_delete(string: impl IntoPath, offset: usize, text: impl Into<String>) -> Self {
        Self::new(child(string, offset), Action::StringDelete(text.into()))
    }

    /// `t: "text0"`: applies the text0 `op` to the string at `p`.
    pub fn text0(p: impl IntoPath, op: impl Into<text0::Op>) -> Self {
        Self::new(p, Action::Text0(op.into()))
    }
}

fn child(parent: impl IntoPath, index: usize) -> Path {
    let mut p = parent.into_path();
    p.push(PathSegment::Index(index));
    p
}

/// Questions ot-json0 asks of a component (`c.li !== undefined` and so on).
impl Action {
    /// Has an `ld` (delete or replace).
    pub(crate) fn has_ld(&self) -> bool {
        matches!(self, Action::ListDelete(_) | Action::ListReplace { .. })
    }

    /// Has an `oi` (insert or replace).
    pub(crate) fn has_oi(&self) -> bool {
        matches!(self, Action::ObjectInsert(_) | Action::ObjectReplace { .. })
    }

    /// Has an `od` (delete or replace).
    pub(crate) fn has_od(&self) -> bool {
        matches!(self, Action::ObjectDelete(_) | Action::ObjectReplace { .. })
    }

    /// Is a legacy `si`/`sd`.
    pub(crate) fn is_legacy_text(&self) -> bool {
        matches!(self, Action::StringInsert(_) | Action::StringDelete(_))
    }

    /// `na` and `t` act on the value at their path, not on a child of its
    /// parent, so json0 counts their path one level deeper.
    pub(crate) fn acts_on_target(&self) -> bool {
        matches!(self, Action::NumberAdd(_) | Action::Text0(_))
    }
}

impl Component {
    /// The path length as json0 compares it (see [`Action::acts_on_target`]).
    pub(crate) fn depth(&self) -> usize {
        self.p.len() + usize::from(self.action.acts_on_target())
    }

    /// A legacy `si`/`sd` as (path of the string, offset, edit), borrowed.
    pub(crate) fn legacy_edit(&self) -> Option<(&[PathSegment], usize, text0::Edit<'_>)> {
        let (PathSegment::Index(offset), string) = self.p.split_last()? else {
            return None;
        };
        let edit = match &self.action {
            Action::StringInsert(t) => text0::Edit::Insert(t),
            Action::StringDelete(t) => text0::Edit::Delete(t),
            _ => return None,
        };
        Some((string, *offset, edit))
    }

    /// A legacy `si`/`sd` as (path of the string, text0 component).
    pub(crate) fn legacy_text(&self) -> Option<(&[PathSegment], text0::Component)> {
        let (string, offset, edit) = self.legacy_edit()?;
        Some((string, text0::Component::from_edit(offset, edit)))
    }

    /// The legacy `si`/`sd` that does text0 component `c` on the string at `string`.
    pub(crate) fn from_legacy_text(string: &[PathSegment], c: text0::Component) -> Self {
        let mut p = string.to_vec();
        p.push(PathSegment::Index(c.p));
        let action = match c.action {
            text0::Action::Insert(t) => Action::StringInsert(t),
            text0::Action::Delete(t) => Action::StringDelete(t),
        };
        Component { p, action }
    }
}

/// Anything that lists path segments: a [`Path`], `["todos", "t1"]`,
/// `vec![PathSegment::Key(..), PathSegment::Index(0)]`, a slice of segments.
pub trait IntoPath {
    /// The path.
    fn into_path(self) -> Path;
}

impl<I> IntoPath for I
where
    I: IntoIterator,
    I::Item: Into<PathSegment>,
{
    fn into_path(self) -> Path {
        self.into_iter().map(Into::into).collect()
    }
}

impl From<&PathSegment> for PathSegment {
    fn from(segment: &PathSegment) -> Self {
        segment.clone()
    }
}

impl From<usize> for PathSegment {
    fn from(i: usize) -> Self {
        PathSegment::Index(i)
    }
}

impl From<&str> for PathSegment {
    fn from(k: &str) -> Self {
        PathSegment::Key(k.to_owned())
    }
}

impl From<String> for PathSegment {
    fn from(k: String) -> Self {
        PathSegment::Key(k)
    }
}

/// Shown as in JSON: `3` or `"title"`.
impl fmt::Display for PathSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathSegment::Index(i) => write!(f, "{i}"),
            PathSegment::Key(k) => write!(f, "{}", Value::String(k.clone())),
        }
    }
}

/// Formats a path as its JSON array, for error messages.
pub(crate) fn display_path(p: &[PathSegment]) -> String {
    let parts: Vec<String> = p.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(","))
}
