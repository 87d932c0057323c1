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
use super::value;
use crate::list_diff::{self, ArrayDiff};

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

    /// Whether any ref or ref list is set: if none is, every path reads
    /// as it is written.
    pub(crate) fn has_refs(&self) -> bool {
        let state = self.state();
        !state.refs.is_empty() || !state.ref_lists.is_empty()
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
        self.resolve_owned(segments.to_vec())
    }

    /// [`resolve`](Model::resolve), reusing `segments` (every read
    /// resolves its path: most have no ref to follow).
    pub(crate) fn resolve_owned(&self, mut segments: Segments) -> Segments {
        let (refs, lists) = self.refs_snapshot();
        if refs.is_empty() && lists.is_empty() {
            return segments;
        }
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

    /// Writes to a ref list's own path other than the list mutators and
    /// `set` (which write through, see `mutators::ref_list`) are refused:
    /// its content is derived from its ids.
    pub(crate) fn edit_ref_list<T>(&self, segments: &[String]) -> Option<Result<T, ModelError>> {
        let is_list = self.state().ref_lists.iter().any(|l| l.from == segments);
        is_list.then(|| {
            Err(ModelError::RefList(format!(
                "{} is a ref list: write it with set, push, insert, remove or move, or change its ids (or the documents)",
                path::join(segments)
            )))
        })
    }

    /// An event and its echoes through refs and ref lists, in the order
    /// listeners hear them: as in Racer, an echo comes before the event it
    /// echoes (through a chain `a → b → c`, a change of `c` is heard at
    /// `a`, then `b`, then `c`), echoes of one event in the order their
    /// refs were made.
    pub(crate) fn echoes(&self, segments: Segments, kind: EventKind) -> Vec<(Segments, EventKind)> {
        let (refs, lists) = self.refs_snapshot();
        if refs.is_empty() && lists.is_empty() {
            return vec![(segments, kind)];
        }
        let mut out = Vec::new();
        self.echo_into(&refs, &lists, segments, kind, &mut Vec::new(), &mut out);
        out
    }

    /// Puts the echoes of an event (depth first), then the event, into
    /// `out`. `within`: the events being echoed, so a cycle of refs ends.
    fn echo_into(
        &self,
        refs: &[Ref],
        lists: &[RefList],
        segments: Segments,
        kind: EventKind,
        within: &mut Vec<(Segments, EventKind)>,
        out: &mut Vec<(Segments, EventKind)>,
    ) {
        let mut derived = Vec::new();
        for r in refs {
            if path::starts_with(&segments, &r.to) {
                let echoed = [r.from.as_slice(), &segments[r.to.len()..]].concat();
                push_new(&mut derived, echoed, kind.clone());
            } else if path::starts_with(&r.to, &segments) {
                let value = self.read_resolved(&self.resolve(&r.to), |v| v.cloned());
                push_new(
                    &mut derived,
                    r.from.clone(),
                    EventKind::Change {
                        value,
                        previous: None,
                    },
                );
            }
        }
        for list in lists {
            self.echo_list(list, &segments, &kind, &mut derived);
        }
        within.push((segments.clone(), kind.clone()));
        for (echoed, echoed_kind) in derived {
            let seen = |(s, k): &(Segments, EventKind)| *s == echoed && *k == echoed_kind;
            if within.len() < MAX_DEPTH
                && out.len() < 64
                && !within.iter().any(seen)
                && !out.iter().any(seen)
            {
                self.echo_into(refs, lists, echoed, echoed_kind, within, out);
            }
        }
        within.pop();
        push_new(out, segments, kind);
    }

    fn echo_list(
        &self,
        list: &RefList,
        segments: &[String],
        kind: &EventKind,
        out: &mut Vec<(Segments, EventKind)>,
    ) {
        let whole_change = || EventKind::Change {
            value: Some(self.list_items(list, &self.ids_of(list))),
            previous: None,
        };
        let docs = |ids: &[String]| match self.list_items(list, ids) {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        if path::starts_with(&list.ids, segments) {
            let ids = |values: &[Value]| values.iter().map(id_string).collect::<Vec<_>>();
            let exact = segments == list.ids.as_slice();
            match kind {
                EventKind::Insert { index, values } if exact => push_new(
                    out,
                    list.from.clone(),
                    EventKind::Insert {
                        index: *index,
                        values: docs(&ids(values)),
                    },
                ),
                EventKind::Remove { index, values } if exact => push_new(
                    out,
                    list.from.clone(),
                    EventKind::Remove {
                        index: *index,
                        values: docs(&ids(values)),
                    },
                ),
                EventKind::Move { from, to, how_many } if exact => push_new(
                    out,
                    list.from.clone(),
                    EventKind::Move {
                        from: *from,
                        to: *to,
                        how_many: *how_many,
                    },
                ),
                // The ids (or what holds them) replaced: the list changes
                // by the inserts, removes and moves between the two.
                EventKind::Change { previous, .. } => {
                    let rel = &list.ids[segments.len()..];
                    let before = previous
                        .as_ref()
                        .and_then(|p| value::lookup(p, rel))
                        .and_then(Value::as_array)
                        .map(|values| ids(values))
                        .unwrap_or_default();
                    for event in self.list_changes(list, &before, &self.ids_of(list)) {
                        push_new(out, list.from.clone(), event);
                    }
                }
                _ => push_new(out, list.from.clone(), whole_change()),
            }
        } else if path::starts_with(segments, &list.ids) {
            // One id replaced: the item at its index is another document.
            let index = &segments[list.ids.len()];
            match kind {
                EventKind::Change { value, previous } if segments.len() == list.ids.len() + 1 => {
                    let doc = |id: Option<&Value>| {
                        id.map(|id| docs(&[id_string(id)]))
                            .and_then(|mut d| d.pop())
                            .filter(|d| !d.is_null())
                    };
                    let mut echoed = list.from.clone();
                    echoed.push(index.clone());
                    push_new(
                        out,
                        echoed,
                        EventKind::Change {
                            value: doc(value.as_ref()),
                            previous: doc(previous.as_ref()),
                        },
                    );
                }
                _ => push_new(out, list.from.clone(), whole_change()),
            }
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

impl Model {
    /// The events that turn a ref list of `before` ids into one of `after`
    /// ids: removes, then moves and inserts (Racer's `setArrayDiff`).
    fn list_changes(&self, list: &RefList, before: &[String], after: &[String]) -> Vec<EventKind> {
        let docs = |ids: &[String]| match self.list_items(list, ids) {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        let mut current = before.to_vec();
        let mut events = Vec::new();
        for step in list_diff::diff_hashed(before, after) {
            match step {
                ArrayDiff::Insert { index, values } => {
                    let index = index.min(current.len());
                    current.splice(index..index, values.iter().cloned());
                    events.push(EventKind::Insert {
                        index,
                        values: docs(&values),
                    });
                }
                ArrayDiff::Remove { index, how_many } => {
                    let end = (index + how_many).min(current.len());
                    let gone: Vec<String> = current.drain(index.min(end)..end).collect();
                    events.push(EventKind::Remove {
                        index,
                        values: docs(&gone),
                    });
                }
                ArrayDiff::Move { from, to, how_many } => {
                    let end = (from + how_many).min(current.len());
                    let moved: Vec<String> = current.drain(from.min(end)..end).collect();
                    let to = to.min(current.len());
                    current.splice(to..to, moved);
                    events.push(EventKind::Move { from, to, how_many });
                }
            }
        }
        events
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
