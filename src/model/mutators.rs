//! Mutators: each computes the json0 op of its change from the current data
//! (atomically, for remote documents), applies it (locally, or through the
//! connection), and emits Racer's events.
//!
//! This module owns the shared machinery (`edit`, [`Mutation`]) and the
//! value and object writes; list and string writes are in `list` and
//! `text`. Mutators must not touch the connection's documents directly:
//! ops go through `edit`, which knows local from remote.

use serde::Serialize;
use serde_json::{Value, json};

use super::error::type_name;
use super::events::EventKind;
use super::path::{self, Segments};
use super::{Model, ModelError, value};
use crate::client::Ack;
use crate::ot::json0::{self, Component};

mod diff;
mod list;
mod ref_list;
mod text;

pub(crate) use diff::Strings;

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
    // What goes at `key`: `new`, under the parents it lacks (made only
    // where it is used: a set at the last level moves `new` in whole).
    let filler = |new| value::implied(&rest[k + 1..], new);
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
                Some(old) => Component::object_replace(p, old.clone(), filler(new)?),
                None => Component::object_insert(p, filler(new)?),
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
                    vec![Component::list_replace(at, i, old.clone(), filler(new)?)],
                    None,
                ));
            }
            // Past the end: pad with nulls, as far as JSON allows holes.
            value::check_padding(&rest[..k], i, items.len())?;
            let mut out: Vec<Component> = (items.len()..i)
                .map(|j| Component::list_insert(at.clone(), j, Value::Null))
                .collect();
            out.push(Component::list_insert(at, i, filler(new)?));
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

impl Model {
    /// Applies an edit to the document at `path` (resolved through refs).
    fn edit<R>(
        &self,
        path: &str,
        f: impl FnOnce(&Value, &[String]) -> Result<Edit<R>, ModelError>,
    ) -> Result<Mutation<R>, ModelError> {
        let segments = self.resolve_owned(self.absolute(path));
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
        if let Some(list) = self.ref_list_at(path) {
            let items = match new {
                Value::Array(items) => items,
                Value::Null => Vec::new(),
                other => vec![other],
            };
            return self.set_ref_list(&list, items);
        }
        let segments = self.resolve_owned(self.absolute(path));
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
        let segments = self.resolve_owned(self.absolute(path));
        let new = to_value(&segments, value)?;
        self.create_doc(&segments, new, false)
    }

    /// Creates the document unless it exists.
    pub fn create_null(
        &self,
        path: &str,
        value: impl Serialize,
    ) -> Result<Mutation<()>, ModelError> {
        let segments = self.resolve_owned(self.absolute(path));
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
                crate::ot::object_keys::remove(map, "id");
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
        if let Some(list) = self.ref_list_at(path) {
            return self.set_ref_list(&list, Vec::new());
        }
        let segments = self.resolve_owned(self.absolute(path));
        if let [collection, id] = segments.as_slice() {
            let previous = self.read_resolved(&segments, |v| v.cloned());
            let ack = if path::is_local(collection) {
                self.state()
                    .local
                    .get_mut(collection)
                    .and_then(|docs| crate::ot::object_keys::remove(docs, id));
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
                        value: Some(value::number(value)),
                        previous,
                    },
                )],
                value,
            })
        })
    }
}

fn join_rel(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}
