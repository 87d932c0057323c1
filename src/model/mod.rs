//! The model: Racer's API over shared JSON documents.
//!
//! A [`Model`] gives application code a synchronous view of the data it
//! has loaded, addressed by dotted paths: `collection.id.field.0.x`. Reads
//! return the value at a path; writes change it and, for documents of
//! remote collections, turn into json0 ops that sync in the background;
//! every change, local or remote, is an event at its path.
//!
//! Collections whose names start with `_` (`_page`, `_session`) or `$`
//! live only in the model; all others are remote, loaded with
//! [`Model::subscribe`] or [`Model::fetch`] through the model's
//! [`Connection`]. As in Racer, a remote document that is an object reads
//! with its id under `"id"` (`todos.abc.id` is `"abc"`), though the
//! database does not store it: `create` and `add` strip it from what they
//! send, and `set_diff_deep` leaves it alone.
//!
//! # Paths and getters
//!
//! ```
//! use peloton::model::Model;
//! use serde_json::json;
//!
//! let model = Model::local();
//! model.set("_page.user", json!({"name": "Ann", "langs": ["en", "fr"]}))?;
//! let user = model.at("_page.user");
//! assert_eq!(user.path(), "_page.user");
//! assert_eq!(user.get::<String>("name"), Some("Ann".into()));
//! assert_eq!(model.get_value("_page.user.langs.1"), Some(json!("fr")));
//! assert_eq!(user.parent().path(), "_page");
//! assert_eq!(user.leaf(), "user");
//! # Ok::<(), peloton::model::ModelError>(())
//! ```
//!
//! # Mutators
//!
//! ```
//! use peloton::model::Model;
//! use serde_json::json;
//!
//! let model = Model::local();
//! let list = model.at("_page.todos");
//! list.push("", json!("milk"))?;
//! list.insert("", 0, vec![json!("eggs"), json!("tea")])?;
//! list.move_items("", 2, 0, 1)?;
//! assert_eq!(list.get_value(""), Some(json!(["milk", "eggs", "tea"])));
//! assert_eq!(list.remove("", 1, 1)?.value, vec![json!("eggs")]);
//! model.increment("_page.count", 2.0)?;
//! model.string_insert("_page.title", 0, "hi")?;
//! # Ok::<(), peloton::model::ModelError>(())
//! ```
//!
//! # Events
//!
//! ```
//! use peloton::model::{EventKind, EventType, Model};
//! use serde_json::json;
//! use std::sync::{Arc, Mutex};
//!
//! let model = Model::local();
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = seen.clone();
//! model.on(EventType::Change, "_page.todos.*.done", move |event, captures| {
//!     sink.lock().unwrap().push((captures[0].clone(), event.kind.clone()));
//! });
//! model.set("_page.todos", json!([{"done": false}]))?;
//! model.set("_page.todos.0.done", json!(true))?;
//! assert_eq!(seen.lock().unwrap()[0], ("0".to_string(), EventKind::Change {
//!     value: Some(json!(true)),
//!     previous: Some(json!(false)),
//! }));
//! # Ok::<(), peloton::model::ModelError>(())
//! ```

mod bundle;
mod error;
mod events;
mod loading;
mod mutators;
mod path;
mod query;
mod refs;
mod remote;
mod value;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use bundle::{BUNDLE_ELEMENT_ID, Bundle, BundledQuery};
pub use error::ModelError;
pub use events::{EventKind, EventType, ModelEvent};
pub use loading::Loadable;
pub use mutators::Write;
pub use query::ModelQuery;

use crate::client::{Connection, ListenerHandle};
use events::Events;
use path::Segments;

/// How a model behaves.
#[derive(Clone, Debug)]
pub struct ModelOptions {
    /// `subscribe` fetches instead (counted as a subscribe), as models made
    /// for server rendering do: the browser subscribes for real.
    pub fetch_only: bool,
    /// How long after the last unsubscribe a document is really unloaded;
    /// a resubscribe within it costs nothing. Default: 0 on the server,
    /// 1 s in the browser.
    pub unload_delay: Duration,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            fetch_only: false,
            unload_delay: if cfg!(target_arch = "wasm32") {
                Duration::from_secs(1)
            } else {
                Duration::ZERO
            },
        }
    }
}

/// Racer's model: a synchronous, path-based view of shared documents.
///
/// A cheap-clone handle: clones, and the scoped models made by
/// [`at`](Model::at), [`pass`](Model::pass) and [`silent`](Model::silent),
/// share one root.
#[derive(Clone)]
pub struct Model {
    root: Arc<Root>,
    at: Segments,
    pass: Option<Arc<Map<String, Value>>>,
    silent: bool,
}

pub(crate) struct Root {
    state: Mutex<State>,
    events: Events,
    connection: Option<Connection>,
    options: ModelOptions,
    client_listener: Mutex<Option<ListenerHandle>>,
}

