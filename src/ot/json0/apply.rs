//! Applying json0 ops to a document, in place.
//!
//! Each component is checked against the document before it changes
//! anything, and records how to undo itself. If a later component fails, the
//! earlier ones are undone in reverse, so the document is left exactly as it
//! was (key order included) without ever cloning it.
//!
//! This module owns walking the document, the checks and the rollback; string
//! edits go through text0, and which op to apply to which snapshot, and when,
//! is the caller's.

use serde_json::{Map, Value};

use super::document::TextIndex;
use super::error::{ApplyError, Error};
use super::js;
use super::op::{Action, Component, Op, PathSegment};
use crate::ot::{object_keys, text0};

/// Applies `op` to `doc`.
///
/// Stricter than ot-json0, which lets JavaScript coerce: paths must exist,
/// list indexes must be in range (`li` may append at the end), containers
/// and values must have the right type, `sd` and text0 deletes must match
/// the text, and string offsets (UTF-16 code units) must not fall inside a
/// surrogate pair. Like ot-json0, a string insert past the end appends
/// (what a legacy `si` transformed past a text0 edit of the same string can
/// come to), the values in `ld` and `od` are not compared with the
/// document, and `oi` on an existing key replaces it.
///
/// On error `doc` is unchanged.
pub fn apply(doc: &mut Value, op: &Op) -> Result<(), Error> {
    apply_indexed(doc, op, None)
}

/// [`apply`], finding string offsets from `index` (the document's known
/// places in its strings) and keeping it up to date. On error the index
/// is emptied, as the rollback edits strings without it.
pub(crate) fn apply_indexed(
    doc: &mut Value,
    op: &Op,
    mut index: Option<&mut TextIndex>,
) -> Result<(), Error> {
    let mut undo = Vec::new();
    for (i, c) in op.0.iter().enumerate() {
        let last = i + 1 == op.0.len();
        match apply_component(doc, c, !last, index.as_deref_mut()) {
            Ok(u) => undo.extend(u),
            Err(reason) => {
                if let Some(index) = index {
                    index.clear();
                }
                rollback(doc, undo);
                return Err(Error::Apply {
                    component: i,
                    path: c.p.clone(),
                    reason,
                });
            }
        }
    }
    Ok(())
}

