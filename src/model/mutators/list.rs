//! List mutators: insert, push, unshift, remove, pop, shift and move, each
//! one json0 op and one Racer event.
//!
//! Only the list ops live here; the shared machinery (`edit`, events,
//! acknowledgements) is the parent module's.

use serde::Serialize;
use serde_json::Value;

use super::{Edit, Mutation, set_components, to_value};
use crate::model::error::type_name;
use crate::model::events::EventKind;
use crate::model::path;
use crate::model::{Model, ModelError, value};
use crate::ot::json0::Component;

impl Model {
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
    pub(super) fn insert_at(
        &self,
        path: &str,
        index: Option<usize>,
        values: Vec<Value>,
    ) -> Result<Mutation<usize>, ModelError> {
        if let Some(list) = self.ref_list_at(path) {
            return self.insert_into_ref_list(&list, index, values);
        }
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
    pub(super) fn remove_at(
        &self,
        path: &str,
        index: Option<usize>,
        how_many: usize,
    ) -> Result<Mutation<Vec<Value>>, ModelError> {
        if let Some(list) = self.ref_list_at(path) {
            return self.remove_from_ref_list(&list, index, how_many);
        }
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
        if let Some(list) = self.ref_list_at(path) {
            return self.move_in_ref_list(&list, from, to, how_many);
        }
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
