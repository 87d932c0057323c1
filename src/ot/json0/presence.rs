//! Document presence for json0: where someone is in a document, moved by
//! every op so it stays on the same content (ShareDB's `transformPresence`).
//!
//! A json0 presence value is a JSON object. Two fields have a meaning:
//!
//! - `p`: the json0 path of what the person is at: a string they edit, a
//!   list item they look at, any value;
//! - `s` and `e` (optional): a selection in the string at `p`, as UTF-16
//!   offsets: `s` is where it started (the anchor), `e` where the caret is
//!   (the focus); `s == e` is a plain caret, `e < s` a backwards selection.
//!
//! Every other field (a name, a colour) travels unchanged. A value that is
//! not an object, or has no valid `p`, is not moved at all: apps may send
//! any presence, and only this shape follows the document.
//!
//! ```
//! use peloton::ot::json0::{self, Component, Op};
//! use serde_json::json;
//!
//! let ann = json!({"p": ["text"], "s": 3, "e": 3, "name": "Ann"});
//! // Someone inserts "Hi, " at the start of the text: Ann's caret follows
//! // the character it was next to.
//! let op = Op::from(Component::string_insert(["text"], 0, "Hi, "));
//! let moved = json0::transform_presence(&ann, &op, false);
//! assert_eq!(moved, json!({"p": ["text"], "s": 7, "e": 7, "name": "Ann"}));
//!
//! // The item someone is at moves with the list.
//! let bob = json!({"p": ["items", 2]});
//! let op = Op::from(Component::list_delete(["items"], 0, json!("x")));
//! assert_eq!(json0::transform_presence(&bob, &op, false), json!({"p": ["items", 1]}));
//! ```

use serde_json::{Map, Value};

use super::cursor::move_element;
use super::op::{Action, Component, Op, Path, PathSegment};
use crate::ot::{Side, text0, utf16};

/// Where a json0 presence is: the typed form of its `p`, `s` and `e`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caret {
    /// The path of what the person is at.
    pub path: Path,
    /// A selection `(anchor, focus)` in the string at `path`, in UTF-16
    /// code units; `None` when the presence is on a value, not in a text.
    pub selection: Option<(usize, usize)>,
}

impl Caret {
    /// The caret of a presence value, if it has one (see the module docs).
    pub fn of(presence: &Value) -> Option<Caret> {
        let object = presence.as_object()?;
        let path = path_of(object.get("p")?)?;
        let offset = |key: &str| object.get(key).and_then(Value::as_u64).map(|n| n as usize);
        let selection = match (offset("s"), offset("e")) {
            (Some(s), Some(e)) => Some((s, e)),
            (Some(s), None) | (None, Some(s)) => Some((s, s)),
            (None, None) => None,
        };
        Some(Caret { path, selection })
    }

    /// Writes this caret into a presence object (replacing `p`, `s`, `e`).
    pub fn write_into(&self, object: &mut Map<String, Value>) {
        let path = self.path.iter().map(segment_value).collect();
        object.insert("p".into(), Value::Array(path));
        match self.selection {
            Some((s, e)) => {
                object.insert("s".into(), s.into());
                object.insert("e".into(), e.into());
            }
            None => {
                object.remove("s");
                object.remove("e");
            }
        }
    }

    /// Moves the caret past one component. `None` when the component
    /// removed what the caret was at (or anything above it).
    fn past(mut self, c: &Component, side: Side) -> Option<Caret> {
        let insert_after = side == Side::Right;
        match &c.action {
            Action::NumberAdd(_) => {}
            Action::Text0(op) => {
                if c.p == self.path {
                    self.map_selection(|pos| text0::transform_cursor(pos, op, side));
                }
            }
            Action::StringInsert(_) | Action::StringDelete(_) => {
                if let Some((string, edit)) = c.legacy_text()
                    && string == self.path.as_slice()
                {
                    self.map_selection(|pos| text0::transform_position(pos, &edit, insert_after));
                }
            }
            Action::ObjectInsert(new) | Action::ObjectReplace { oi: new, .. } => {
                if c.p == self.path {
                    // The value itself was replaced: stay, inside the new one.
                    self.clamp_to(new);
                } else if self.path.starts_with(&c.p) {
                    return None;
                }
            }
            Action::ObjectDelete(_) => {
                if self.path.starts_with(&c.p) {
                    return None;
                }
            }
            Action::ListReplace { li, .. } if c.p == self.path => self.clamp_to(li),
            Action::ListInsert(_)
            | Action::ListDelete(_)
            | Action::ListReplace { .. }
            | Action::ListMove(_) => {
                let Some((PathSegment::Index(index), list)) = c.p.split_last() else {
                    return Some(self);
                };
                if self.path.len() > list.len() && self.path.starts_with(list) {
                    // The list is above us: follow our element in it.
                    if let PathSegment::Index(ours) = &mut self.path[list.len()] {
                        *ours = move_element(*ours, *index, &c.action)?;
                    }
                }
            }
        }
        Some(self)
    }

    fn map_selection(&mut self, f: impl Fn(usize) -> usize) {
        if let Some((s, e)) = self.selection {
            self.selection = Some((f(s), f(e)));
        }
    }