/// Everything the model itself keeps.
#[derive(Default)]
pub(crate) struct State {
    /// Local collections: collection → id → data.
    pub local: HashMap<String, Map<String, Value>>,
    pub refs: Vec<refs::Ref>,
    pub ref_lists: Vec<refs::RefList>,
    pub loads: loading::Loads,
    pub queries: HashMap<String, query::QueryEntry>,
}

impl Model {
    /// A model on a connection: remote collections sync through it.
    pub fn new(connection: Connection) -> Self {
        Self::with_options(connection, ModelOptions::default())
    }

    /// A model on a connection, with options.
    pub fn with_options(connection: Connection, options: ModelOptions) -> Self {
        Self::build(Some(connection), options)
    }

    /// A model without a connection: only local collections (`_page`, …).
    pub fn local() -> Self {
        Self::build(None, ModelOptions::default())
    }

    fn build(connection: Option<Connection>, options: ModelOptions) -> Self {
        let root = Arc::new(Root {
            state: Mutex::new(State::default()),
            events: Events::default(),
            connection,
            options,
            client_listener: Mutex::new(None),
        });
        if let Some(connection) = &root.connection {
            let weak: Weak<Root> = Arc::downgrade(&root);
            let handle = connection.on_event(move |event| {
                if let Some(root) = weak.upgrade() {
                    Model::from_root(root).on_client_event(event);
                }
            });
            *lock(&root.client_listener) = Some(handle);
        }
        Self::from_root(root)
    }

    fn from_root(root: Arc<Root>) -> Self {
        Self {
            root,
            at: Vec::new(),
            pass: None,
            silent: false,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.root.state)
    }

    /// The model's connection, if it has one.
    pub fn connection(&self) -> Option<&Connection> {
        self.root.connection.as_ref()
    }

    /// The model's options.
    pub fn options(&self) -> &ModelOptions {
        &self.root.options
    }

    // ----- paths -----

    /// A model scoped to `path` relative to this one.
    pub fn at(&self, path: &str) -> Model {
        Model {
            at: path::concat(&self.at, path),
            ..self.clone()
        }
    }

    /// A model scoped to the absolute `path` (`""`: the root).
    pub fn scope(&self, path: &str) -> Model {
        Model {
            at: path::split(path),
            ..self.clone()
        }
    }

    /// The model of the parent path.
    pub fn parent(&self) -> Model {
        let mut at = self.at.clone();
        at.pop();
        Model { at, ..self.clone() }
    }

    /// This model's absolute path.
    pub fn path(&self) -> String {
        path::join(&self.at)
    }

    /// The last segment of the path.
    pub fn leaf(&self) -> String {
        self.at.last().cloned().unwrap_or_default()
    }

    /// A new random id, for new documents.
    pub fn id(&self) -> String {
        crate::random::new_id()
    }

    /// A model whose mutations pass `value` (an object) to the listeners
    /// of the events they cause, merged with what was passed before.
    pub fn pass(&self, value: Value) -> Model {
        let mut merged = self.pass.as_deref().cloned().unwrap_or_default();
        if let Value::Object(map) = value {
            merged.extend(map);
        }
        Model {
            pass: Some(Arc::new(merged)),
            ..self.clone()
        }
    }

    /// A model whose mutations emit no events.
    pub fn silent(&self) -> Model {
        Model {
            silent: true,
            ..self.clone()
        }
    }

    pub(crate) fn absolute(&self, path: &str) -> Segments {
        path::concat(&self.at, path)
    }

    // ----- getters -----

