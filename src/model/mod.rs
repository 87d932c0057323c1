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
//!
//! # Pass and silent
//!
//! A mutation made through [`Model::pass`] hands its data to every
//! listener of the events it causes (remote changes pass `$remote`); one
//! made through [`Model::silent`] emits nothing.
//!
//! ```
//! use peloton::model::{EventType, Model};
//! use serde_json::json;
//! use std::sync::{Arc, Mutex};
//!
//! let model = Model::local();
//! let passed = Arc::new(Mutex::new(Vec::new()));
//! let sink = passed.clone();
//! model.on(EventType::Change, "_page.title", move |event, _| {
//!     sink.lock().unwrap().push(event.passed.clone());
//! });
//! model.pass(json!({"from": "editor"})).set("_page.title", "Hi")?;
//! model.silent().set("_page.title", "unheard")?;
//! assert_eq!(passed.lock().unwrap().len(), 1);
//! assert_eq!(passed.lock().unwrap()[0]["from"], "editor");
//! # Ok::<(), peloton::model::ModelError>(())
//! ```
//!
//! # Refs
//!
//! A ref makes `from` read and write through to `to`, and re-emits every
//! event under `to` at the same place under `from`. A ref list makes
//! `from` a list of the documents of `to` whose ids are listed at `ids`;
//! `from.<index>.…` reads and writes `to.<id>.…`, and events follow the
//! ids as they are inserted, removed and moved. List mutators on `from`
//! write through: documents into `to`, their ids into `ids`. An echo
//! through a ref is heard before the event it echoes, as in Racer.
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
//! model.push("_page.list", json!({"id": "blue", "hex": "00f"}))?;
//! assert_eq!(model.get_value("_page.order.2"), Some(json!("blue")));
//! # Ok::<(), peloton::model::ModelError>(())
//! ```
//!
//! # Reactive functions, filters and sorts
//!
//! [`Model::start`] keeps an output path equal to a function of input
//! paths; [`Model::filter`] and [`Model::sort`] give a [`ModelFilter`], a
//! filtered, sorted view of a collection or list, kept live at a path by
//! [`ModelFilter::ref_to`]. Both follow every change of their inputs,
//! local or remote.
//!
//! # Queries
//!
//! Loaded and counted like documents; the handle gives the results
//! ([`ModelQuery::ids`], [`ModelQuery::get`], [`ModelQuery::docs`],
//! [`ModelQuery::extra`]). A document that leaves a live query's results
//! is released, as if unsubscribed: unloaded unless something else holds
//! it.
//!
//! ```
//! # #[cfg(feature = "ssr")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), peloton::model::ModelError> {
//! use peloton::backend::Backend;
//! use peloton::client::Connection;
//! use peloton::model::Model;
//! use serde_json::json;
//!
//! let model = Model::new(Connection::new(Backend::new()));
//! model.add("todos", json!({"id": "t1", "text": "milk", "done": false}))?.acked().await?;
//! model.add("todos", json!({"text": "tea", "done": true}))?.acked().await?;
//!
//! let open = model.query("todos", json!({"done": false}));
//! model.subscribe([&open]).await?;
//! // Each result reads with Racer's `id` alias (not stored in the database).
//! assert_eq!(open.get(), vec![json!({"text": "milk", "done": false, "id": "t1"})]);
//!
//! let count = model.query("todos", json!({"$count": true}));
//! model.fetch([&count]).await?;
//! assert_eq!(count.extra(), Some(json!(2)));
//!
//! // A ref list of the results, as Racer's `query.ref`.
//! let list = open.ref_to("_page.open");
//! assert_eq!(list.get_value("0.text"), Some(json!("milk")));
//! # Ok(()) }
//! # #[cfg(not(feature = "ssr"))]
//! # fn main() {}
//! ```
//!
//! # Loading and unloading
//!
//! Racer counts: an item subscribed twice must be unsubscribed twice before
//! it goes, and a document stays while anything (a subscribe, a fetch, a
//! local create) holds it. [`Model::unload`] undoes every load made since
//! the previous `unload`; the actual unsubscribe waits
//! [`unload_delay`](ModelOptions::unload_delay), so a page that
//! subscribes to the same data again right away keeps it without a round
//! trip.
//!
//! ```
//! # #[cfg(feature = "ssr")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), peloton::model::ModelError> {
//! use peloton::backend::Backend;
//! use peloton::client::Connection;
//! use peloton::model::Model;
//! use serde_json::json;
//!
//! let backend = Backend::new();
//! let writer = Model::new(Connection::new(backend.clone()));
//! writer.create("notes.n1", json!({"text": "hi"}))?.acked().await?;
//!
//! let reader = Model::new(Connection::new(backend));
//! reader.subscribe(["notes.n1"]).await?;
//! assert_eq!(reader.get::<String>("notes.n1.text"), Some("hi".into()));
//! reader.unsubscribe(["notes.n1"]).await?;
//! assert_eq!(reader.get_value("notes.n1"), None); // unloaded
//! # Ok(()) }
//! # #[cfg(not(feature = "ssr"))]
//! # fn main() {}
//! ```
//!
//! A fetch-only model (what [`ModelLayer`](crate::axum::ModelLayer) gives
//! each page request) fetches where it is asked to subscribe, and counts
//! it as a subscribe, so its bundle tells the browser what to subscribe
//! to:
//!
//! ```
//! # #[cfg(feature = "ssr")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), peloton::model::ModelError> {
//! use peloton::backend::Backend;
//! use peloton::client::Connection;
//! use peloton::model::{Model, ModelOptions};
//! use serde_json::json;
//!
//! let backend = Backend::new();
//! Model::new(Connection::new(backend.clone()))
//!     .create("notes.n1", json!({"text": "hi"}))?
//!     .acked()
//!     .await?;
//! let mut options = ModelOptions::default();
//! options.fetch_only = true;
//! let page = Model::with_options(Connection::new(backend), options);
//! page.subscribe(["notes.n1"]).await?;
//! let doc = page.connection().unwrap().get("notes", "n1");
//! assert!(!doc.subscribed(), "fetched, not subscribed");
//! assert_eq!(page.bundle().await.counts, [("notes".into(), "n1".into(), 1, 0)]);
//! # Ok(()) }
//! # #[cfg(not(feature = "ssr"))]
//! # fn main() {}
//! ```
//!
//! # Bundles
//!
//! A bundle holds what the model loaded (remote documents with their
//! versions, query results, load counts), its refs, and its local
//! collections (`_page`, `_session`; not the computed `$…` ones). Rebuilt
//! on a live connection, what was subscribed on the server (where a
//! fetch-only model fetched it) is subscribed for real, from the bundled
//! versions, so the server sends only what changed since the page was
//! rendered.
//!
//! ```
//! use peloton::model::{Bundle, Model, ModelOptions};
//! use serde_json::json;
//!
//! let model = Model::local();
//! model.set("_page.title", "Groceries")?;
//! model.ref_to("_page.heading", "_page.title");
//! let bundle: Bundle = model.bundle_now();
//! let json = serde_json::to_string(&bundle).unwrap();
//!
//! let again = Model::from_bundle(None, serde_json::from_str(&json).unwrap(), ModelOptions::default());
//! assert_eq!(again.get_value("_page.heading"), Some(json!("Groceries")));
//! # Ok::<(), peloton::model::ModelError>(())
//! ```
//!
//! # Layout
//!
//! This file holds the guide above, the [`Model`] handle and its getters
//! (most of its length is the guide). Each concern has its module, and
//! none reaches into another's state except through `Model`: `mutators`
//! (writes, with `list`, `text` and `ref_list`), `events` (the registry
//! and delivery order) and `listeners` (the listener API, event contexts
//! and emitting), `refs`, `fns` (reactive functions), `filters`,
//! `loading` (subscribe, fetch, unload), `query`, `remote` (ops from the
//! connection), `undo`, `bundle`, `path` and `value` (pure helpers). The
//! model never speaks the protocol: documents are the client's
//! ([`crate::client`]).
//!
//! (This file runs past 600 lines because 275 of them are this guide;
//! the code below is the `Model` type, its construction and its getters.)

