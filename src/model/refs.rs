//! Refs: one path that stands for another.
//!
//! This module owns the refs and ref lists, and how they redirect paths and
//! echo events; it writes no data: a write through a ref is the mutators', at
//! the path `resolve` gives.

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
    /// Whether `to`'s list indexes follow inserts, removes and moves.
    pub follow: bool,
}

/// How a ref treats list indexes in its target path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefOptions {
    /// A ref to a list item (`todos.l.items.2`) follows the item as items
    /// are inserted, removed and moved before it (Racer's
    /// `updateIndices`), and goes away with it when the item is removed.
    /// The default; `false` keeps the index fixed, Racer's default.
    pub follow_list_items: bool,
}

impl Default for RefOptions {
    fn default() -> Self {
        Self {
            follow_list_items: true,
        }
    }
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
    ///
    /// A ref to a list item follows the item when items before it are
    /// inserted, removed or moved, locally or remotely, and is removed with
    /// it (see [`RefOptions`]; Racer keeps the index unless asked).
    ///
    /// ```
    /// use peloton::model::Model;
    /// use serde_json::json;
    ///
    /// let model = Model::local();
    /// model.set("_page.todos", json!([{"text": "milk"}, {"text": "eggs"}]))?;
    /// let selected = model.ref_to("_page.selected", "_page.todos.1");
    /// model.insert("_page.todos", 0, vec![json!({"text": "tea"})])?;
    /// assert_eq!(selected.get::<String>("text"), Some("eggs".into()));
    /// selected.set("text", "brown eggs")?; // writes through
    /// assert_eq!(model.get_value("_page.todos.2.text"), Some(json!("brown eggs")));
    /// # Ok::<(), peloton::model::ModelError>(())
    /// ```
    pub fn ref_to(&self, from: &str, to: &str) -> Model {
        self.ref_to_with(from, to, RefOptions::default())
    }

    /// [`Model::ref_to`] with options.
    pub fn ref_to_with(&self, from: &str, to: &str, options: RefOptions) -> Model {
        let (from, to) = (self.absolute(from), self.absolute(to));
        let follow = options.follow_list_items;
        self.install(from.clone(), |state| {
            state.refs.push(Ref { from, to, follow })
        })
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

    /// Moves the indexes of refs into lists that `events` changed, so
    /// each ref keeps pointing at its item; removes the refs whose item was
    /// removed, and returns the events that tells their listeners.
    pub(crate) fn follow_list_items(
        &self,
        events: &[(Segments, EventKind)],
    ) -> Vec<(Segments, EventKind)> {
        let mut gone = Vec::new();
        let mut state = self.state();
        if state.refs.iter().all(|r| !r.follow) {
            return Vec::new();
        }
        for (list, kind) in events {
            state.refs.retain_mut(|r| {
                let Some(index) =
                    r.to.get(list.len())
                        .filter(|_| r.follow && path::starts_with(&r.to, list))
                        .and_then(|s| path::index(s))
                else {
                    return true;
                };
                match patched_index(index, kind) {
                    Some(moved) => {
                        r.to[list.len()] = moved.to_string();
                        true
                    }
                    None => {
                        gone.push((r.from.clone(), kind.clone(), index));
                        false
                    }
                }
            });
        }
        drop(state);
        gone.into_iter()
            .map(|(from, kind, index)| {
                let previous = match kind {
                    EventKind::Remove { index: at, values } => values.get(index - at).cloned(),
                    _ => None,
                };
                (
                    from,
                    EventKind::Change {
                        value: None,
                        previous,
                    },
                )
            })
            .collect()
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

    /// The ids listed at a ref list's `ids` path. Ids read through ref
    /// lists whose ids are read through … more than [`MAX_DEPTH`] deep (a
    /// ref list whose ids path goes through itself) read as none.
    fn ids_of(&self, list: &RefList) -> Vec<String> {
        thread_local!(static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) });
        /// Restores the depth, even if a read panics.
        struct Deeper(usize);
        impl Drop for Deeper {
            fn drop(&mut self) {
                DEPTH.set(self.0);
            }
        }
        let depth = DEPTH.get();
        if depth >= MAX_DEPTH {
            return Vec::new();
        }
        DEPTH.set(depth + 1);
        let _restore = Deeper(depth);
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

/// Where the item at `index` of a list is after `kind` happened to the list;
/// `None` if it was removed.
fn patched_index(index: usize, kind: &EventKind) -> Option<usize> {
    match kind {
        EventKind::Insert { index: at, values } if *at <= index => Some(index + values.len()),
        EventKind::Remove { index: at, values } if *at <= index => {
            let n = values.len();
            (index >= at + n).then(|| index - n)
        }
        EventKind::Move { from, to, how_many } => {
            let (from, to, n) = (*from, *to, *how_many);
            if (from..from + n).contains(&index) {
                return Some(index - from + to);
            }
            let mut i = index;
            if from <= i {
                i -= n;
            }
            if to <= i {
                i += n;
            }
            Some(i)
        }
        _ => Some(index),
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
