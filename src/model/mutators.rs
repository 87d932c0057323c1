//! Mutators: each computes the json0 op of its change from the current data
//! (atomically, for remote documents), applies it (locally, or through the
//! connection), and emits Racer's events.

use serde::Serialize;
use serde_json::{Value, json};

use super::error::type_name;
use super::events::EventKind;
use super::path::{self, Segments};
use super::{Model, ModelError, value};
use crate::client::Ack;
use crate::ot::json0::{self, Component};
use crate::ot::text0;
use crate::ot::utf16;

/// What a mutator returns: Racer's return value at once, and the server's
/// acknowledgement later (for remote documents).
#[derive(Debug)]
pub struct Mutation<T> {
    /// The mutator's result (the previous value for `set`, the new length
    /// for `push`, …).
    pub value: T,
    /// One per document op the change made (several when refs spread it
    /// over documents).
    acks: Vec<Ack>,
}

impl<T> Mutation<T> {
    pub(crate) fn done(value: T) -> Self {
        Self::new(value, None)
    }

    pub(crate) fn new(value: T, ack: Option<Ack>) -> Self {
        Self {
            value,
            acks: ack.into_iter().collect(),
        }
    }

    /// The same acks, another result.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Mutation<U> {
        Mutation {
            value: f(self.value),
            acks: self.acks,
        }
    }

    /// Waits for `other`'s acks too; returns its result.
    pub(crate) fn merge_acks<U>(&mut self, other: Mutation<U>) -> U {
        self.acks.extend(other.acks);
        other.value
    }

    /// The result, once the server has committed the change (at once for
    /// local collections).
    pub async fn acked(self) -> Result<T, ModelError> {
        for ack in self.acks {
            ack.await?;
        }
        Ok(self.value)
    }
}

/// One document's change, relative to the document.
pub(crate) struct Edit<R> {
    components: Vec<Component>,
    value: R,
    events: Vec<(Segments, EventKind)>,
}

impl<R> Edit<R> {
    fn new(value: R) -> Self {
        Self {
            components: Vec::new(),
            value,
            events: Vec::new(),
        }
    }
}

fn to_value(path: &[String], value: impl Serialize) -> Result<Value, ModelError> {
    serde_json::to_value(value).map_err(|e| ModelError::Serde {
        path: path::join(path),
        message: e.to_string(),
    })
}

fn json0_error(path: &[String], e: impl std::fmt::Display) -> ModelError {
    ModelError::Serde {
        path: path::join(path),
        message: e.to_string(),
    }
}

/// Components that put `new` at `rest` in `doc` (creating missing
/// parents), and the previous value.
fn set_components(
    doc: &Value,
    rest: &[String],
    new: Value,
) -> Result<(Vec<Component>, Option<Value>), ModelError> {
    if rest.is_empty() {
        let c = Component::object_replace(json0::Path::new(), doc.clone(), new);
        return Ok((vec![c], Some(doc.clone())));
    }
    // The deepest existing parent.
    let mut k = rest.len() - 1;
    while k > 0 && value::lookup(doc, &rest[..k]).is_none() {
        k -= 1;
    }
    let parent = value::lookup(doc, &rest[..k]).unwrap_or(doc);
    if k == 0 && parent.is_null() {
        // A document that is not there yet (local collections create
        // theirs on first write).
        let whole = value::implied(rest, new)?;
        return Ok((
            vec![Component::object_insert(json0::Path::new(), whole)],
            None,
        ));
    }
    let key = &rest[k];
    let filler = value::implied(&rest[k + 1..], new.clone())?;
    let at = path::to_json0(&rest[..k]);
    match parent {
        Value::Object(map) => {
            let mut p = at;
            p.push(json0::PathSegment::Key(key.clone()));
            let c = match map.get(key) {
                Some(old) if k + 1 == rest.len() => {
                    let previous = old.clone();
                    return Ok((
                        vec![Component::object_replace(p, previous.clone(), new)],
                        Some(previous),
                    ));
                }
                Some(old) => Component::object_replace(p, old.clone(), filler),
                None => Component::object_insert(p, filler),
            };
            Ok((vec![c], None))
        }
        Value::Array(items) => {
            let Some(i) = path::index(key) else {
                return Err(ModelError::WrongType {
                    op: "set",
                    path: path::join(&rest[..=k]),
                    expected: "a list index",
                    found: "a key",
                });
            };
            if let Some(old) = items.get(i) {
                if k + 1 == rest.len() {
                    let previous = old.clone();
                    return Ok((
                        vec![Component::list_replace(at, i, previous.clone(), new)],
                        Some(previous),
                    ));
                }
                return Ok((
                    vec![Component::list_replace(at, i, old.clone(), filler)],
                    None,
                ));
            }
            // Past the end: pad with nulls, as far as JSON allows holes.
            value::check_padding(&rest[..k], i, items.len())?;
            let mut out: Vec<Component> = (items.len()..i)
                .map(|j| Component::list_insert(at.clone(), j, Value::Null))
                .collect();
            out.push(Component::list_insert(at, i, filler));
            Ok((out, None))
        }
        other => Err(ModelError::WrongType {
            op: "set",
            path: path::join(&rest[..k]),
            expected: "an object or a list",
            found: type_name(Some(other)),
        }),
    }
}

