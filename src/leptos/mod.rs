//! The view side, on Leptos: the model in context, signals driven by model
//! events, loading during server rendering, and hydration from the page's
//! bundle.
//!
//! A route component gets the model with [`use_model`], loads what it shows
//! with [`use_subscribe`] (awaited while the server renders; resolved from
//! the page when the browser hydrates), and reads it through [`signal`]s
//! that update when, and only when, a model event touches their path.
//! Writes go through the model's mutators.
//!
//! For editing together: [`TextInput`] and [`TextArea`] bind fields to
//! shared strings (see [`text`](TextArea) for what they keep right),
//! [`use_doc_presence`] and [`RemoteCarets`] show where everyone is, and
//! [`use_undo`] / [`use_undo_shortcuts`] give the model's undo to views.
//!
//! ```ignore
//! use leptos::prelude::*;
//! use peloton::leptos::{signal, use_model, use_subscribe};
//!
//! #[component]
//! fn Note(id: String) -> impl IntoView {
//!     let model = use_model();
//!     let path = format!("notes.{id}");
//!     let loaded = use_subscribe({ let path = path.clone(); move || vec![path.clone()] });
//!     let text = signal::<String>(&format!("{path}.text"));
//!     view! {
//!         <Suspense fallback=|| "Loading…">
//!             {move || loaded.get().map(|_| view! { <p>{move || text.get().unwrap_or_default()}</p> })}
//!         </Suspense>
//!     }
//! }
//! ```

mod derived;
mod errors;
#[cfg(feature = "hydrate")]
mod hydrate;
mod presence;
mod text;
mod undo;

use ::leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use derived::{FilterSignals, QuerySignals, use_event_context, use_start};
pub use errors::{SyncError, use_sync_error};
#[cfg(feature = "hydrate")]
pub use hydrate::{HydrateOptions, hydrate_body, hydrate_body_with};
pub use presence::{
    DocPresenceView, RemoteCaret, RemoteCarets, RemoteCaretsProps, use_doc_presence, use_presence,
};
pub use text::{TextArea, TextAreaProps, TextInput, TextInputProps};
pub use undo::{UndoSignals, use_undo, use_undo_shortcuts};

use crate::client::{ClientEvent, ConnectionState};
use crate::model::{Loadable, Model, ModelQuery};

/// Makes `model` the model of the components below.
pub fn provide_model(model: Model) {
    provide_context(LazyModel::ready(model));
}

/// A page's model that is made when a component first asks for it: what a
/// server integration puts in context (`peloton::axum::provide_request_model`
/// does), so responses that never ask, such as static files, cost nothing.
///
/// It is also how [`provide_model`] provides a model that is there already:
/// components find the page's model in one context lookup, whichever way
/// it came.
#[derive(Clone)]
pub struct LazyModel(std::sync::Arc<dyn Fn() -> Model + Send + Sync>);

impl LazyModel {
    /// A model made by `make`, when first asked for.
    pub fn new(make: impl Fn() -> Model + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(make))
    }

    /// A model that is there already.
    pub fn ready(model: Model) -> Self {
        Self::new(move || model.clone())
    }
}

impl std::fmt::Debug for LazyModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyModel").finish_non_exhaustive()
    }
}

/// The model of the current page, if there is one (there is none while
/// Leptos lists an app's routes at startup, for example). On the server
/// the request's model is made on first use.
pub fn try_use_model() -> Option<Model> {
    use_context::<LazyModel>().map(|lazy| (lazy.0)())
}

/// The model of the current page.
///
/// # Panics
/// If no model was provided: on the server, add `peloton::axum::ModelLayer`
/// and `peloton::axum::provide_request_model` as Leptos context; in the
/// browser, start with `hydrate_body` (feature `hydrate`).
pub fn use_model() -> Model {
    try_use_model().expect(
        "no peloton model in context: on the server use peloton::axum::ModelLayer and \
         provide_request_model, in the browser peloton::leptos::hydrate_body",
    )
}

/// Signals of model paths.
pub trait ModelSignals {
    /// A signal of the value at `path` (relative to this model), updated
    /// when a model event touches the path: at it, below it, or at one of
    /// its parents. `None` when there is no value or it is not a `T`.
    fn signal<T>(&self, path: &str) -> Signal<Option<T>>
    where
        T: DeserializeOwned + PartialEq + Clone + Send + Sync + 'static;
}

impl ModelSignals for Model {
    fn signal<T>(&self, path: &str) -> Signal<Option<T>>
    where
        T: DeserializeOwned + PartialEq + Clone + Send + Sync + 'static,
    {
        // Events at the path, below it, and at each of its parents (for a
        // scoped model, its own path's parents too: a whole document
        // loaded or replaced).
        let (model, owned) = (self.clone(), path.to_owned());
        derived::watched(
            self,
            |notify| derived::listen_at(self, path, notify),
            move || model.get::<T>(&owned),
        )
    }
}

