//! Filters and sorts (Racer's `filter` and `sort`): a live, filtered,
//! sorted view of a collection or list. [`ModelFilter::ids`] and
//! [`ModelFilter::get`] compute it when asked; [`ModelFilter::ref_to`]
//! keeps it at a path (a ref list over ids kept at `$filters.<path>`),
//! updated on every change of the items or the inputs, local or remote.
//!
//! This module owns the filters and their listeners; it writes only the
//! filter's ids (through `set_diff_deep`, so the view changes by inserts,
//! removes and moves) and never the items.

use std::cmp::Ordering as CmpOrdering;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::Model;
use super::path::{self, Segments};

type Predicate = dyn Fn(&Value, &str, &[Option<Value>]) -> bool + Send + Sync;
type Comparator = dyn Fn(&Value, &Value) -> CmpOrdering + Send + Sync;

/// A filtered, sorted view of the items at a path: the documents of a
/// collection (`todos`), the values of an object (`_page.colors`) or the
/// items of a list (their ids are their indexes). Build one with
/// [`Model::filter`] or [`Model::sort`].
///
/// ```
/// use peloton::model::Model;
/// use serde_json::json;
///
/// let model = Model::local();
/// model.set("_page.todos", json!({
///     "a": {"text": "milk", "done": false, "rank": 2},
///     "b": {"text": "eggs", "done": true, "rank": 1},
///     "c": {"text": "tea", "done": false, "rank": 1},
/// }))?;
/// let open = model
///     .filter("_page.todos", |todo, _id| todo["done"] == false)
///     .sort(|a, b| a["rank"].as_i64().cmp(&b["rank"].as_i64()));
/// assert_eq!(open.ids(), ["c", "a"]);
///
/// // Kept at a path, live: a ref list of the matching items.
/// open.ref_to("_page.open");
/// model.set("_page.todos.b.done", false)?;
/// assert_eq!(model.get_value("_page.open.0.text"), Some(json!("eggs")));
/// # Ok::<(), peloton::model::ModelError>(())
/// ```
#[derive(Clone)]
pub struct ModelFilter {
    model: Model,
    view: View,
}

/// What a filter computes, without its model (a kept filter's listeners
/// hold this and a weak handle on the model, never the model itself).
#[derive(Clone)]
struct View {
    path: Segments,
    inputs: Vec<Segments>,
    predicate: Option<Arc<Predicate>>,
    comparator: Option<Arc<Comparator>>,
    skip: usize,
    limit: Option<usize>,
}

impl std::fmt::Debug for ModelFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelFilter")
            .field("path", &path::join(&self.view.path))
            .field("skip", &self.view.skip)
            .field("limit", &self.view.limit)
            .finish_non_exhaustive()
    }
}

/// The model's filters kept at paths: output path, ids path, listeners.
#[derive(Default)]
pub(crate) struct Filters(Vec<(Segments, Segments, Vec<u64>)>);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Model {
    /// The items at `path` (relative to this model) for which `keep(item,
    /// id)` holds, in their order. Racer's `filter`.
    pub fn filter(
        &self,
        path: &str,
        keep: impl Fn(&Value, &str) -> bool + Send + Sync + 'static,
    ) -> ModelFilter {
        self.filter_with(path, &[], move |item, id, _| keep(item, id))
    }

    /// [`Model::filter`] with inputs: `keep(item, id, inputs)` also gets the
    /// values at `inputs`, and the view is computed again when they change.
    pub fn filter_with(
        &self,
        path: &str,
        inputs: &[&str],
        keep: impl Fn(&Value, &str, &[Option<Value>]) -> bool + Send + Sync + 'static,
    ) -> ModelFilter {
        let mut filter = self.all_items(path, inputs);
        filter.view.predicate = Some(Arc::new(keep));
        filter
    }

    /// All the items at `path`, sorted by `compare`. Racer's `sort`.
    pub fn sort(
        &self,
        path: &str,
        compare: impl Fn(&Value, &Value) -> CmpOrdering + Send + Sync + 'static,
    ) -> ModelFilter {
        self.all_items(path, &[]).sort(compare)
    }

    fn all_items(&self, path: &str, inputs: &[&str]) -> ModelFilter {
        ModelFilter {
            model: Model::from_root(self.root.clone()),
            view: View {
                path: self.absolute(path),
                inputs: inputs.iter().map(|p| self.absolute(p)).collect(),
                predicate: None,
                comparator: None,
                skip: 0,
                limit: None,
            },
        }
    }

    /// Stops the filter kept at `out` (relative to this model): its ref
    /// list and its ids go.
    pub fn remove_filter(&self, out: &str) {
        let out = self.absolute(out);
        let removed = {
            let mut state = self.state();
            let at = state.filters.0.iter().position(|(o, _, _)| *o == out);
            at.map(|at| state.filters.0.remove(at))
        };
        if let Some((out, ids, listeners)) = removed {
            for id in listeners {
                self.remove_listener(id);
            }
            let root = Model::from_root(self.root.clone());
            root.remove_ref(&path::join(&out));
            if let Err(e) = root.del(&path::join(&ids)) {
                tracing::debug!("removing the ids of filter {}: {e}", path::join(&out));
            }
        }
    }
}

