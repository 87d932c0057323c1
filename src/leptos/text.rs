//! Text fields bound to shared strings: [`TextInput`] and [`TextArea`].
//!
//! A bound field turns what the user types into the smallest text0 ops
//! (UTF-16 offsets, as ShareDB clients count), so two people typing into
//! one field at once both keep their words. Edits from elsewhere (other
//! users, undo) update the field in place and keep the caret and selection
//! on the text they were at, for every shape of op. An IME composition is
//! left alone until it ends, then lands, merged with whatever arrived
//! meanwhile. The field listens to its own path only: a change next to it
//! (ticking the item it belongs to) never rewrites it, and when its item
//! moves in a list the field follows it (and keeps the focus). On the
//! server the field renders with its text, escaped.
//!
//! This module owns the binding between a field and its path: it edits the
//! model only through text ops, and touches the element only through
//! `dom`.
//!
//! ```
//! use leptos::prelude::*;
//! use peloton::leptos::{TextArea, TextInput, use_model};
//!
//! #[component]
//! fn Editor(id: String) -> impl IntoView {
//!     let note = use_model().at(&format!("notes.{id}"));
//!     view! {
//!         <TextInput model=note.clone() path="title" attr:placeholder="Title"/>
//!         <TextArea model=note path="text" attr:rows="12"/>
//!     }
//! }
//! ```

use std::sync::{Arc, Mutex};

use ::leptos::html;
use ::leptos::prelude::*;

use super::presence::DocPresenceView;
use crate::model::Model;
use crate::ot::{Side, text0};

/// A one-line `<input>` bound to the string at `path` (relative to
/// `model`); see the [module](self) docs. Attributes given with `attr:`
/// (and `on:` handlers) go to the `<input>`.
#[component]
pub fn TextInput(
    /// The model `path` is relative to.
    model: Model,
    /// The string's path.
    #[prop(into)]
    path: String,
    /// Shares where this user's caret is through a document's presence
    /// (see [`use_doc_presence`](super::use_doc_presence)).
    #[prop(optional)]
    presence: Option<DocPresenceView>,
    /// A reference to the element, for the app's own use.
    #[prop(optional)]
    field_ref: Option<NodeRef<html::Input>>,
) -> impl IntoView {
    let node = field_ref.unwrap_or_default();
    let binding = Binding::new(&model, &path, presence, move || {
        node.get_untracked().map(dom::Field::Input)
    });
    let initial = binding.initial();
    let handlers = binding.handlers();
    view! { <input {..handlers} type="text" node_ref=node value=initial/> }
}

/// A `<textarea>` bound to the string at `path` (relative to `model`);
/// see the [module](self) docs. Attributes given with `attr:` (and `on:`
/// handlers) go to the `<textarea>`.
#[component]
pub fn TextArea(
    /// The model `path` is relative to.
    model: Model,
    /// The string's path.
    #[prop(into)]
    path: String,
    /// Shares where this user's caret is through a document's presence
    /// (see [`use_doc_presence`](super::use_doc_presence)).
    #[prop(optional)]
    presence: Option<DocPresenceView>,
    /// A reference to the element (for [`RemoteCarets`](super::RemoteCarets)).
    #[prop(optional)]
    field_ref: Option<NodeRef<html::Textarea>>,
) -> impl IntoView {
    let node = field_ref.unwrap_or_default();
    let binding = Binding::new(&model, &path, presence, move || {
        node.get_untracked().map(dom::Field::Area)
    });
    let initial = textarea_html(binding.initial());
    let handlers = binding.handlers();
    view! { <textarea {..handlers} node_ref=node>{initial}</textarea> }
}

/// The text of a `<textarea>` as its HTML. Leptos writes a textarea's
/// text into the server's HTML as it is, and the HTML parser reads that
/// text up to `</textarea>` and decodes entities in it: so `&` and `<` are
/// written as entities (a text holding `</textarea><script>` must not run
/// script for everyone opening it). The browser drops a newline right
/// after the tag, so one that starts the text is doubled. In the browser
/// the text is the text.
fn textarea_html(text: String) -> String {
    if cfg!(feature = "ssr") {
        let escaped = text.replace('&', "&amp;").replace('<', "&lt;");
        if escaped.starts_with('\n') {
            format!("\n{escaped}")
        } else {
            escaped
        }
    } else {
        text
    }
}

/// A selection in a field: where it started and where the caret is
/// (UTF-16 offsets, as the DOM counts).
pub(crate) type Selection = (usize, usize);