mod bundle;
mod error;
mod events;
mod filters;
mod fns;
mod history;
mod listeners;
mod loading;
mod mutators;
pub(crate) mod path;
mod query;
mod refs;
mod remote;
mod undo;
mod value;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use bundle::{BUNDLE_ELEMENT_ID, BUNDLE_WAIT, Bundle, BundledQuery};
pub use error::ModelError;
pub use events::{EventKind, EventType, ModelEvent};
pub use filters::ModelFilter;
pub use fns::{Inputs, ReactiveFn};
pub use loading::Loadable;
pub use mutators::Mutation;
pub use query::ModelQuery;
pub use refs::RefOptions;
pub use undo::UndoState;

use crate::client::{Connection, ListenerHandle};
use events::Events;
use path::Segments;

/// How far past the end of a list a write may go: the gap is filled with
/// nulls (JSON has no holes), and an index from a typo or a hostile client
/// must not allocate without bound.
pub const MAX_PADDING: usize = 10_000;

/// How a model behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ModelOptions {
    /// `subscribe` fetches instead (counted as a subscribe), as models made
    /// for server rendering do: the browser subscribes for real.
    pub fetch_only: bool,
    /// How long after the last unsubscribe a document is really unloaded;
    /// a resubscribe within it costs nothing. Default: 0 on the server,
    /// 1 s in the browser.
    pub unload_delay: Duration,
    /// How many undo steps the model keeps ([`Model::undo`]); 0 keeps
    /// none. Fetch-only models never keep any. Default: 100.
    pub undo_limit: usize,
    /// Typing on in one string (from where the previous edit left the
    /// caret) within this long of the previous keystroke is one undo step.
    /// Default: 1 s.
    pub undo_merge_window: Duration,
    /// How long [`Model::bundle`] waits for pending requests before it
    /// bundles what it has. Default: [`BUNDLE_WAIT`] (10 s).
    pub bundle_wait: Duration,
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
            undo_limit: 100,
            undo_merge_window: Duration::from_secs(1),
            bundle_wait: BUNDLE_WAIT,
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
    /// The event context listeners added through this model join
    /// ([`Model::event_context`]).
    context: Option<Arc<str>>,
}