    /// The value at `path` (relative to this model), deserialized.
    /// `None` if there is none or it is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Option<T> {
        self.read(path, |v| v.and_then(|v| T::deserialize(v).ok()))
    }

    /// A copy of the value at `path`. Unlike Racer's `get`, which returns a
    /// live reference, every getter returns a value of its own, so this is
    /// also Racer's `getCopy` and `getDeepCopy`.
    pub fn get_value(&self, path: &str) -> Option<Value> {
        self.read(path, |v| v.cloned())
    }

    /// Racer's `getCopy`: the same as [`Model::get_value`].
    pub fn get_copy(&self, path: &str) -> Option<Value> {
        self.get_value(path)
    }

    /// Racer's `getDeepCopy`: the same as [`Model::get_value`].
    pub fn get_deep_copy(&self, path: &str) -> Option<Value> {
        self.get_value(path)
    }

    /// The value at `path`, or `default` if there is none.
    pub fn get_or_default<T: DeserializeOwned>(&self, path: &str, default: T) -> T {
        self.get(path).unwrap_or(default)
    }

    /// The value at `path`, or an error saying there is none (or that it
    /// is not a `T`).
    pub fn get_or_err<T: DeserializeOwned>(&self, path: &str) -> Result<T, ModelError> {
        let where_ = path::join(&self.absolute(path));
        let value = self
            .get_value(path)
            .ok_or_else(|| ModelError::NoValue(where_.clone()))?;
        T::deserialize(value).map_err(|e| ModelError::Serde {
            path: where_,
            message: e.to_string(),
        })
    }

    /// Reads the value at `path` without copying it.
    pub fn read<R>(&self, path: &str, f: impl FnOnce(Option<&Value>) -> R) -> R {
        let segments = self.resolve(&self.absolute(path));
        self.read_resolved(&segments, f)
    }

    /// Reads at resolved (dereferenced) segments.
    pub(crate) fn read_resolved<R>(
        &self,
        segments: &[String],
        f: impl FnOnce(Option<&Value>) -> R,
    ) -> R {
        if let Some(list) = self.ref_list_value(segments) {
            return f(Some(&list));
        }
        match segments {
            [] => f(None),
            [collection] => {
                if path::is_local(collection) {
                    let state = self.state();
                    let docs = state.local.get(collection).cloned().map(Value::Object);
                    drop(state);
                    f(docs.as_ref())
                } else {
                    f(None)
                }
            }
            [collection, id, rest @ ..] => {
                if path::is_local(collection) {
                    let state = self.state();
                    let doc = state.local.get(collection).and_then(|docs| docs.get(id));
                    f(doc.and_then(|d| value::lookup(d, rest)))
                } else if let Some(connection) = &self.root.connection {
                    connection
                        .get(collection, id)
                        .read(|doc| match (doc, rest) {
                            // Racer's `id` alias, which the stored data lacks.
                            (Some(Value::Object(map)), []) if !map.contains_key("id") => {
                                let mut with_id = Value::Object(map.clone());
                                value::add_doc_id(&mut with_id, id);
                                f(Some(&with_id))
                            }
                            (Some(Value::Object(map)), [field])
                                if field == "id" && !map.contains_key("id") =>
                            {
                                f(Some(&Value::String(id.clone())))
                            }
                            _ => f(doc.and_then(|d| value::lookup(d, rest))),
                        })
                } else {
                    f(None)
                }
            }
        }
    }

    // ----- events -----

    /// Calls `listener` for events of `event_type` at paths matching
    /// `pattern` (relative to this model; `*` one segment, a trailing `**`
    /// any number), with the captures of the wildcards. Returns an id for
    /// [`Model::remove_listener`].
    pub fn on(
        &self,
        event_type: EventType,
        pattern: &str,
        listener: impl Fn(&ModelEvent, &[String]) + Send + Sync + 'static,
    ) -> u64 {
        let pattern = path::join(&self.absolute(pattern));
        self.root.events.add(event_type, &pattern, false, listener)
    }

    /// Like [`Model::on`], for the first matching event only.
    pub fn once(
        &self,
        event_type: EventType,
        pattern: &str,
        listener: impl Fn(&ModelEvent, &[String]) + Send + Sync + 'static,
    ) -> u64 {
        let pattern = path::join(&self.absolute(pattern));
        self.root.events.add(event_type, &pattern, true, listener)
    }

    /// Removes a listener; whether it was there.
    pub fn remove_listener(&self, id: u64) -> bool {
        self.root.events.remove(id)
    }

    /// Removes every listener.
    pub fn remove_all_listeners(&self) {
        self.root.events.remove_all();
    }

    /// Emits events of a mutation (with this model's `pass` data), and
    /// their echoes through refs.
    pub(crate) fn emit(&self, events: Vec<(Segments, EventKind)>) {
        if self.silent || events.is_empty() {
            return;
        }
        let passed = self.pass.as_deref().cloned().unwrap_or_default();
        self.emit_with(events, passed);
    }

    pub(crate) fn emit_with(&self, events: Vec<(Segments, EventKind)>, passed: Map<String, Value>) {
        let mut out = Vec::new();
        for (segments, mut kind) in events {
            if let [collection, id] = segments.as_slice()
                && !path::is_local(collection)
            {
                kind.values_mut().for_each(|v| value::add_doc_id(v, id));
            }
            for (segments, kind) in self.echoes(segments, kind) {
                out.push((
                    segments.clone(),
                    ModelEvent {
                        path: path::join(&segments),
                        kind,
                        passed: passed.clone(),
                    },
                ));
            }
        }
        self.root.events.emit(out);
    }

    /// Resolves once nothing is pending on the connection.
    pub async fn when_nothing_pending(&self) {
        if let Some(connection) = &self.root.connection {
            connection.when_nothing_pending().await;
        }
    }

    /// Stops listening to the connection and closes it.
    pub fn close(&self) {
        lock(&self.root.client_listener).take();
        if let Some(connection) = &self.root.connection {
            connection.close();
        }
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("path", &self.path())
            .field("silent", &self.silent)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