/// How to undo one applied component. Paths borrow from the op.
enum Undo<'a> {
    /// Put `old` back at `path`.
    Restore { path: &'a [PathSegment], old: Value },
    /// Remove the list element or object key the component added at `path`.
    Remove { path: &'a [PathSegment] },
    /// Put a deleted list element back at `path`.
    ListInsert {
        path: &'a [PathSegment],
        value: Value,
    },
    /// Put a deleted key back, at `position` in its object's key order.
    ObjectInsert {
        path: &'a [PathSegment],
        position: usize,
        value: Value,
    },
    /// Move the element at `from` in the list at `list` back to `to`.
    Move {
        list: &'a [PathSegment],
        from: usize,
        to: usize,
    },
    /// Undo text edits on the string at `path`.
    Text {
        path: &'a [PathSegment],
        edits: TextEdits<'a>,
    },
}

/// Text edits that were applied, to be reverted.
enum TextEdits<'a> {
    Legacy {
        offset: usize,
        text: &'a str,
        inserted: bool,
    },
    Subtype(&'a text0::Op),
}

/// Applies one component. Returns its undo record when `record` is set.
fn apply_component<'a>(
    doc: &mut Value,
    c: &'a Component,
    record: bool,
    mut index: Option<&mut TextIndex>,
) -> Result<Option<Undo<'a>>, ApplyError> {
    let path = c.p.as_slice();
    if let Some(index) = index.as_deref_mut() {
        index.before(c);
    }
    let undo = match &c.action {
        Action::NumberAdd(add) => {
            let target = resolve(doc, path)?;
            let Value::Number(n) = target else {
                return Err(wrong_type("a number", "the path", target));
            };
            let to = n.as_f64().unwrap_or(f64::NAN);
            let sum = js::number(to + add).ok_or(ApplyError::NotFinite { add: *add, to })?;
            let old = std::mem::replace(target, Value::Number(sum));
            Undo::Restore { path, old }
        }
        Action::ListInsert(value) => {
            let (list, index) = list_parent(doc, path)?;
            if index > list.len() {
                return Err(out_of_range(path, index, list.len()));
            }
            list.insert(index, value.clone());
            Undo::Remove { path }
        }
        Action::ListDelete(_) => {
            let (list, index) = list_element(doc, path)?;
            Undo::ListInsert {
                path,
                value: list.remove(index),
            }
        }
        Action::ListReplace { li, .. } => {
            let (list, index) = list_element(doc, path)?;
            Undo::Restore {
                path,
                old: std::mem::replace(&mut list[index], li.clone()),
            }
        }
        Action::ListMove(to) => {
            let (list, from) = list_element(doc, path)?;
            if *to >= list.len() {
                return Err(ApplyError::MoveOutOfRange {
                    to: *to,
                    len: list.len(),
                });
            }
            move_element(list, from, *to);
            let parent = path.split_last().map_or(path, |(_, parent)| parent);
            Undo::Move {
                list: parent,
                from: *to,
                to: from,
            }
        }
        Action::ObjectInsert(value) => match path.split_last() {
            None => Undo::Restore {
                path,
                old: std::mem::replace(doc, value.clone()),
            },
            Some(_) => {
                let (map, key) = object_parent(doc, path)?;
                match object_keys::get_mut(map, key) {
                    Some(slot) => Undo::Restore {
                        path,
                        old: std::mem::replace(slot, value.clone()),
                    },
                    None => {
                        map.insert(key.to_owned(), value.clone());
                        Undo::Remove { path }
                    }
                }
            }
        },
        Action::ObjectDelete(_) => match path.split_last() {
            // Deleting the root leaves null: JSON has no `undefined`.
            None => Undo::Restore {
                path,
                old: std::mem::take(doc),
            },
            Some(_) => {
                let (map, key) = object_parent(doc, path)?;
                // Finding the key's position is a scan: only done if needed.
                let position = if record {
                    map.keys().position(|k| k == key)
                } else {
                    None
                };
                let Some(value) = object_keys::remove(map, key) else {
                    return Err(ApplyError::KeyNotFound {
                        depth: path.len() - 1,
                        key: key.to_owned(),
                    });
                };
                Undo::ObjectInsert {
                    path,
                    position: position.unwrap_or(map.len()),
                    value,
                }
            }
        },
        Action::ObjectReplace { oi, .. } => match path.split_last() {
            None => Undo::Restore {
                path,
                old: std::mem::replace(doc, oi.clone()),
            },
            Some(_) => {
                let (map, key) = object_parent(doc, path)?;
                let Some(slot) = object_keys::get_mut(map, key) else {
                    return Err(ApplyError::KeyNotFound {
                        depth: path.len() - 1,
                        key: key.to_owned(),
                    });
                };
                Undo::Restore {
                    path,
                    old: std::mem::replace(slot, oi.clone()),
                }
            }
        },
        Action::StringInsert(text) | Action::StringDelete(text) => {
            let Some((PathSegment::Index(offset), string)) = path.split_last() else {
                return Err(ApplyError::BadPath {
                    expected: "a string offset",
                });
            };
            let target = string_at(doc, string)?;
            let marks = index.and_then(|index| index.marks(string, target));
            let inserted = matches!(c.action, Action::StringInsert(_));
            if inserted {
                text0::insert_at(target, *offset, text, marks)?;
            } else {
                text0::delete_at(target, *offset, text, marks)?;
            }
            Undo::Text {
                path: string,
                edits: TextEdits::Legacy {
                    offset: *offset,
                    text,
                    inserted,
                },
            }
        }
        Action::Text0(op) => {
            let target = string_at(doc, path)?;
            text0::apply_marked(
                target,
                op,
                index.and_then(|index| index.marks(path, target)),
            )?;
            Undo::Text {
                path,
                edits: TextEdits::Subtype(op),
            }
        }
    };
    Ok(record.then_some(undo))
}

/// Undoes applied components, last first. Each undo runs on the document its
/// own component produced, so it finds what it needs; a miss would be a bug
/// here, and is skipped rather than made a panic.
fn rollback(doc: &mut Value, undo: Vec<Undo<'_>>) {
    for u in undo.into_iter().rev() {
        let done = undo_one(doc, u);
        debug_assert!(done.is_ok(), "json0 rollback failed: {done:?}");
    }
}

fn undo_one(doc: &mut Value, undo: Undo<'_>) -> Result<(), ApplyError> {
    match undo {
        Undo::Restore { path, old } => *resolve(doc, path)? = old,
        Undo::Remove { path } => match path.split_last() {
            Some((PathSegment::Index(_), _)) => {
                let (list, index) = list_element(doc, path)?;
                list.remove(index);
            }
            _ => {
                let (map, key) = object_parent(doc, path)?;
                object_keys::remove(map, key);
            }
        },
        Undo::ListInsert { path, value } => {
            let (list, index) = list_parent(doc, path)?;
            list.insert(index.min(list.len()), value);
        }
        Undo::ObjectInsert {
            path,
            position,
            value,
        } => {
            let (map, key) = object_parent(doc, path)?;
            object_keys::insert_at(map, position, key.to_owned(), value);
        }
        Undo::Move { list, from, to } => match resolve(doc, list)? {
            Value::Array(list) if from < list.len() && to < list.len() => {
                move_element(list, from, to)
            }
            other => return Err(wrong_type("a list", "the parent", other)),
        },
        Undo::Text { path, edits } => {
            let target = string_at(doc, path)?;
            match edits {
                TextEdits::Legacy {
                    offset,
                    text,
                    inserted: true,
                } => {
                    let at = text0::inserted_at(target, offset, text);
                    text0::delete_at(target, at, text, None)?
                }
                TextEdits::Legacy {
                    offset,
                    text,
                    inserted: false,
                } => text0::insert_at(target, offset, text, None)?,
                TextEdits::Subtype(op) => text0::revert(target, &op.0),
            }
        }
    }
    Ok(())
}