/// The component that deletes the value at `rest`, and the value.
fn del_component(doc: &Value, rest: &[String]) -> Option<(Component, Value)> {
    let (key, parent_path) = rest.split_last()?;
    let previous = value::lookup(doc, rest)?.clone();
    let parent = value::lookup(doc, parent_path)?;
    let at = path::to_json0(parent_path);
    let c = match parent {
        Value::Array(_) => Component::list_delete(at, path::index(key)?, previous.clone()),
        _ => {
            let mut p = at;
            p.push(json0::PathSegment::Key(key.clone()));
            Component::object_delete(p, previous.clone())
        }
    };
    Some((c, previous))
}

/// The list at `rest`: its items (`None` if missing), or a type error.
fn list_at<'a>(
    doc: &'a Value,
    rest: &[String],
    op: &'static str,
) -> Result<Option<&'a Vec<Value>>, ModelError> {
    match value::lookup(doc, rest) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(ModelError::WrongType {
            op,
            path: path::join(rest),
            expected: "a list",
            found: type_name(Some(other)),
        }),
    }
}

impl Model {
    /// Applies an edit to the document at `path` (resolved through refs).
    fn edit<R>(
        &self,
        path: &str,
        f: impl FnOnce(&Value, &[String]) -> Result<Edit<R>, ModelError>,
    ) -> Result<Mutation<R>, ModelError> {
        let segments = self.resolve(&self.absolute(path));
        if let Some(write) = self.edit_ref_list(&segments) {
            return write;
        }
        let [collection, id, rest @ ..] = segments.as_slice() else {
            return Err(ModelError::PathTooShort(path::join(&segments)));
        };
        let doc_path = [collection.clone(), id.clone()];
        let (value, events, ack) = if path::is_local(collection) {
            let mut state = self.state();
            let docs = state.local.entry(collection.clone()).or_default();
            let null = Value::Null;
            let edit = f(docs.get(id).unwrap_or(&null), rest)?;
            if !edit.components.is_empty() {
                let data = docs.entry(id.clone()).or_insert(Value::Null);
                json0::apply(data, &json0::Op(edit.components))
                    .map_err(|e| json0_error(&segments, e))?;
            }
            (edit.value, edit.events, None)
        } else {
            let connection = self
                .connection()
                .ok_or_else(|| ModelError::NoConnection(collection.clone()))?;
            let doc = connection.get(collection, id);
            let ((value, events, op), ack) = doc.submit_with(|data| {
                let data =
                    data.ok_or_else(|| ModelError::DocDoesNotExist(path::join(&doc_path)))?;
                let edit = f(data, rest)?;
                let op = json0::Op(edit.components);
                Ok::<_, ModelError>((Some(op.clone()), (edit.value, edit.events, op)))
            })?;
            if ack.is_some() {
                self.record_undo(collection, id, op);
            }
            (value, events, ack)
        };
        let events = events
            .into_iter()
            .map(|(rel, kind)| ([doc_path.as_slice(), rel.as_slice()].concat(), kind))
            .collect();
        self.emit(events);
        Ok(Mutation::new(value, ack))
    }