/// What a bound field shows, kept in step with the model's string: the
/// part of the binding that is plain logic (the DOM side feeds it).
#[derive(Debug)]
pub(crate) struct FieldSync {
    /// The text the field showed when it was last in step with the model.
    shown: String,
    /// Inside an IME composition the field is the browser's until it ends.
    composing: bool,
    /// What changed the model's string during a composition, in order.
    queued: Vec<text0::Op>,
}

/// What the field should show now, and where its selection goes.
pub(crate) type Show = (String, Selection);

impl FieldSync {
    pub(crate) fn new(shown: String) -> Self {
        Self {
            shown,
            composing: false,
            queued: Vec::new(),
        }
    }

    /// The user changed the field to `value`, with the selection at
    /// `selection`; `model` is the model's string now. Returns the op to
    /// apply to the model's string, and, if the model moved on meanwhile
    /// (edits that arrived during a composition), what the field should
    /// show instead of `value`.
    pub(crate) fn local(
        &mut self,
        value: &str,
        selection: Selection,
        model: &str,
    ) -> (text0::Op, Option<Show>) {
        let typed = text0::diff(&self.shown, value, Some(selection.1));
        let queued = std::mem::take(&mut self.queued);
        if model == self.shown {
            self.shown = value.to_owned();
            return (typed, None);
        }
        // The model moved on by `since`: the typing goes after it, and the
        // field shows both.
        let since = chained(&self.shown, queued)
            .filter(|(_, result)| result == model)
            .map(|(op, _)| op)
            .unwrap_or_else(|| text0::diff(&self.shown, model, None));
        let rebased = (
            text0::transform(&typed, &since, Side::Left),
            text0::transform(&since, &typed, Side::Right),
        );
        let (Ok(typed), Ok(since)) = rebased else {
            // Cannot merge (it should not happen): the model wins.
            self.shown = model.to_owned();
            let clamp = |pos: usize| pos.min(crate::ot::utf16::len(model));
            return (
                text0::Op::default(),
                Some((model.to_owned(), (clamp(selection.0), clamp(selection.1)))),
            );
        };
        let mut now = model.to_owned();
        if text0::apply(&mut now, &typed).is_err() {
            now = model.to_owned();
        }
        let moved = (
            text0::transform_cursor(selection.0, &since, Side::Left),
            text0::transform_cursor(selection.1, &since, Side::Left),
        );
        self.shown = now.clone();
        (typed, Some((now, moved)))
    }

    /// The model's string is now `now`, changed by `op` if known. Returns
    /// what the field should show, with `selection` moved to stay on its
    /// text; nothing while composing (it is applied when that ends).
    pub(crate) fn remote(
        &mut self,
        op: Option<text0::Op>,
        now: &str,
        selection: Selection,
    ) -> Option<Show> {
        if self.composing {
            self.queued.extend(op);
            return None;
        }
        if now == self.shown {
            return None;
        }
        let op = op
            .filter(|op| {
                let mut check = self.shown.clone();
                text0::apply(&mut check, op).is_ok() && check == now
            })
            .unwrap_or_else(|| text0::diff(&self.shown, now, None));
        self.shown = now.to_owned();
        let moved = (
            text0::transform_cursor(selection.0, &op, Side::Left),
            text0::transform_cursor(selection.1, &op, Side::Left),
        );
        Some((now.to_owned(), moved))
    }

    pub(crate) fn set_composing(&mut self, composing: bool) {
        self.composing = composing;
    }
}

/// `ops` one after the other from `start`: the composed op and the result,
/// if they apply in turn.
fn chained(start: &str, ops: Vec<text0::Op>) -> Option<(text0::Op, String)> {
    let mut text = start.to_owned();
    let mut all = text0::Op::default();
    for op in ops {
        text0::apply(&mut text, &op).ok()?;
        all = text0::compose(&all, &op).ok()?;
    }
    Some((all, text))
}

/// A field's binding: the model side (its path, followed through list
/// moves, and its listener) and the field's text state. Shared by the
/// element's handlers and the model's listener.
#[derive(Clone)]
pub(crate) struct Binding {
    inner: Arc<Mutex<BindingState>>,
    model: Model,
    /// Passed with this field's own writes, so it does not hear them back.
    token: String,
    field: Arc<dyn Fn() -> Option<dom::Field> + Send + Sync>,
}

