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

#[cfg(feature = "hydrate")]
mod hydrate;

use std::collections::BTreeMap;

use ::leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[cfg(feature = "hydrate")]
pub use hydrate::hydrate_body;

use crate::client::{ClientEvent, ConnectionState};
use crate::model::{EventType, Loadable, Model, ModelQuery};

/// Makes `model` the model of the components below.
pub fn provide_model(model: Model) {
    provide_context(model);
}

/// The model of the current page, if there is one (there is none while
/// Leptos lists an app's routes at startup, for example).
pub fn try_use_model() -> Option<Model> {
    use_context::<Model>()
}

/// The model of the current page.
///
/// # Panics
/// If no model was provided: on the server, add `peloton::axum::ModelLayer`
/// and [`provide_request_model`] as Leptos context; in the browser, start
/// with `hydrate_body` (feature `hydrate`).
pub fn use_model() -> Model {
    use_context::<Model>().expect(
        "no peloton model in context: on the server use ModelLayer + provide_request_model, \
         in the browser peloton::leptos::hydrate_body",
    )
}

/// Provides the request's model (from [`ModelLayer`](crate::axum::ModelLayer))
/// as context; pass it to `leptos_routes_with_context`.
#[cfg(feature = "ssr")]
pub fn provide_request_model() {
    let model = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<crate::axum::RequestModel>().cloned());
    match model {
        Some(model) => provide_model(model.get()),
        None => tracing::error!("no request model: add peloton::axum::ModelLayer to the router"),
    }
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
        let value = ArcRwSignal::new(self.get::<T>(path));
        let mut patterns = vec![if path.is_empty() {
            "**".to_owned()
        } else {
            format!("{path}.**")
        }];
        let segments: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
        patterns.extend((1..segments.len()).map(|k| segments[..k].join(".")));
        let listeners: Vec<u64> = patterns
            .iter()
            .map(|pattern| {
                let (model, path, value) = (self.clone(), path.to_owned(), value.clone());
                self.on(EventType::All, pattern, move |_, _| {
                    let now = model.get::<T>(&path);
                    if value.with_untracked(|current| *current != now) {
                        value.set(now);
                    }
                })
            })
            .collect();
        let model = self.clone();
        on_cleanup(move || {
            for id in listeners {
                model.remove_listener(id);
            }
        });
        value.into()
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
/// `<Suspense>`.
pub fn use_subscribe(
    paths: impl Fn() -> Vec<String> + Send + Sync + 'static,
) -> Resource<Result<(), String>> {
    let model = use_model();
    Resource::new(paths, move |paths| {
        let model = model.clone();
        async move {
            model
                .subscribe(paths.into_iter().map(Loadable::Path))
                .await
                .map_err(|e| e.to_string())
        }
    })
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
    let resource = Resource::new(
        move || query.get().expression().clone(),
        move |_| {
            let query = query.get_untracked();
            async move { query.subscribe().await.map_err(|e| e.to_string()) }
        },
    );
    (resource, query)
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

/// Joins a presence channel as `me` (e.g. `{"name": …}`) and returns
/// everyone else's presence, by presence id, as a signal. Nothing happens
/// on the server, which renders no one.
pub fn use_presence(channel: &str, me: Value) -> Signal<BTreeMap<String, Value>> {
    let model = use_model();
    let others = ArcRwSignal::new(BTreeMap::new());
    let Some(connection) = model
        .connection()
        .cloned()
        .filter(|_| !model.options().fetch_only)
    else {
        return others.into();
    };
    let presence = connection.presence(channel);
    let handle = {
        let (others, presence, channel) = (others.clone(), presence.clone(), channel.to_owned());
        connection.on_event(move |event| {
            if let ClientEvent::Presence { channel: ch, .. } = event
                && *ch == channel
            {
                others.set(presence.others().into_iter().collect());
            }
        })
    };
    let id = model.id();
    presence.submit(&id, me);
    let subscribing = presence.clone();
    crate::client::rt::spawn(async move {
        if let Err(e) = subscribing.subscribe().await {
            tracing::warn!("presence: {e}");
        }
    });
    let handle = std::sync::Mutex::new(Some(handle));
    on_cleanup(move || {
        presence.leave(&id);
        drop(handle.lock().ok().and_then(|mut h| h.take()));
    });
    others.into()
}