    /// Sets the value at `path`; returns the previous value. Missing parents
    /// are created (lists where the next segment is a number).
    pub fn set(
        &self,
        path: &str,
        value: impl Serialize,
    ) -> Result<Mutation<Option<Value>>, ModelError> {
        let new = to_value(&self.absolute(path), value)?;
        let segments = self.resolve(&self.absolute(path));
        if segments.len() == 2 {
            return self.set_doc(&segments, new);
        }
        self.edit(path, |doc, rest| {
            let (components, previous) = set_components(doc, rest, new.clone())?;
            Ok(Edit {
                components,
                events: vec![(
                    rest.to_vec(),
                    EventKind::Change {
                        value: Some(new),
                        previous: previous.clone(),
                    },
                )],
                value: previous,
            })
        })
    }

    /// Sets a whole document: creates it if it does not exist.
    fn set_doc(
        &self,
        segments: &[String],
        new: Value,
    ) -> Result<Mutation<Option<Value>>, ModelError> {
        if !path::is_local(&segments[0]) {
            let exists = self.read_resolved(segments, |v| v.is_some());
            if !exists {
                let write = self.create_doc(segments, new, false)?;
                return Ok(write.map(|_| None));
            }
        }
        self.scope(&path::join(segments)).edit("", |doc, _| {
            let previous = (!doc.is_null()).then(|| doc.clone());
            let component = match &previous {
                Some(old) => {
                    Component::object_replace(json0::Path::new(), old.clone(), new.clone())
                }
                None => Component::object_insert(json0::Path::new(), new.clone()),
            };
            Ok(Edit {
                components: vec![component],
                events: vec![(
                    Vec::new(),
                    EventKind::Change {
                        value: Some(new),
                        previous: previous.clone(),
                    },
                )],
                value: previous,
            })
        })
    }

    /// Sets the value only if there is none (null counts as none); returns
    /// the value at the path afterwards.
    pub fn set_null(
        &self,
        path: &str,
        value: impl Serialize,
    ) -> Result<Mutation<Value>, ModelError> {
        match self.get_value(path) {
            Some(current) if !current.is_null() => Ok(Mutation::done(current)),
            _ => {
                let new = to_value(&self.absolute(path), value)?;
                let write = self.set(path, new.clone())?;
                Ok(write.map(|_| new))
            }
        }
    }

    /// Sets the value only if it differs (deeply) from the current one;
    /// returns the previous value.
    pub fn set_diff(
        &self,
        path: &str,
        value: impl Serialize,
    ) -> Result<Mutation<Option<Value>>, ModelError> {
        let new = to_value(&self.absolute(path), value)?;
        let current = self.get_value(path);
        if current.as_ref().is_some_and(|c| value::deep_equal(c, &new)) {
            return Ok(Mutation::done(current));
        }
        self.set(path, new)
    }