    /// Keeps the selection inside `value` where it is a string.
    fn clamp_to(&mut self, value: &Value) {
        let len = value.as_str().map_or(0, utf16::len);
        self.map_selection(|pos| pos.min(len));
    }
}

/// Moves a presence value past `op`, which was applied to the document the
/// presence is in. `own` says whether the op was made by the presence's
/// owner: then text typed at their caret pushes it forward (they typed it);
/// someone else's text typed there lands after the caret.
///
/// Where the op deletes or replaces what the presence was at (or anything
/// above it), the presence loses its place: `p`, `s` and `e` are removed and
/// the rest of the value kept. A value without a caret (see [`Caret::of`])
/// comes back unchanged, as does `null` (nobody).
pub fn transform_presence(presence: &Value, op: &Op, own: bool) -> Value {
    let Some(caret) = Caret::of(presence) else {
        return presence.clone();
    };
    let side = if own { Side::Right } else { Side::Left };
    let moved = op.iter().try_fold(caret, |caret, c| caret.past(c, side));
    let mut object = presence.as_object().cloned().unwrap_or_default();
    match moved {
        Some(caret) => caret.write_into(&mut object),
        None => {
            for key in ["p", "s", "e"] {
                object.remove(key);
            }
        }
    }
    Value::Object(object)
}

fn path_of(value: &Value) -> Option<Path> {
    value
        .as_array()?
        .iter()
        .map(|segment| match segment {
            Value::String(key) => Some(PathSegment::Key(key.clone())),
            Value::Number(n) => n.as_u64().map(|i| PathSegment::Index(i as usize)),
            _ => None,
        })
        .collect()
}

fn segment_value(segment: &PathSegment) -> Value {
    match segment {
        PathSegment::Index(i) => Value::from(*i),
        PathSegment::Key(k) => Value::from(k.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(value: Value) -> Op {
        serde_json::from_value(value).unwrap()
    }

    fn at(p: Value, s: usize, e: usize) -> Value {
        json!({"p": p, "s": s, "e": e, "name": "Ann"})
    }

    #[test]
    fn text_edits_move_the_selection() {
        let ann = at(json!(["t"]), 2, 5);
        let ins = op(json!([{"p": ["t"], "t": "text0", "o": [{"p": 0, "i": "xx"}]}]));
        assert_eq!(
            transform_presence(&ann, &ins, false),
            at(json!(["t"]), 4, 7)
        );
        // Inside the selection: it grows.
        let ins = op(json!([{"p": ["t", 3], "si": "y"}]));
        assert_eq!(
            transform_presence(&ann, &ins, false),
            at(json!(["t"]), 2, 6)
        );
        // A delete around the caret pulls it to the delete's start.
        let del = op(json!([{"p": ["t"], "t": "text0", "o": [{"p": 1, "d": "abc"}]}]));
        assert_eq!(
            transform_presence(&ann, &del, false),
            at(json!(["t"]), 1, 2)
        );
        // Another string's edits leave it alone.
        let other = op(json!([{"p": ["u", 0], "si": "zz"}]));
        assert_eq!(transform_presence(&ann, &other, false), ann);
    }

    #[test]
    fn typing_at_the_caret_pushes_only_the_typists_caret() {
        let ann = at(json!(["t"]), 3, 3);
        let typed = op(json!([{"p": ["t", 3], "si": "k"}]));
        assert_eq!(
            transform_presence(&ann, &typed, true),
            at(json!(["t"]), 4, 4)
        );
        assert_eq!(transform_presence(&ann, &typed, false), ann);
    }

    #[test]
    fn the_path_follows_its_element() {
        let bob = json!({"p": ["items", 1, "text"], "s": 0, "e": 0});
        let moved = op(json!([{"p": ["items", 1], "lm": 3}]));
        assert_eq!(
            transform_presence(&bob, &moved, false),
            json!({"p": ["items", 3, "text"], "s": 0, "e": 0})
        );
        let inserted = op(json!([{"p": ["items", 0], "li": {}}]));
        assert_eq!(
            transform_presence(&bob, &inserted, false)["p"],
            json!(["items", 2, "text"])
        );
        let deleted = op(json!([{"p": ["items", 1], "ld": {}}]));
        assert_eq!(transform_presence(&bob, &deleted, false), json!({}));
    }

    #[test]
    fn replacing_the_string_keeps_the_caret_inside_it() {
        let ann = at(json!(["t"]), 4, 9);
        let set = op(json!([{"p": ["t"], "od": "long string", "oi": "short"}]));
        assert_eq!(
            transform_presence(&ann, &set, false),
            at(json!(["t"]), 4, 5)
        );
        let parent = op(json!([{"p": [], "od": {}, "oi": {}}]));
        assert_eq!(
            transform_presence(&ann, &parent, false),
            json!({"name": "Ann"})
        );
    }

    #[test]
    fn other_values_pass_unchanged() {
        let op = op(json!([{"p": ["t", 0], "si": "a"}]));
        for value in [
            json!(null),
            json!("here"),
            json!({"name": "x"}),
            json!({"p": "t"}),
        ] {
            assert_eq!(transform_presence(&value, &op, false), value);
        }
    }
}
