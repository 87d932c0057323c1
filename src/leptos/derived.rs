//! Signals of what the model derives: a query's results, a filtered and
//! sorted view, and the lifetimes of reactive functions and event contexts
//! tied to a component.
//!
//! This module only turns model listeners into signals and component
//! cleanups; the views themselves are the model's (`ModelQuery`,
//! `ModelFilter`, `Model::start`, `Model::event_context`).

use std::sync::Arc;

use ::leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::use_model;
use crate::model::{Model, ModelError, ModelFilter, ModelQuery, ReactiveFn};

/// A signal of `compute()`, computed again whenever a listener that
/// `listen` adds fires, and set only when the result changed; the
/// listeners go with the component.
pub(crate) fn watched<T>(
    model: &Model,
    listen: impl FnOnce(Arc<dyn Fn() + Send + Sync>) -> Vec<u64>,
    compute: impl Fn() -> T + Send + Sync + 'static,
) -> Signal<T>
where
    T: PartialEq + Send + Sync + 'static,
{
    if model.options().fetch_only {
        // A server render's model: nothing edits it, and what loads while
        // the page renders is read when the value is: no listener, no
        // stored copy (a page of 100 rows made 200 of each).
        return Signal::derive(compute);
    }
    let value = ArcRwSignal::new(compute());
    let notify = {
        let value = value.clone();
        move || {
            let now = compute();
            if value.with_untracked(|current| *current != now) {
                value.set(now);
            }
        }
    };
    let listeners = listen(Arc::new(notify));
    let model = model.clone();
    on_cleanup(move || {
        for id in listeners {
            model.remove_listener(id);
        }
    });
    value.into()
}

/// One value-change listener at `path`, calling `notify`.
pub(crate) fn listen_at(
    model: &Model,
    path: &str,
    notify: Arc<dyn Fn() + Send + Sync>,
) -> Vec<u64> {
    vec![model.on_value_change(path, move |_| notify())]
}

/// A query's results as signals, updated by remote changes like any path.
///
/// ```ignore
/// let (loaded, lists) = use_subscribe_query("lists", || json!({"$sort": {"createdAt": 1}}));
/// let ids = lists.get_untracked().ids_signal();
/// ```
pub trait QuerySignals {
    /// The result ids, in order.
    fn ids_signal(&self) -> Signal<Vec<String>>;
    /// The results as `T`s, in order.
    fn docs_signal<T>(&self) -> Signal<Vec<T>>
    where
        T: DeserializeOwned + PartialEq + Send + Sync + 'static;
    /// The extra result (`$count`, …) as a `T`.
    fn extra_signal<T>(&self) -> Signal<Option<T>>
    where
        T: DeserializeOwned + PartialEq + Send + Sync + 'static;
}

impl QuerySignals for ModelQuery {
    fn ids_signal(&self) -> Signal<Vec<String>> {
        let query = self.clone();
        watched(
            self.model(),
            |n| listen_at(self.model(), &self.ids_path(), n),
            move || query.ids(),
        )
    }

    fn docs_signal<T>(&self) -> Signal<Vec<T>>
    where
        T: DeserializeOwned + PartialEq + Send + Sync + 'static,
    {
        let query = self.clone();
        watched(
            self.model(),
            |n| self.on_change(move || n()),
            move || query.docs::<T>(),
        )
    }

    fn extra_signal<T>(&self) -> Signal<Option<T>>
    where
        T: DeserializeOwned + PartialEq + Send + Sync + 'static,
    {
        let query = self.clone();
        watched(
            self.model(),
            |n| listen_at(self.model(), &self.extra_path(), n),
            move || query.extra_as::<T>(),
        )
    }
}

/// A filtered, sorted view as signals, updated by every change of its
/// items or inputs, local or remote.
pub trait FilterSignals {
    /// The ids of the view, in order.
    fn ids_signal(&self) -> Signal<Vec<String>>;
    /// The items of the view as `T`s, in order (those that are not a `T`
    /// are left out).
    fn docs_signal<T>(&self) -> Signal<Vec<T>>
    where
        T: DeserializeOwned + PartialEq + Send + Sync + 'static;
}

impl FilterSignals for ModelFilter {
    fn ids_signal(&self) -> Signal<Vec<String>> {
        let filter = self.clone();
        watched(
            self.model(),
            |n| self.on_change(move || n()),
            move || filter.ids(),
        )
    }

    fn docs_signal<T>(&self) -> Signal<Vec<T>>
    where
        T: DeserializeOwned + PartialEq + Send + Sync + 'static,
    {
        let filter = self.clone();
        watched(
            self.model(),
            |n| self.on_change(move || n()),
            move || {
                (filter.get().into_iter())
                    .filter_map(|item| serde_json::from_value::<T>(item).ok())
                    .collect()
            },
        )
    }
}

/// Starts a reactive function on the page's model for as long as the
/// component lives ([`Model::start`], stopped on cleanup); read `out` with
/// a signal like any path.
pub fn use_start(
    out: &str,
    inputs: &[&str],
    f: impl Into<ReactiveFn>,
) -> Result<Option<Value>, ModelError> {
    let model = use_model();
    let first = model.start(out, inputs, f)?;
    let out = out.to_owned();
    on_cleanup(move || model.stop(&out));
    Ok(first)
}

/// The page's model in an event context of its own, whose listeners are
/// all removed when the component goes ([`Model::event_context`]).
pub fn use_event_context() -> Model {
    let model = use_model().event_context(&crate::random::new_id());
    let context = model.clone();
    on_cleanup(move || {
        context.remove_context_listeners();
    });
    model
}