/// A signal of the value at `path` of the page's model.
pub fn signal<T>(path: &str) -> Signal<Option<T>>
where
    T: DeserializeOwned + PartialEq + Clone + Send + Sync + 'static,
{
    use_model().signal(path)
}

/// Subscribes the page's model to the documents at the paths `paths()`
/// returns (again whenever they change). On the server the returned
/// resource resolves once they are loaded, so the page renders with them;
/// in the browser it is resolved from the server's render. Use it in a
/// `<Suspense>`. In the browser, what it subscribed is unsubscribed when
/// the paths change or the component goes (Derby's unload on navigation).
pub fn use_subscribe(
    paths: impl Fn() -> Vec<String> + Send + Sync + 'static,
) -> Resource<Result<(), String>> {
    let model = use_model();
    let paths = std::sync::Arc::new(paths);
    unsubscribe_when_gone(&model, {
        let paths = paths.clone();
        move || paths().into_iter().map(Loadable::Path).collect()
    });
    Resource::new(
        move || paths(),
        move |paths| {
            let model = model.clone();
            async move {
                model
                    .subscribe(paths.into_iter().map(Loadable::Path))
                    .await
                    .map_err(|e| e.to_string())
            }
        },
    )
}

/// Subscribes the page's model to a query (again whenever `expression()`
/// changes); see [`use_subscribe`]. The query's results are then at
/// [`ModelQuery::ids`] and [`ModelQuery::get`], or as a ref list.
pub fn use_subscribe_query(
    collection: &str,
    expression: impl Fn() -> Value + Send + Sync + 'static,
) -> (Resource<Result<(), String>>, Memo<ModelQuery>) {
    let model = use_model();
    let collection = collection.to_owned();
    let query = {
        let model = model.clone();
        Memo::new(move |_| model.query(&collection, expression()))
    };
    unsubscribe_when_gone(&model, move || vec![Loadable::Query(query.get())]);
    let resource = Resource::new(
        move || query.get().expression().clone(),
        move |_| {
            let query = query.get_untracked();
            async move { query.subscribe().await.map_err(|e| e.to_string()) }
        },
    );
    (resource, query)
}

/// Unsubscribes, in the browser, the items `current()` gives whenever they
/// change (the old ones) and when the component is cleaned up (the last).
/// Not on the server: there the counts go into the page's bundle.
fn unsubscribe_when_gone(
    model: &Model,
    current: impl Fn() -> Vec<Loadable> + Send + Sync + 'static,
) {
    if model.options().fetch_only || model.connection().is_none() {
        return;
    }
    let last = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Loadable>::new()));
    let release = {
        let model = model.clone();
        move |items: Vec<Loadable>| {
            if items.is_empty() {
                return;
            }
            let model = model.clone();
            crate::client::rt::spawn(async move {
                if let Err(e) = model.unsubscribe(items).await {
                    tracing::warn!("unsubscribing after a page change failed: {e}");
                }
            });
        }
    };
    Effect::new({
        let (last, release) = (last.clone(), release.clone());
        move |_| {
            let now = current();
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            if keys(&last) != keys(&now) {
                release(std::mem::replace(&mut *last, now));
            }
        }
    });
    on_cleanup(move || {
        let items = std::mem::take(&mut *last.lock().unwrap_or_else(|e| e.into_inner()));
        release(items);
    });
}

/// What tells loadable items apart, to see whether a page's changed.
fn keys(items: &[Loadable]) -> Vec<String> {
    items
        .iter()
        .map(|item| match item {
            Loadable::Path(path) => path.clone(),
            Loadable::Scoped(model) => model.path(),
            Loadable::Query(query) => query.key().to_owned(),
        })
        .collect()
}

/// The state of the page model's connection, as a signal. On the server
/// (a fetch-only model) it is `Connecting`, as the page will be in the
/// browser until its WebSocket is up, so hydration matches.
pub fn connection_state() -> Signal<ConnectionState> {
    let model = use_model();
    let Some(connection) = model.connection().cloned() else {
        return Signal::stored(ConnectionState::Closed);
    };
    if model.options().fetch_only {
        return Signal::stored(ConnectionState::Connecting);
    }
    let state = ArcRwSignal::new(connection.state());
    let handle = {
        let state = state.clone();
        connection.on_event(move |event| {
            if let ClientEvent::State(now) = event {
                state.set(*now);
            }
        })
    };
    let handle = std::sync::Mutex::new(Some(handle));
    on_cleanup(move || drop(handle.lock().ok().and_then(|mut h| h.take())));
    state.into()
}