    /// Makes the value at `path` equal to `value` with the smallest changes:
    /// objects key by key (missing keys deleted first), lists by inserts,
    /// removes and moves of equal items, other values replaced.
    pub fn set_diff_deep(
        &self,
        path: &str,
        value: impl Serialize,
    ) -> Result<Mutation<()>, ModelError> {
        let new = to_value(&self.absolute(path), value)?;
        let current = self.get_value(path);
        match (current, new) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                // A remote doc's `id` alias is not data: nothing to delete
                // (Racer sends an `od` for it, which a validating server rejects).
                let doc_root = matches!(self.resolve(&self.absolute(path)).as_slice(),
                    [collection, _] if !path::is_local(collection));
                let mut all = Mutation::done(());
                for key in old
                    .keys()
                    .filter(|k| !(new.contains_key(*k) || (doc_root && *k == "id")))
                {
                    all.merge_acks(self.del(&join_rel(path, key))?);
                }
                for (key, value) in new {
                    all.merge_acks(self.set_diff_deep(&join_rel(path, &key), value)?);
                }
                Ok(all)
            }
            (Some(Value::Array(old)), Value::Array(new)) => {
                let mut all = Mutation::done(());
                for step in crate::list_diff::diff(&old, &new, value::deep_equal) {
                    match step {
                        crate::list_diff::ArrayDiff::Insert { index, values } => {
                            all.merge_acks(self.insert(path, index, values)?);
                        }
                        crate::list_diff::ArrayDiff::Remove { index, how_many } => {
                            all.merge_acks(self.remove(path, index, how_many)?);
                        }
                        crate::list_diff::ArrayDiff::Move { from, to, how_many } => {
                            all.merge_acks(self.move_items(path, from, to, how_many)?);
                        }
                    }
                }
                Ok(all)
            }
            (Some(current), new) if value::deep_equal(&current, &new) => Ok(Mutation::done(())),
            (_, new) => {
                let write = self.set(path, new)?;
                Ok(write.map(|_| ()))
            }
        }
    }

    /// Sets each key of `object` under `path`.
    pub fn set_each(&self, path: &str, object: impl Serialize) -> Result<Mutation<()>, ModelError> {
        let Value::Object(map) = to_value(&self.absolute(path), object)? else {
            return Err(ModelError::WrongType {
                op: "set_each",
                path: self.path(),
                expected: "an object",
                found: "another value",
            });
        };
        let mut all = Mutation::done(());
        for (key, value) in map {
            all.merge_acks(self.set(&join_rel(path, &key), value)?);
        }
        Ok(all)
    }

    /// Creates the document at `path` (`collection.id`) with `value`; an
    /// error if it exists.
    pub fn create(&self, path: &str, value: impl Serialize) -> Result<Mutation<()>, ModelError> {
        let segments = self.resolve(&self.absolute(path));
        let new = to_value(&segments, value)?;
        self.create_doc(&segments, new, false)
    }

    /// Creates the document unless it exists.
    pub fn create_null(
        &self,
        path: &str,
        value: impl Serialize,
    ) -> Result<Mutation<()>, ModelError> {
        let segments = self.resolve(&self.absolute(path));
        let new = to_value(&segments, value)?;
        self.create_doc(&segments, new, true)
    }

    fn create_doc(
        &self,
        segments: &[String],
        mut new: Value,
        if_missing: bool,
    ) -> Result<Mutation<()>, ModelError> {
        let [collection, id] = segments else {
            return Err(ModelError::PathTooShort(path::join(segments)));
        };
        if self.read_resolved(segments, |v| v.is_some()) {
            return if if_missing {
                Ok(Mutation::done(()))
            } else {
                Err(ModelError::Client(
                    crate::client::ClientError::DocAlreadyExists(path::join(segments)),
                ))
            };
        }
        let ack = if path::is_local(collection) {
            self.state()
                .local
                .entry(collection.clone())
                .or_default()
                .insert(id.clone(), new.clone());
            None
        } else {
            let connection = self
                .connection()
                .ok_or_else(|| ModelError::NoConnection(collection.clone()))?;
            // Racer's `id` alias is the document's id, not data.
            if let Value::Object(map) = &mut new {
                map.shift_remove("id");
            }
            let ack = connection.get(collection, id).create(new.clone())?;
            self.state().loads.created(collection, id);
            Some(ack)
        };
        self.emit(vec![(
            segments.to_vec(),
            EventKind::Change {
                value: Some(new),
                previous: None,
            },
        )]);
        Ok(Mutation::new((), ack))
    }

    /// Adds a document to `collection`, with `value["id"]` as its id if it
    /// has one, or a new id; returns the id.
    pub fn add(
        &self,
        collection: &str,
        value: impl Serialize,
    ) -> Result<Mutation<String>, ModelError> {
        let new = to_value(&self.absolute(collection), value)?;
        let id = new
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| self.id());
        let write = self.create(&join_rel(collection, &id), new)?;
        Ok(write.map(|_| id))
    }

    /// Deletes the value at `path` (a whole document at `collection.id`);
    /// returns the previous value.
    pub fn del(&self, path: &str) -> Result<Mutation<Option<Value>>, ModelError> {
        let segments = self.resolve(&self.absolute(path));
        if let [collection, id] = segments.as_slice() {
            let previous = self.read_resolved(&segments, |v| v.cloned());
            let ack = if path::is_local(collection) {
                self.state()
                    .local
                    .get_mut(collection)
                    .and_then(|docs| docs.shift_remove(id));
                None
            } else if previous.is_some() {
                let connection = self
                    .connection()
                    .ok_or_else(|| ModelError::NoConnection(collection.clone()))?;
                let ack = connection.get(collection, id).del()?;
                self.forget_undo(collection, id);
                Some(ack)
            } else {
                None
            };
            if previous.is_some() {
                self.emit(vec![(
                    segments,
                    EventKind::Change {
                        value: None,
                        previous: previous.clone(),
                    },
                )]);
            }
            return Ok(Mutation::new(previous, ack));
        }
        self.edit(path, |doc, rest| {
            let Some((component, previous)) = del_component(doc, rest) else {
                return Ok(Edit::new(None));
            };
            Ok(Edit {
                components: vec![component],
                events: vec![(
                    rest.to_vec(),
                    EventKind::Change {
                        value: None,
                        previous: Some(previous.clone()),
                    },
                )],
                value: Some(previous),
            })
        })
    }

    /// Adds `by` to the number at `path` (missing counts as 0); returns the
    /// new value.
    pub fn increment(&self, path: &str, by: f64) -> Result<Mutation<f64>, ModelError> {
        self.edit(path, |doc, rest| {
            let current = value::lookup(doc, rest);
            let (components, previous) = match current {
                Some(Value::Number(n)) => (
                    vec![Component::number_add(path::to_json0(rest), by)],
                    n.as_f64().unwrap_or(0.0),
                ),
                None | Some(Value::Null) => (set_components(doc, rest, json!(by))?.0, 0.0),
                Some(other) => {
                    return Err(ModelError::WrongType {
                        op: "increment",
                        path: path::join(rest),
                        expected: "a number",
                        found: type_name(Some(other)),
                    });
                }
            };
            let value = previous + by;
            let previous = current.cloned();
            Ok(Edit {
                components,
                events: vec![(
                    rest.to_vec(),
                    EventKind::Change {
                        value: Some(number(value)),
                        previous,
                    },
                )],
                value,
            })
        })
    }

    /// Inserts `values` at `index` of the list at `path` (created if
    /// missing); returns the new length. One `Insert` event for all.
    pub fn insert(
        &self,
        path: &str,
        index: usize,
        values: Vec<Value>,
    ) -> Result<Mutation<usize>, ModelError> {
        self.insert_at(path, Some(index), values)
    }

    /// Inserts at `index`, or (`None`) at the end of the list as it is
    /// when the op is made: atomically, so a remote insert arriving
    /// meanwhile cannot put a `push` in the middle.
    fn insert_at(
        &self,
        path: &str,
        index: Option<usize>,
        values: Vec<Value>,
    ) -> Result<Mutation<usize>, ModelError> {
        if values.is_empty() {
            return Ok(Mutation::done(
                self.read(path, |v| v.and_then(Value::as_array).map_or(0, Vec::len)),
            ));
        }
        self.edit(path, |doc, rest| {
            let (components, index, len) = match list_at(doc, rest, "insert")? {
                Some(items) => {
                    let index = index.unwrap_or(items.len()).min(items.len());
                    let components = values
                        .iter()
                        .enumerate()
                        .map(|(k, v)| {
                            Component::list_insert(path::to_json0(rest), index + k, v.clone())
                        })
                        .collect();
                    (components, index, items.len() + values.len())
                }
                None => (
                    set_components(doc, rest, Value::Array(values.clone()))?.0,
                    0,
                    values.len(),
                ),
            };
            Ok(Edit {
                components,
                events: vec![(
                    rest.to_vec(),
                    EventKind::Insert {
                        index,
                        values: values.clone(),
                    },
                )],
                value: len,
            })
        })
    }

    /// Appends `value` to the list at `path`; returns the new length.
    pub fn push(&self, path: &str, value: impl Serialize) -> Result<Mutation<usize>, ModelError> {
        let value = to_value(&self.absolute(path), value)?;
        self.insert_at(path, None, vec![value])
    }

    /// Prepends `value` to the list at `path`; returns the new length.
    pub fn unshift(
        &self,
        path: &str,
        value: impl Serialize,
    ) -> Result<Mutation<usize>, ModelError> {
        let value = to_value(&self.absolute(path), value)?;
        self.insert(path, 0, vec![value])
    }

    /// Removes `how_many` items at `index` of the list at `path`; returns
    /// them.
    pub fn remove(
        &self,
        path: &str,
        index: usize,
        how_many: usize,
    ) -> Result<Mutation<Vec<Value>>, ModelError> {
        self.remove_at(path, Some(index), how_many)
    }

    /// Removes at `index`, or (`None`) the last `how_many` items of the
    /// list as it is when the op is made (atomically, as for `push`).
    fn remove_at(
        &self,
        path: &str,
        index: Option<usize>,
        how_many: usize,
    ) -> Result<Mutation<Vec<Value>>, ModelError> {
        self.edit(path, |doc, rest| {
            let Some(items) = list_at(doc, rest, "remove")? else {
                return Ok(Edit::new(Vec::new()));
            };
            let index = index.unwrap_or_else(|| items.len().saturating_sub(how_many));
            let end = index.saturating_add(how_many).min(items.len());
            let removed: Vec<Value> = items
                .get(index..end)
                .map(<[Value]>::to_vec)
                .unwrap_or_default();
            if removed.is_empty() {
                return Ok(Edit::new(removed));
            }
            let components = removed
                .iter()
                .map(|v| Component::list_delete(path::to_json0(rest), index, v.clone()))
                .collect();
            Ok(Edit {
                components,
                events: vec![(
                    rest.to_vec(),
                    EventKind::Remove {
                        index,
                        values: removed.clone(),
                    },
                )],
                value: removed,
            })
        })
    }

    /// Removes the last item of the list at `path`; returns it.
    pub fn pop(&self, path: &str) -> Result<Mutation<Option<Value>>, ModelError> {
        let write = self.remove_at(path, None, 1)?;
        Ok(write.map(|value| value.into_iter().next()))
    }

    /// Removes the first item of the list at `path`; returns it.
    pub fn shift(&self, path: &str) -> Result<Mutation<Option<Value>>, ModelError> {
        let write = self.remove(path, 0, 1)?;
        Ok(write.map(|value| value.into_iter().next()))
    }

    /// Moves `how_many` items from `from` to `to` (an index of the list
    /// without them) in the list at `path`; returns the items moved.
    pub fn move_items(
        &self,
        path: &str,
        from: usize,
        to: usize,
        how_many: usize,
    ) -> Result<Mutation<Vec<Value>>, ModelError> {
        self.edit(path, |doc, rest| {
            let Some(items) = list_at(doc, rest, "move")? else {
                return Ok(Edit::new(Vec::new()));
            };
            let len = items.len();
            if how_many == 0
                || from.saturating_add(how_many) > len
                || to.saturating_add(how_many) > len
            {
                return Err(ModelError::NoValue(format!(
                    "{}: moving {how_many} from {from} to {to} in a list of {len}",
                    path::join(rest)
                )));
            }
            let moved = items[from..from + how_many].to_vec();
            if from == to {
                return Ok(Edit::new(moved));
            }
            // One json0 move per item, in an order that keeps them together.
            let p = path::to_json0(rest);
            let components = if to < from {
                (0..how_many)
                    .map(|k| Component::list_move(p.clone(), from + k, to + k))
                    .collect()
            } else {
                (0..how_many)
                    .map(|_| Component::list_move(p.clone(), from, to + how_many - 1))
                    .collect()
            };
            Ok(Edit {
                components,
                events: vec![(rest.to_vec(), EventKind::Move { from, to, how_many })],
                value: moved,
            })
        })
    }

    /// Inserts `text` at `index` (UTF-16 code units, as in JavaScript) of
    /// the string at `path` (created if missing); returns the previous
    /// string. Its `Change` event passes `$stringInsert: {index, text}`.
    pub fn string_insert(
        &self,
        path: &str,
        index: usize,
        text: &str,
    ) -> Result<Mutation<Option<String>>, ModelError> {
        let model = self.pass(json!({"$stringInsert": {"index": index, "text": text}}));
        model.edit(path, |doc, rest| {
            let (components, previous, new) = match value::lookup(doc, rest) {
                Some(Value::String(s)) => {
                    let mut new = s.clone();
                    utf16::inject(&mut new, index, text).map_err(|at| splits(rest, at))?;
                    let at = index.min(utf16::len(s));
                    (
                        vec![Component::string_insert(path::to_json0(rest), at, text)],
                        Some(s.clone()),
                        new,
                    )
                }
                None | Some(Value::Null) => (
                    set_components(doc, rest, json!(text))?.0,
                    None,
                    text.to_owned(),
                ),
                Some(other) => return Err(not_a_string("string_insert", rest, other)),
            };
            let change = EventKind::Change {
                value: Some(Value::String(new)),
                previous: previous.clone().map(Value::String),
            };
            Ok(Edit {
                components,
                events: vec![(rest.to_vec(), change)],
                value: previous,
            })
        })
    }

    /// Removes `how_many` UTF-16 code units at `index` of the string at
    /// `path`; returns the previous string. Its `Change` event passes
    /// `$stringRemove: {index, howMany}`.
    pub fn string_remove(
        &self,
        path: &str,
        index: usize,
        how_many: usize,
    ) -> Result<Mutation<Option<String>>, ModelError> {
        let model = self.pass(json!({"$stringRemove": {"index": index, "howMany": how_many}}));
        model.edit(path, |doc, rest| {
            let s = match value::lookup(doc, rest) {
                Some(Value::String(s)) => s,
                other => {
                    return Err(not_a_string(
                        "string_remove",
                        rest,
                        other.unwrap_or(&Value::Null),
                    ));
                }
            };
            let removed = utf16::slice(s, index, index.saturating_add(how_many))
                .map_err(|at| splits(rest, at))?;
            if removed.is_empty() {
                return Ok(Edit::new(Some(s.clone())));
            }
            let from = utf16::byte_offset(s, index).map_err(|_| splits(rest, index))?;
            let mut new = s.clone();
            new.replace_range(from..from + removed.len(), "");
            let change = EventKind::Change {
                value: Some(Value::String(new)),
                previous: Some(Value::String(s.clone())),
            };
            Ok(Edit {
                components: vec![Component::string_delete(
                    path::to_json0(rest),
                    index,
                    removed,
                )],
                events: vec![(rest.to_vec(), change)],
                value: Some(s.clone()),
            })
        })
    }
    /// Applies a text0 op (json0's embedded text type, Racer's
    /// `subtypeSubmit`) to the string at `path`; returns the previous
    /// string. A one-component op passes `$stringInsert`/`$stringRemove` like
    /// [`string_insert`](Model::string_insert); longer ones `$subtype`.
    pub fn text_op(
        &self,
        path: &str,
        op: text0::Op,
    ) -> Result<Mutation<Option<String>>, ModelError> {
        let passed = crate::model::remote::text0_passed(&op);
        self.pass(passed).edit(path, |doc, rest| {
            let s = match value::lookup(doc, rest) {
                Some(Value::String(s)) => s,
                other => return Err(not_a_string("text_op", rest, other.unwrap_or(&Value::Null))),
            };
            let mut new = s.clone();
            text0::apply(&mut new, &op).map_err(|e| json0_error(rest, e))?;
            let change = EventKind::Change {
                value: Some(Value::String(new)),
                previous: Some(Value::String(s.clone())),
            };
            Ok(Edit {
                components: vec![Component::text0(path::to_json0(rest), op.clone())],
                events: vec![(rest.to_vec(), change)],
                value: Some(s.clone()),
            })
        })
    }
}

fn splits(rest: &[String], at: usize) -> ModelError {
    json0_error(rest, format!("UTF-16 offset {at} splits a character"))
}

fn not_a_string(op: &'static str, rest: &[String], found: &Value) -> ModelError {
    ModelError::WrongType {
        op,
        path: path::join(rest),
        expected: "a string",
        found: type_name(Some(found)),
    }
}

/// A JSON number from an f64, an integer when it is one (as JavaScript
/// prints it).
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn join_rel(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}