fn move_element(list: &mut [Value], from: usize, to: usize) {
    if from < to {
        list[from..=to].rotate_left(1);
    } else {
        list[to..=from].rotate_right(1);
    }
}

/// The value at `path`.
fn resolve<'v>(doc: &'v mut Value, path: &[PathSegment]) -> Result<&'v mut Value, ApplyError> {
    let mut cur = doc;
    for (depth, seg) in path.iter().enumerate() {
        cur = match (cur, seg) {
            (Value::Array(list), PathSegment::Index(index)) => {
                let len = list.len();
                list.get_mut(*index).ok_or(ApplyError::IndexOutOfRange {
                    depth,
                    index: *index,
                    len,
                })?
            }
            (Value::Object(map), PathSegment::Key(key)) => object_keys::get_mut(map, key)
                .ok_or_else(|| ApplyError::KeyNotFound {
                    depth,
                    key: key.clone(),
                })?,
            (Value::Array(_), PathSegment::Key(key)) => {
                return Err(ApplyError::ExpectedIndex {
                    depth,
                    key: key.clone(),
                });
            }
            (Value::Object(_), PathSegment::Index(index)) => {
                return Err(ApplyError::ExpectedKey {
                    depth,
                    index: *index,
                });
            }
            (other, _) => {
                return Err(ApplyError::NotAContainer {
                    depth,
                    found: type_name(other),
                });
            }
        };
    }
    Ok(cur)
}

/// The list holding the element at `path`, and the element's index, which
/// may be one past the end.
fn list_parent<'v>(
    doc: &'v mut Value,
    path: &[PathSegment],
) -> Result<(&'v mut Vec<Value>, usize), ApplyError> {
    let Some((last, parent)) = path.split_last() else {
        return Err(ApplyError::BadPath {
            expected: "a list index",
        });
    };
    let depth = parent.len();
    match (resolve(doc, parent)?, last) {
        (Value::Array(list), PathSegment::Index(index)) => Ok((list, *index)),
        (Value::Array(_), PathSegment::Key(key)) => Err(ApplyError::ExpectedIndex {
            depth,
            key: key.clone(),
        }),
        (other, _) => Err(wrong_type("a list", "the parent", other)),
    }
}

/// As [`list_parent`], with the index inside the list.
fn list_element<'v>(
    doc: &'v mut Value,
    path: &[PathSegment],
) -> Result<(&'v mut Vec<Value>, usize), ApplyError> {
    let (list, index) = list_parent(doc, path)?;
    if index >= list.len() {
        return Err(out_of_range(path, index, list.len()));
    }
    Ok((list, index))
}

/// The object holding the key at `path` (not empty), and the key.
fn object_parent<'v, 'p>(
    doc: &'v mut Value,
    path: &'p [PathSegment],
) -> Result<(&'v mut Map<String, Value>, &'p str), ApplyError> {
    let Some((last, parent)) = path.split_last() else {
        return Err(ApplyError::BadPath {
            expected: "an object key",
        });
    };
    let depth = parent.len();
    match (resolve(doc, parent)?, last) {
        (Value::Object(map), PathSegment::Key(key)) => Ok((map, key)),
        (Value::Object(_), PathSegment::Index(index)) => Err(ApplyError::ExpectedKey {
            depth,
            index: *index,
        }),
        (other, _) => Err(wrong_type("an object", "the parent", other)),
    }
}

fn string_at<'v>(doc: &'v mut Value, path: &[PathSegment]) -> Result<&'v mut String, ApplyError> {
    match resolve(doc, path)? {
        Value::String(s) => Ok(s),
        other => Err(wrong_type("a string", "the path", other)),
    }
}

fn out_of_range(path: &[PathSegment], index: usize, len: usize) -> ApplyError {
    ApplyError::IndexOutOfRange {
        depth: path.len() - 1,
        index,
        len,
    }
}

fn wrong_type(expected: &'static str, target: &'static str, found: &Value) -> ApplyError {
    ApplyError::WrongType {
        expected,
        target,
        found: type_name(found),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
