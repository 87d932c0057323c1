//! Refs: one path that stands for another.
//!
//! A ref makes `from` read and write through to `to`, and re-emits every
//! event under `to` at the same place under `from`. A ref list makes
//! `from` a list of the documents of `to` whose ids are listed at `ids`;
//! `from.<index>.…` reads and writes `to.<id>.…`, and events follow the
//! ids as they are inserted, removed and moved.
//!
//! ```
//! use peloton::model::Model;
//! use serde_json::json;
//!
//! let model = Model::local();
//! model.set("_page.colors", json!({"green": {"hex": "0f0"}, "red": {"hex": "f00"}}))?;
//! model.ref_to("_page.current", "_page.colors.green");
//! assert_eq!(model.get_value("_page.current.hex"), Some(json!("0f0")));
//! model.set("_page.current.hex", "00ff00")?; // writes through
//! assert_eq!(model.get_value("_page.colors.green.hex"), Some(json!("00ff00")));
//!
//! model.set("_page.order", json!(["red", "green"]))?;
//! model.ref_list("_page.list", "_page.colors", "_page.order");
//! assert_eq!(model.get_value("_page.list.0.hex"), Some(json!("f00")));
//! model.move_items("_page.order", 0, 1, 1)?;
//! assert_eq!(model.get_value("_page.list.0.hex"), Some(json!("00ff00")));
//! # Ok::<(), peloton::model::ModelError>(())
//! ```

use serde_json::Value;

use super::Model;
use super::ModelError;
use super::events::EventKind;
use super::path::{self, Segments};

/// `from` stands for `to`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ref {
    pub from: Segments,
    pub to: Segments,
}

/// `from` is the list of `to.<id>` for the ids at `ids`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RefList {
    pub from: Segments,
    pub to: Segments,
    pub ids: Segments,
}

/// How many refs a path may go through (refs to refs), so a cycle ends.
const MAX_DEPTH: usize = 16;

impl Model {
    /// Makes `from` stand for `to` (both relative to this model): reads and
    /// writes go through, and events under `to` are re-emitted under
    /// `from`. Racer's `ref`. Returns the model at `from`.
    pub fn ref_to(&self, from: &str, to: &str) -> Model {
        let (from, to) = (self.absolute(from), self.absolute(to));
        self.install(from.clone(), |state| state.refs.push(Ref { from, to }))
    }

    /// Makes `from` the list of the documents of the collection `to` whose
    /// ids are the list at `ids`. Racer's `refList`. Returns the model at
    /// `from`.
    pub fn ref_list(&self, from: &str, to: &str, ids: &str) -> Model {
        let (from, to, ids) = (self.absolute(from), self.absolute(to), self.absolute(ids));
        self.install(from.clone(), |state| {
            state.ref_lists.push(RefList { from, to, ids })
        })
    }

    /// Replaces whatever ref was at `from` by the one `add` adds, and tells
    /// `from`'s listeners its new value.
    fn install(&self, from: Segments, add: impl FnOnce(&mut super::State)) -> Model {
        {
            let mut state = self.state();
            remove_at(&mut state, &from);
            add(&mut state);
        }
        let value = self.read_resolved(&self.resolve(&from), |v| v.cloned());
        self.emit(vec![(
            from.clone(),
            EventKind::Change {
                value,
                previous: None,
            },
        )]);
        self.scope(&path::join(&from))
    }

    /// Removes the ref or ref list at `from`.
    pub fn remove_ref(&self, from: &str) {
        remove_at(&mut self.state(), &self.absolute(from));
    }

    /// Removes every ref and ref list.
    pub fn remove_all_refs(&self) {
        let mut state = self.state();
        state.refs.clear();
        state.ref_lists.clear();
    }

    fn refs_snapshot(&self) -> (Vec<Ref>, Vec<RefList>) {
        let state = self.state();
        (state.refs.clone(), state.ref_lists.clone())
    }

    /// The ids listed at a ref list's `ids` path.
    fn ids_of(&self, list: &RefList) -> Vec<String> {
        self.read_resolved(&self.resolve(&list.ids), |v| {
            v.and_then(Value::as_array)
                .map(|ids| ids.iter().map(id_string).collect())
                .unwrap_or_default()
        })
    }

    /// Follows refs: the path the data of `segments` really is at.
    pub(crate) fn resolve(&self, segments: &[String]) -> Segments {
        let (refs, lists) = self.refs_snapshot();
        if refs.is_empty() && lists.is_empty() {
            return segments.to_vec();
        }
        let mut segments = segments.to_vec();
        for _ in 0..MAX_DEPTH {
            if let Some(r) = refs
                .iter()
                .filter(|r| path::starts_with(&segments, &r.from))
                .max_by_key(|r| r.from.len())
            {
                segments = [r.to.as_slice(), &segments[r.from.len()..]].concat();
                continue;
            }
            let through_list = lists.iter().find_map(|list| {
                if segments.len() <= list.from.len() || !path::starts_with(&segments, &list.from) {
                    return None;
                }
                let index = path::index(&segments[list.from.len()])?;
                let id = self.ids_of(list).get(index)?.clone();
                let mut out = list.to.clone();
                out.push(id);
                out.extend_from_slice(&segments[list.from.len() + 1..]);
                Some(out)
            });
            match through_list {
                Some(next) => segments = next,
                None => break,
            }
        }
        segments
    }