impl ModelFilter {
    /// Sorts the view by `compare` (a stable sort: equal items keep their
    /// order).
    pub fn sort(
        mut self,
        compare: impl Fn(&Value, &Value) -> CmpOrdering + Send + Sync + 'static,
    ) -> Self {
        self.view.comparator = Some(Arc::new(compare));
        self
    }

    /// Leaves out the first `n` items of the view.
    pub fn skip(mut self, n: usize) -> Self {
        self.view.skip = n;
        self
    }

    /// Keeps at most `n` items of the view.
    pub fn limit(mut self, n: usize) -> Self {
        self.view.limit = Some(n);
        self
    }

    /// The path of the items, absolute.
    pub fn path(&self) -> String {
        path::join(&self.view.path)
    }

    /// The paths whose changes may change the view, absolute: the items',
    /// and the inputs'.
    pub fn watched_paths(&self) -> Vec<String> {
        std::iter::once(&self.view.path)
            .chain(&self.view.inputs)
            .map(|p| path::join(p))
            .collect()
    }

    /// Calls `listener` whenever the view may have changed (its items or
    /// inputs changed). Returns the listeners' ids, for
    /// [`Model::remove_listener`]; the view layer's filter signals are built
    /// on it.
    pub fn on_change(&self, listener: impl Fn() + Send + Sync + 'static) -> Vec<u64> {
        let listener = Arc::new(listener);
        (self.watched_paths().iter())
            .map(|path| {
                let listener = listener.clone();
                self.model.on_value_change(path, move |_| listener())
            })
            .collect()
    }

    /// The model the filter reads.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The ids (keys, or list indexes) of the view, in order.
    pub fn ids(&self) -> Vec<String> {
        self.view.ids(&self.model)
    }

    /// The items of the view, in order.
    pub fn get(&self) -> Vec<Value> {
        (self.view.compute(&self.model).into_iter())
            .map(|(_, item)| item)
            .collect()
    }

    /// Keeps the view at `out` (absolute), live, until
    /// [`Model::remove_filter`]: a ref list of the items, over their ids
    /// kept at `$filters.<out>` (dots as `|`), updated on every change of
    /// the items or inputs, by inserts, removes and moves. Racer's
    /// `filter.ref`; returns the model at `out`.
    pub fn ref_to(&self, out: &str) -> Model {
        let root = &self.model;
        root.remove_filter(out);
        let out_segments = path::split(out);
        let ids_path = vec!["$filters".to_owned(), out.replace('.', "|")];
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let update = {
            let (view, ids_path) = (self.view.clone(), path::join(&ids_path));
            let weak = Arc::downgrade(&root.root);
            move |model: Option<&Model>| {
                let model = match model {
                    Some(model) => model.clone(),
                    None => match weak.upgrade() {
                        Some(root) => Model::from_root(root),
                        None => return,
                    },
                };
                let writer = model.pass(json!({ "$filter": id }));
                if let Err(e) = writer.set_diff_deep(&ids_path, view.ids(&model)) {
                    tracing::warn!("filter at {ids_path}: {e}");
                }
            }
        };
        update(Some(root));
        let update = Arc::new(update);
        let listeners = self
            .watched_paths()
            .iter()
            .map(|watched| {
                let update = update.clone();
                root.on_value_change(watched, move |event| {
                    if event.passed.get("$filter").and_then(Value::as_u64) != Some(id) {
                        update(None);
                    }
                })
            })
            .collect();
        let list = root.ref_list(out, &self.path(), &path::join(&ids_path));
        root.state()
            .filters
            .0
            .push((out_segments, ids_path, listeners));
        list
    }
}

impl View {
    fn ids(&self, model: &Model) -> Vec<String> {
        (self.compute(model).into_iter())
            .map(|(id, _)| id)
            .collect()
    }

    fn compute(&self, model: &Model) -> Vec<(String, Value)> {
        let items: Vec<(String, Value)> =
            model.read_resolved(&model.resolve(&self.path), |value| match value {
                Some(Value::Object(map)) => {
                    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                }
                Some(Value::Array(items)) => (items.iter().enumerate())
                    .map(|(i, v)| (i.to_string(), v.clone()))
                    .collect(),
                _ => Vec::new(),
            });
        let inputs: Vec<Option<Value>> = (self.inputs.iter())
            .map(|input| model.read_resolved(&model.resolve(input), |v| v.cloned()))
            .collect();
        let mut view: Vec<(String, Value)> = match &self.predicate {
            Some(keep) => items
                .into_iter()
                .filter(|(id, item)| keep(item, id, &inputs))
                .collect(),
            None => items,
        };
        if let Some(compare) = &self.comparator {
            view.sort_by(|a, b| compare(&a.1, &b.1));
        }
        let view = view.into_iter().skip(self.skip);
        match self.limit {
            Some(limit) => view.take(limit).collect(),
            None => view.collect(),
        }
    }
}