struct BindingState {
    sync: FieldSync,
    /// The string's absolute path, moved as list items move above it.
    path: Vec<String>,
    listener: Option<u64>,
    presence: Option<DocPresenceView>,
}

impl Binding {
    fn new(
        model: &Model,
        path: &str,
        presence: Option<DocPresenceView>,
        field: impl Fn() -> Option<dom::Field> + Send + Sync + 'static,
    ) -> Self {
        let root = model.scope("");
        let path = model.absolute(path);
        let initial = root.get::<String>(&path.join(".")).unwrap_or_default();
        let binding = Binding {
            inner: Arc::new(Mutex::new(BindingState {
                sync: FieldSync::new(initial),
                path,
                listener: None,
                presence,
            })),
            model: root,
            token: crate::random::new_id(),
            field: Arc::new(field),
        };
        if cfg!(feature = "hydrate") && !binding.model.options().fetch_only {
            binding.listen();
            let (inner, model) = (binding.inner.clone(), binding.model.clone());
            on_cleanup(move || {
                if let Some(id) = lock(&inner).listener.take() {
                    model.remove_listener(id);
                }
            });
            // Whatever changed between the first render and now.
            let b = binding.clone();
            Effect::new(move |_| b.resync());
        }
        binding
    }

    /// The field's event handlers, for either element.
    fn handlers(&self) -> impl ::leptos::attr::Attribute + use<> {
        let b = || self.clone();
        let (input, before, start, end) = (b(), b(), b(), b());
        let (focus, key, mouse, select, blur) = (b(), b(), b(), b(), b());
        view! {
            <{..}
                on:input=move |_| input.on_input()
                on:beforeinput=move |ev| before.on_before_input(&ev)
                on:compositionstart=move |_| start.on_composition(true)
                on:compositionend=move |_| end.on_composition(false)
                on:focus=move |_| focus.on_jump()
                on:keyup=move |ev| key.on_key(&ev)
                on:mouseup=move |_| mouse.on_jump()
                on:select=move |_| select.on_caret()
                on:blur=move |_| blur.on_blur()
            />
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BindingState> {
        lock(&self.inner)
    }

    /// The text to render first.
    fn initial(&self) -> String {
        self.state().sync.shown.clone()
    }

    fn path(&self) -> String {
        self.state().path.join(".")
    }

    /// The model's string now.
    fn model_text(&self) -> String {
        self.model.get::<String>(&self.path()).unwrap_or_default()
    }

    /// Listens to events at the path (and its parents) from now on.
    fn listen(&self) {
        let path = self.path();
        let b = self.clone();
        let id = self
            .model
            .on_value_change(&path, move |event| b.on_event(event));
        let previous = self.state().listener.replace(id);
        if let Some(previous) = previous {
            self.model.remove_listener(previous);
        }
    }

    /// A model event at the path, below it or above it.
    fn on_event(&self, event: &crate::model::ModelEvent) {
        if event.passed.get("$field").and_then(|v| v.as_str()) == Some(self.token.as_str()) {
            return;
        }
        let path = self.state().path.clone();
        let at = crate::model::path::split(&event.path);
        if at.len() < path.len() && self.follow(&path, &at, &event.kind) {
            return;
        }
        let (op, now) = match &event.kind {
            crate::model::EventKind::Change {
                value: Some(serde_json::Value::String(now)),
                ..
            } if at == path => (event.text_op(), now.clone()),
            _ => (None, self.model_text()),
        };
        self.show_model(op, &now);
    }

    /// A list above the path changed: follows the path's item (true if
    /// the event was about that list).
    fn follow(&self, path: &[String], at: &[String], kind: &crate::model::EventKind) -> bool {
        use crate::model::EventKind;
        let Some(ours) = path
            .get(at.len())
            .and_then(|s| crate::model::path::index(s))
        else {
            return false;
        };
        let moved = match kind {
            EventKind::Insert { index, values } if *index <= ours => Some(ours + values.len()),
            EventKind::Remove { index, values } if *index + values.len() <= ours => {
                Some(ours - values.len())
            }
            EventKind::Remove { index, .. } if *index <= ours => None,
            EventKind::Move { from, to, how_many } => {
                let (from, to, n) = (*from, *to, *how_many);
                if (from..from + n).contains(&ours) {
                    Some(to + (ours - from))
                } else {
                    let without = if ours >= from + n { ours - n } else { ours };
                    Some(if without >= to { without + n } else { without })
                }
            }
            EventKind::Insert { .. } | EventKind::Remove { .. } => Some(ours),
            _ => return false,
        };
        match moved {
            Some(new) if new != ours => {
                self.state().path[at.len()] = new.to_string();
                self.listen();
                self.keep_focus();
            }
            Some(_) => self.keep_focus(),
            None => {
                // Our item is gone: stop listening.
                if let Some(id) = self.state().listener.take() {
                    self.model.remove_listener(id);
                }
            }
        }
        true
    }

    /// Shows the model's string `now` (changed by `op` if known).
    fn show_model(&self, op: Option<text0::Op>, now: &str) {
        let field = (self.field)();
        let selection = field.as_ref().map_or((0, 0), dom::Field::selection);
        let show = self.state().sync.remote(op, now, selection);
        if let (Some(field), Some((text, selection))) = (field, show) {
            field.show(&text, selection);
        }
    }

    /// After mounting: the field and the model agree.
    fn resync(&self) {
        let now = self.model_text();
        self.show_model(None, &now);
    }

    fn on_input(&self) {
        if self.state().sync.composing {
            return;
        }
        self.commit();
    }

    fn on_composition(&self, composing: bool) {
        self.state().sync.set_composing(composing);
        if !composing {
            self.commit();
        }
    }

    /// Turns what the user did to the field into an op on the model.
    fn commit(&self) {
        let Some(field) = (self.field)() else {
            return;
        };
        let value = field.value();
        let selection = field.selection();
        let path = self.path();
        let current = self.model.get_value(&path);
        let model_text = current.as_ref().and_then(|v| v.as_str()).unwrap_or("");
        let (op, show) = self.state().sync.local(&value, selection, model_text);
        let writer = self
            .model
            .pass(serde_json::json!({ "$field": self.token.clone() }));
        let result = match current {
            Some(serde_json::Value::String(_)) if op.is_noop() => Ok(()),
            Some(serde_json::Value::String(_)) => writer.text_op(&path, op).map(drop),
            // Not a string yet (a new field): the whole text.
            _ => {
                let text = show.as_ref().map_or(value.as_str(), |(t, _)| t.as_str());
                writer.set(&path, text).map(drop)
            }
        };
        if let Err(e) = result {
            tracing::warn!("editing {path} failed: {e}");
            let now = self.model_text();
            self.state().sync = FieldSync::new(now.clone());
            field.show(&now, selection);
            return;
        }
        if let Some((text, selection)) = show {
            field.show(&text, selection);
        }
        self.on_caret();
    }

    /// The caret moved (or the field got the focus): share it.
    fn on_caret(&self) {
        let Some(field) = (self.field)() else {
            return;
        };
        let (presence, path) = {
            let state = self.state();
            (state.presence.clone(), state.path.clone())
        };
        if let Some(presence) = presence {
            presence.share_caret(&path, Some(field.selection()));
        }
    }

    /// The caret jumped (a click, the focus): typing from here is a new
    /// undo step.
    fn on_jump(&self) {
        self.model.cut_undo_step();
        self.on_caret();
    }

    /// A key went up: keys that move the caret end the undo step.
    fn on_key(&self, event: &::leptos::ev::KeyboardEvent) {
        let key = event.key();
        if key.starts_with("Arrow")
            || matches!(key.as_str(), "Home" | "End" | "PageUp" | "PageDown")
        {
            self.model.cut_undo_step();
        }
        self.on_caret();
    }

    fn on_blur(&self) {
        let presence = self.state().presence.clone();
        if let Some(presence) = presence {
            presence.leave_soon();
        }
    }

    /// The browser's own undo and redo (menus, gestures) undo the model's
    /// edits instead of the field's.
    fn on_before_input(&self, event: &::leptos::ev::InputEvent) {
        let undo = match dom::input_type(event).as_deref() {
            Some("historyUndo") => true,
            Some("historyRedo") => false,
            _ => return,
        };
        event.prevent_default();
        let result = if undo {
            self.model.undo()
        } else {
            self.model.redo()
        };
        if let Err(e) = result {
            tracing::warn!("undo failed: {e}");
        }
    }

    /// Moving the field's item in a list moves its element in the page,
    /// which takes the focus away: give it back, with the selection.
    fn keep_focus(&self) {
        if let Some(field) = (self.field)().filter(dom::Field::focused) {
            field.refocus_later();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

mod dom;

#[cfg(test)]
mod tests;