    /// The value of a ref list at exactly `segments`, if one is there.
    pub(crate) fn ref_list_value(&self, segments: &[String]) -> Option<Value> {
        let list = self
            .state()
            .ref_lists
            .iter()
            .find(|l| l.from == segments)
            .cloned()?;
        Some(self.list_items(&list, &self.ids_of(&list)))
    }

    fn list_items(&self, list: &RefList, ids: &[String]) -> Value {
        Value::Array(
            ids.iter()
                .map(|id| {
                    let mut doc = list.to.clone();
                    doc.push(id.clone());
                    self.read_resolved(&self.resolve(&doc), |v| v.cloned().unwrap_or(Value::Null))
                })
                .collect(),
        )
    }

    /// Writing to a ref list's own path is refused: its content is derived
    /// from its ids.
    pub(crate) fn edit_ref_list<T>(&self, segments: &[String]) -> Option<Result<T, ModelError>> {
        let is_list = self.state().ref_lists.iter().any(|l| l.from == segments);
        is_list.then(|| {
            Err(ModelError::RefList(format!(
                "{} is a ref list: change its ids (or the documents) instead",
                path::join(segments)
            )))
        })
    }

    /// An event and its echoes through refs and ref lists.
    pub(crate) fn echoes(&self, segments: Segments, kind: EventKind) -> Vec<(Segments, EventKind)> {
        let (refs, lists) = self.refs_snapshot();
        let mut out = vec![(segments, kind)];
        if refs.is_empty() && lists.is_empty() {
            return out;
        }
        let mut i = 0;
        while i < out.len() && out.len() < 64 {
            let (segments, kind) = out[i].clone();
            for r in &refs {
                if path::starts_with(&segments, &r.to) {
                    let echoed = [r.from.as_slice(), &segments[r.to.len()..]].concat();
                    push_new(&mut out, echoed, kind.clone());
                } else if path::starts_with(&r.to, &segments) {
                    let value = self.read_resolved(&self.resolve(&r.to), |v| v.cloned());
                    push_new(
                        &mut out,
                        r.from.clone(),
                        EventKind::Change {
                            value,
                            previous: None,
                        },
                    );
                }
            }
            for list in &lists {
                self.echo_list(list, &segments, &kind, &mut out);
            }
            i += 1;
        }
        out
    }

    fn echo_list(
        &self,
        list: &RefList,
        segments: &[String],
        kind: &EventKind,
        out: &mut Vec<(Segments, EventKind)>,
    ) {
        if segments == list.ids.as_slice() {
            let docs = |ids: &[Value]| match self
                .list_items(list, &ids.iter().map(id_string).collect::<Vec<_>>())
            {
                Value::Array(items) => items,
                _ => Vec::new(),
            };
            let echoed = match kind {
                EventKind::Insert { index, values } => EventKind::Insert {
                    index: *index,
                    values: docs(values),
                },
                EventKind::Remove { index, values } => EventKind::Remove {
                    index: *index,
                    values: docs(values),
                },
                EventKind::Move { from, to, how_many } => EventKind::Move {
                    from: *from,
                    to: *to,
                    how_many: *how_many,
                },
                _ => EventKind::Change {
                    value: Some(self.list_items(list, &self.ids_of(list))),
                    previous: None,
                },
            };
            push_new(out, list.from.clone(), echoed);
        } else if path::starts_with(segments, &list.ids) || path::starts_with(&list.ids, segments) {
            let value = Some(self.list_items(list, &self.ids_of(list)));
            push_new(
                out,
                list.from.clone(),
                EventKind::Change {
                    value,
                    previous: None,
                },
            );
        } else if segments.len() > list.to.len() && path::starts_with(segments, &list.to) {
            let id = &segments[list.to.len()];
            let rest = &segments[list.to.len() + 1..];
            for (index, listed) in self.ids_of(list).iter().enumerate() {
                if listed == id {
                    let mut echoed = list.from.clone();
                    echoed.push(index.to_string());
                    echoed.extend_from_slice(rest);
                    push_new(out, echoed, kind.clone());
                }
            }
        }
    }
}

fn remove_at(state: &mut super::State, from: &[String]) {
    state.refs.retain(|r| r.from != from);
    state.ref_lists.retain(|r| r.from != from);
}

fn push_new(out: &mut Vec<(Segments, EventKind)>, segments: Segments, kind: EventKind) {
    if !out.iter().any(|(s, k)| *s == segments && *k == kind) {
        out.push((segments, kind));
    }
}

/// An id in an ids list: a string, or a number written as one.
fn id_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
