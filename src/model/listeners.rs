//! The model's listener API: [`Model::on`], [`Model::once`],
//! [`Model::on_value_change`] and their removal, and how a mutation's events
//! are emitted (with the model's `pass` data, echoed through refs).
//!
//! The registry and delivery order are `events`'; this module must not
//! change data, only report what changed.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::events::{EventKind, EventType, ModelEvent};
use super::path::{self, Segments};
use super::{Model, value};

impl Model {
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
        self.listen(event_type, pattern, false, listener)
    }

    /// Like [`Model::on`], for the first matching event only.
    pub fn once(
        &self,
        event_type: EventType,
        pattern: &str,
        listener: impl Fn(&ModelEvent, &[String]) + Send + Sync + 'static,
    ) -> u64 {
        self.listen(event_type, pattern, true, listener)
    }

    fn listen(
        &self,
        event_type: EventType,
        pattern: &str,
        once: bool,
        listener: impl Fn(&ModelEvent, &[String]) + Send + Sync + 'static,
    ) -> u64 {
        let pattern = path::join(&self.absolute(pattern));
        let id = self.root.events.add(event_type, &pattern, once, listener);
        self.join_context(id)
    }

    /// Whether an event at `segments` could reach a listener, directly or
    /// echoed through a ref.
    pub(crate) fn heard_at<S: AsRef<str>>(&self, segments: &[S]) -> bool {
        let state = self.state();
        !state.refs.is_empty() || !state.ref_lists.is_empty() || self.root.events.heard_at(segments)
    }

    /// Calls `listener` for every event at `path` (relative to this model),
    /// below it, or at one of its parents: whatever may change the value
    /// read there (what a view's signal of `path` listens to). Returns an
    /// id for [`Model::remove_listener`].
    pub fn on_value_change(
        &self,
        path: &str,
        listener: impl Fn(&ModelEvent) + Send + Sync + 'static,
    ) -> u64 {
        let id = (self.root.events)
            .add_value_listener(&self.absolute(path), move |event, _| listener(event));
        self.join_context(id)
    }

    /// A model whose listeners (added with [`Model::on`], [`Model::once`]
    /// or [`Model::on_value_change`], through it or models made from it)
    /// belong to the event context `id`, so that
    /// [`Model::remove_context_listeners`] removes them all at once: what
    /// a page or component added, when it goes. Racer's `eventContext`.
    ///
    /// ```
    /// use peloton::model::{EventType, Model};
    ///
    /// let model = Model::local();
    /// let page = model.event_context("page-1");
    /// page.on(EventType::Change, "_page.**", |_, _| {});
    /// page.at("_page.list").on_value_change("", |_| {});
    /// assert_eq!(page.remove_context_listeners(), 2);
    /// ```
    pub fn event_context(&self, id: &str) -> Model {
        Model {
            context: Some(Arc::from(id)),
            ..self.clone()
        }
    }

    /// Removes every listener of this model's event context; how many.
    /// Without a context, removes nothing.
    pub fn remove_context_listeners(&self) -> usize {
        let Some(context) = &self.context else {
            return 0;
        };
        let ids = self.state().contexts.remove(context).unwrap_or_default();
        ids.into_iter()
            .filter(|id| self.root.events.remove(*id))
            .count()
    }

    fn join_context(&self, id: u64) -> u64 {
        if let Some(context) = &self.context {
            let mut state = self.state();
            state.contexts.entry(context.clone()).or_default().push(id);
        }
        id
    }

    /// Removes a listener; whether it was there.
    pub fn remove_listener(&self, id: u64) -> bool {
        if let Some(context) = &self.context
            && let Some(ids) = self.state().contexts.get_mut(context)
        {
            ids.retain(|listener| *listener != id);
        }
        self.root.events.remove(id)
    }

    /// Removes every listener.
    pub fn remove_all_listeners(&self) {
        self.state().contexts.clear();
        self.root.events.remove_all();
    }

    /// Emits events of a mutation (with this model's `pass` data), and
    /// their echoes through refs.
    pub(crate) fn emit(&self, events: Vec<(Segments, EventKind)>) {
        if events.is_empty() {
            return;
        }
        if self.silent {
            // Refs follow their items all the same.
            self.follow_list_items(&events);
            return;
        }
        let passed = self.pass.as_deref().cloned().unwrap_or_default();
        self.emit_with(events, passed);
    }

    pub(crate) fn emit_with(
        &self,
        mut events: Vec<(Segments, EventKind)>,
        passed: Map<String, Value>,
    ) {
        let gone = self.follow_list_items(&events);
        events.extend(gone);
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
}