pub(crate) struct Root {
    state: Mutex<State>,
    events: Events,
    connection: Option<Connection>,
    options: ModelOptions,
    client_listener: Mutex<Option<ListenerHandle>>,
    history: Mutex<undo::History>,
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
    /// Listener ids by event context.
    pub contexts: HashMap<Arc<str>, Vec<u64>>,
    pub fns: fns::Fns,
    pub filters: filters::Filters,
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
            history: Mutex::new(undo::History::default()),
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
            context: None,
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
        // A whole document is read in place, not from a copy that holds
        // its id alias (what `read` has to give).
        let mut at = (self.at.iter().map(String::as_str)).chain(path::segments(path));
        if let (Some(collection), Some(id), None) = (at.next(), at.next(), at.next()) {
            return self.get_doc(collection, id)?.ok();
        }
        self.read(path, |v| v.and_then(|v| T::deserialize(v).ok()))
    }

    /// A copy of the value at `path`. Unlike Racer's `get`, which returns a
    /// live reference, every getter returns a value of its own, so this is
    /// also Racer's `getCopy` and `getDeepCopy`.
    pub fn get_value(&self, path: &str) -> Option<Value> {
        self.read(path, |v| v.cloned())
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

    /// Reads the value at `path` without copying it. `f` runs under the
    /// model's (or its connection's) lock: it must not call the model.
    pub fn read<R>(&self, path: &str, f: impl FnOnce(Option<&Value>) -> R) -> R {
        if !self.has_refs() {
            // No ref to follow (most models): the segments are borrowed,
            // not copied, and kept on the stack (a page's rows read
            // hundreds of paths).
            let segments: smallvec::SmallVec<[&str; 8]> = (self.at.iter().map(String::as_str))
                .chain(path::segments(path))
                .collect();
            return self.read_at(&segments, f);
        }
        let segments = self.resolve_owned(self.absolute(path));
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
        self.read_at(segments, f)
    }

    /// Reads at segments that are no ref list's own path.
    fn read_at<R, S: AsRef<str>>(&self, segments: &[S], f: impl FnOnce(Option<&Value>) -> R) -> R {
        match segments {
            [] => f(None),
            [collection] => {
                let collection = collection.as_ref();
                if path::is_local(collection) {
                    let state = self.state();
                    let docs = state.local.get(collection).cloned().map(Value::Object);
                    drop(state);
                    f(docs.as_ref())
                } else if let Some(connection) = &self.root.connection {
                    // The documents loaded, each with Racer's `id` alias.
                    let docs: Map<String, Value> = (connection.collection(collection))
                        .into_iter()
                        .map(|(id, mut data)| {
                            value::add_doc_id(&mut data, &id);
                            (id, data)
                        })
                        .collect();
                    if docs.is_empty() {
                        f(None)
                    } else {
                        f(Some(&Value::Object(docs)))
                    }
                } else {
                    f(None)
                }
            }
            [collection, id, rest @ ..] => {
                let (collection, id) = (collection.as_ref(), id.as_ref());
                self.read_stored_doc(collection, id, |doc, remote| match (doc, rest) {
                    // Racer's `id` alias, which a remote document's stored
                    // data lacks.
                    (Some(Value::Object(map)), []) if remote && !map.contains_key("id") => {
                        let mut with_id = Value::Object(map.clone());
                        value::add_doc_id(&mut with_id, id);
                        f(Some(&with_id))
                    }
                    (Some(Value::Object(map)), [field])
                        if remote && field.as_ref() == "id" && !map.contains_key("id") =>
                    {
                        f(Some(&Value::String(id.to_owned())))
                    }
                    _ => f(doc.and_then(|d| value::lookup(d, rest))),
                })
            }
        }
    }

    /// Reads document `collection.id` as it is stored, local or remote
    /// (`f`'s second argument: only remote ones have Racer's `id` alias).
    fn read_stored_doc<R>(
        &self,
        collection: &str,
        id: &str,
        f: impl FnOnce(Option<&Value>, bool) -> R,
    ) -> R {
        if path::is_local(collection) {
            let state = self.state();
            f(
                state.local.get(collection).and_then(|docs| docs.get(id)),
                false,
            )
        } else if let Some(connection) = &self.root.connection {
            connection.read_doc(collection, id, |doc| f(doc, true))
        } else {
            f(None, true)
        }
    }

    /// Document `collection.id` (absolute) as a `T`, read in place: with
    /// Racer's `id` alias, but without copying its data as
    /// [`Model::get`] at a document's path does. `None` when there is no
    /// such document.
    pub(crate) fn get_doc<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
    ) -> Option<Result<T, serde_json::Error>> {
        if self.has_refs() {
            // A ref may stand at the document's path: read as `get` does.
            let at = self.scope("");
            return at.read(&format!("{collection}.{id}"), |doc| doc.map(T::deserialize));
        }
        self.read_stored_doc(collection, id, |doc, remote| {
            doc.map(|data| match remote {
                true => value::deserialize_doc(data, id),
                false => T::deserialize(data),
            })
        })
    }

    /// Resolves once nothing is pending on the connection.
    pub async fn when_nothing_pending(&self) {
        if let Some(connection) = &self.root.connection {
            connection.when_nothing_pending().await;
        }
    }

    /// Like [`Model::when_nothing_pending`], giving up after `limit`;
    /// whether nothing was pending in the end.
    pub async fn when_nothing_pending_within(&self, limit: Duration) -> bool {
        let settled = std::pin::pin!(self.when_nothing_pending());
        let timeout = std::pin::pin!(crate::client::rt::sleep(limit));
        matches!(
            futures::future::select(settled, timeout).await,
            futures::future::Either::Left(_)
        )
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
