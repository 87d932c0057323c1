//! Presence in views: who is here ([`use_presence`]), and where everyone
//! is in a document ([`use_doc_presence`]): others' carets and selections
//! in a field, who is at an item.
//!
//! ```
//! use leptos::prelude::*;
//! use peloton::leptos::{RemoteCarets, TextArea, use_doc_presence, use_model};
//! use serde_json::json;
//!
//! #[component]
//! fn Editor(id: String) -> impl IntoView {
//!     let note = use_model().at(&format!("notes.{id}"));
//!     // Bound fields share this user's caret; `carets` gives the others'.
//!     let presence = use_doc_presence(&note, json!({"name": "Ann", "color": "#d33"}));
//!     let area = NodeRef::new();
//!     let text = presence.text("text");
//!     view! {
//!         <div style="position: relative">
//!             <TextArea model=note path="text" presence=presence.clone() field_ref=area/>
//!             <RemoteCarets field=area carets=presence.carets("text") text/>
//!         </div>
//!     }
//! }
//! ```
//!
//! This module owns presence as views see it: the signals, the carets and their
//! overlay. It never writes the model, and reaches presence only through the
//! client's `Presence` and `DocPresence` handles.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ::leptos::html;
use ::leptos::prelude::*;
use serde_json::{Map, Value};

use crate::client::{ClientEvent, DocPresence, Presence};
use crate::model::Model;
use crate::ot::json0::{Caret, PathSegment};

/// Joins a presence channel as `me` (e.g. `{"name": …}`) and returns
/// everyone else's presence, by presence id, as a signal. Nothing happens
/// on the server, which renders no one.
pub fn use_presence(channel: &str, me: Value) -> Signal<BTreeMap<String, Value>> {
    let model = super::use_model();
    let others = ArcRwSignal::new(BTreeMap::new());
    let Some(connection) = live_connection(&model) else {
        return others.into();
    };
    let presence = connection.presence(channel);
    let handle = follow_others(&connection, &presence, others.clone());
    let id = model.id();
    presence.submit(&id, me);
    subscribe(&presence);
    let handle = Mutex::new(Some(handle));
    on_cleanup(move || {
        presence.leave(&id);
        drop(handle.lock().ok().and_then(|mut h| h.take()));
    });
    others.into()
}

/// The model's connection, if it is a live one (not a server render's).
fn live_connection(model: &Model) -> Option<crate::client::Connection> {
    model
        .connection()
        .cloned()
        .filter(|_| !model.options().fetch_only)
}

/// Keeps `others` equal to the others' presence on `presence`'s channel.
fn follow_others(
    connection: &crate::client::Connection,
    presence: &Presence,
    others: ArcRwSignal<BTreeMap<String, Value>>,
) -> crate::client::ListenerHandle {
    let (presence, channel) = (presence.clone(), presence.channel().to_owned());
    connection.on_event(move |event| {
        if let ClientEvent::Presence { channel: ch, .. } = event
            && *ch == channel
        {
            others.set(presence.others().into_iter().collect());
        }
    })
}

fn subscribe(presence: &Presence) {
    let presence = presence.clone();
    crate::client::rt::spawn(async move {
        if let Err(e) = presence.subscribe().await {
            tracing::warn!("presence: {e}");
        }
    });
}

/// Someone else's caret (or selection) in a string.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteCaret {
    /// Their presence id.
    pub id: String,
    /// Where their selection started (UTF-16 offset).
    pub anchor: usize,
    /// Where their caret is (UTF-16 offset).
    pub focus: usize,
    /// Their whole presence value (name, colour, …).
    pub info: Value,
}

impl RemoteCaret {
    /// A field of their presence as text (`"name"`, `"color"`).
    pub fn field(&self, key: &str) -> Option<&str> {
        self.info.get(key).and_then(Value::as_str)
    }
}

/// A page's share of one document's presence (see [`use_doc_presence`]):
/// where this user is, set by bound fields ([`TextInput`](super::TextInput),
/// [`TextArea`](super::TextArea)) while they have the focus, and where
/// everyone else is. Cheap to clone.
#[derive(Clone)]
pub struct DocPresenceView {
    state: Arc<ViewState>,
}

/// What the clones of a [`DocPresenceView`] share.
struct ViewState {
    doc: Model,
    /// (collection, id)
    key: (String, String),
    /// `None` on the server: nobody is rendered there.
    presence: Option<DocPresence>,
    /// This page's presence id.
    id: String,
    me: Map<String, Value>,
    others: ArcRwSignal<BTreeMap<String, Value>>,
    /// Counts shares and leaves, so a leave waits out a quick refocus.
    generation: Mutex<u64>,
}

/// Shares this page's presence in the document `doc` (a model scoped to
/// `collection.id`) as `me` (an object, e.g. `{"name": …, "color": …}`),
/// and follows everyone else's. In the browser it subscribes to the
/// document's presence (ShareDB's doc presence, so npm clients see it
/// too); on the server it is empty.
///
/// # Panics
/// If `doc` is not scoped to a document (`collection.id`).
pub fn use_doc_presence(doc: &Model, me: Value) -> DocPresenceView {
    let segments = crate::model::path::split(&doc.path());
    let [collection, id] = segments.as_slice() else {
        panic!(
            "use_doc_presence needs a model scoped to a document (collection.id), not {:?}",
            doc.path()
        );
    };
    let others = ArcRwSignal::new(BTreeMap::new());
    let connection = live_connection(doc);
    let presence = connection.as_ref().map(|c| c.doc_presence(collection, id));
    let view = DocPresenceView {
        state: Arc::new(ViewState {
            doc: doc.clone(),
            key: (collection.clone(), id.clone()),
            presence: presence.clone(),
            id: doc.id(),
            me: me.as_object().cloned().unwrap_or_default(),
            others: others.clone(),
            generation: Mutex::new(0),
        }),
    };
    if let (Some(connection), Some(presence)) = (connection, presence) {
        let handle = follow_others(&connection, &presence, others);
        subscribe(&presence);
        let (handle, id) = (Mutex::new(Some(handle)), view.state.id.clone());
        on_cleanup(move || {
            presence.leave(&id);
            drop(handle.lock().ok().and_then(|mut h| h.take()));
        });
    }
    view
}

impl DocPresenceView {
    /// Everyone else's presence in the document, by presence id.
    pub fn others(&self) -> Signal<BTreeMap<String, Value>> {
        self.state.others.clone().into()
    }

    /// Others' carets and selections in the string at `path` (relative to
    /// the document), moved by every edit as it arrives.
    pub fn carets(&self, path: &str) -> Signal<Vec<RemoteCaret>> {
        let path = json0_path(path);
        let others = self.state.others.clone();
        Signal::derive(move || {
            others.with(|all| {
                all.iter()
                    .filter_map(|(id, value)| {
                        let caret = Caret::of(value)?;
                        let (anchor, focus) = caret.selection?;
                        (caret.path == path).then(|| RemoteCaret {
                            id: id.clone(),
                            anchor,
                            focus,
                            info: value.clone(),
                        })
                    })
                    .collect()
            })
        })
    }

    /// The presence of others at `path()` or inside it (relative to the
    /// document): who is editing an item. `path` is read reactively, so it
    /// may follow an item's index.
    pub fn at(&self, path: impl Fn() -> String + Send + Sync + 'static) -> Signal<Vec<Value>> {
        let others = self.state.others.clone();
        Signal::derive(move || {
            let within = json0_path(&path());
            others.with(|all| {
                all.values()
                    .filter(|value| Caret::of(value).is_some_and(|c| c.path.starts_with(&within)))
                    .cloned()
                    .collect()
            })
        })
    }

    /// The string at `path` (relative to the document) as a signal, for
    /// [`RemoteCarets`].
    pub fn text(&self, path: &str) -> Signal<String> {
        let text = super::ModelSignals::signal::<String>(&self.state.doc, path);
        Signal::derive(move || text.get().unwrap_or_default())
    }

    /// Shares that this user is at the absolute model path `segments`
    /// (with a selection in the string there, if given).
    pub(crate) fn share_caret(&self, segments: &[String], selection: Option<(usize, usize)>) {
        let Some(presence) = &self.state.presence else {
            return;
        };
        let (collection, id) = &self.state.key;
        let [c, d, rest @ ..] = segments else {
            return;
        };
        if c != collection || d != id {
            return;
        }
        *lock(&self.state.generation) += 1;
        let mut value = self.state.me.clone();
        Caret {
            path: crate::model::path::to_json0(rest),
            selection,
        }
        .write_into(&mut value);
        presence.submit(&self.state.id, Value::Object(value));
    }

    /// Withdraws this user's presence shortly, unless a field shares it
    /// again first (focus moving from one field to the next).
    pub(crate) fn leave_soon(&self) {
        let generation = {
            let mut g = lock(&self.state.generation);
            *g += 1;
            *g
        };
        let state = self.state.clone();
        crate::client::rt::spawn(async move {
            crate::client::rt::sleep(std::time::Duration::from_millis(150)).await;
            if *lock(&state.generation) == generation
                && let Some(presence) = &state.presence
            {
                presence.leave(&state.id);
            }
        });
    }
}

impl std::fmt::Debug for DocPresenceView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocPresenceView")
            .field("doc", &self.state.key)
            .finish_non_exhaustive()
    }
}

fn json0_path(path: &str) -> Vec<PathSegment> {
    crate::model::path::to_json0(&crate::model::path::split(path))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Draws others' carets and selections over a `<textarea>` (`field`), as
/// a layer that copies its box and text layout. Put both in an element
/// with `position: relative`. Each caret is a
/// `<span class="peloton-caret" data-name=…>` and each selection a
/// `<span class="peloton-selection">`, coloured by `--peloton-color` (the
/// presence's `color`); style them in the app's CSS.
#[component]
pub fn RemoteCarets(
    /// The textarea the carets are in.
    field: NodeRef<html::Textarea>,
    /// The carets ([`DocPresenceView::carets`]).
    #[prop(into)]
    carets: Signal<Vec<RemoteCaret>>,
    /// The textarea's text ([`DocPresenceView::text`]).
    #[prop(into)]
    text: Signal<String>,
) -> impl IntoView {
    let layer = NodeRef::<html::Div>::new();
    // Lay the layer over the field once the page shows both, and again
    // whenever the text or carets change (the field may have resized).
    Effect::new(move |_| {
        carets.track();
        text.track();
        if let (Some(field), Some(layer)) = (field.get_untracked(), layer.get_untracked()) {
            overlay::cover(&field, &layer);
        }
    });
    let on_scroll = overlay::follow_scroll(field, layer);
    on_cleanup(move || drop(on_scroll));
    view! {
        <div class="peloton-carets" aria-hidden="true" node_ref=layer>
            {move || overlay::segments(&text.get(), &carets.get())}
        </div>
    }
}

mod overlay {
    use ::leptos::html;
    use ::leptos::prelude::*;
    use ::leptos::web_sys;

    use super::RemoteCaret;
    use crate::ot::utf16;

    /// The text with carets and selections as spans.
    pub fn segments(text: &str, carets: &[RemoteCaret]) -> Vec<AnyView> {
        let len = utf16::len(text);
        let clamp = |pos: usize| pos.min(len);
        let mut cuts: Vec<usize> = vec![0, len];
        for c in carets {
            cuts.extend([clamp(c.anchor), clamp(c.focus)]);
        }
        cuts.sort_unstable();
        cuts.dedup();
        let color =
            |c: &RemoteCaret| format!("--peloton-color: {}", c.field("color").unwrap_or("#e8590c"));
        let mut out = Vec::new();
        for pair in cuts.windows(2).chain(std::iter::once(&[len, len][..])) {
            let (from, to) = (pair[0], pair[1]);
            for c in carets.iter().filter(|c| clamp(c.focus) == from) {
                let name = c.field("name").unwrap_or_default().to_owned();
                out.push(
                    view! { <span class="peloton-caret" data-name=name style=color(c)></span> }
                        .into_any(),
                );
            }
            if from == to {
                continue;
            }
            let part = utf16::slice(text, from, to).unwrap_or_default().to_owned();
            let selected = carets.iter().find(|c| {
                let (a, b) = (clamp(c.anchor.min(c.focus)), clamp(c.anchor.max(c.focus)));
                a <= from && to <= b
            });
            out.push(match selected {
                Some(c) => view! { <span class="peloton-selection" style=color(c)>{part}</span> }
                    .into_any(),
                None => part.into_any(),
            });
        }
        out
    }

    /// Gives the layer the field's box and text layout, over it.
    pub fn cover(field: &web_sys::HtmlTextAreaElement, layer: &web_sys::HtmlDivElement) {
        let Ok(Some(computed)) = window().get_computed_style(field) else {
            return;
        };
        let style = web_sys::HtmlElement::style(layer);
        for property in [
            "font-family",
            "font-size",
            "font-weight",
            "font-style",
            "line-height",
            "letter-spacing",
            "word-spacing",
            "text-indent",
            "text-transform",
            "tab-size",
            "padding-top",
            "padding-right",
            "padding-bottom",
            "padding-left",
            "border-top-width",
            "border-right-width",
            "border-bottom-width",
            "border-left-width",
            "box-sizing",
            "text-align",
        ] {
            let value = computed.get_property_value(property).unwrap_or_default();
            let _ = style.set_property(property, &value);
        }
        for (property, value) in [
            ("position", "absolute".to_owned()),
            ("top", format!("{}px", field.offset_top())),
            ("left", format!("{}px", field.offset_left())),
            ("width", format!("{}px", field.offset_width())),
            ("height", format!("{}px", field.offset_height())),
            ("border-style", "solid".to_owned()),
            ("border-color", "transparent".to_owned()),
            ("white-space", "pre-wrap".to_owned()),
            ("overflow-wrap", "break-word".to_owned()),
            ("overflow", "hidden".to_owned()),
            ("pointer-events", "none".to_owned()),
            ("color", "transparent".to_owned()),
            ("margin", "0".to_owned()),
        ] {
            let _ = style.set_property(property, &value);
        }
        layer.set_scroll_top(field.scroll_top());
    }

    /// Scrolls the layer with the field, until the returned value drops.
    pub fn follow_scroll(
        field: NodeRef<html::Textarea>,
        layer: NodeRef<html::Div>,
    ) -> ScrollFollower {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            use wasm_bindgen::closure::Closure;
            let callback = Closure::<dyn Fn()>::new(move || {
                if let (Some(field), Some(layer)) = (field.get_untracked(), layer.get_untracked()) {
                    layer.set_scroll_top(field.scroll_top());
                }
            });
            // Scroll events do not bubble: a capturing listener on the
            // window sees them all.
            let _ = window().add_event_listener_with_callback_and_bool(
                "scroll",
                callback.as_ref().unchecked_ref(),
                true,
            );
            ScrollFollower {
                callback: Some(send_wrapper::SendWrapper::new(callback)),
            }
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (field, layer);
            ScrollFollower {}
        }
    }

    /// A window scroll listener, removed when dropped.
    pub struct ScrollFollower {
        #[cfg(feature = "hydrate")]
        callback: Option<send_wrapper::SendWrapper<wasm_bindgen::closure::Closure<dyn Fn()>>>,
    }

    impl Drop for ScrollFollower {
        fn drop(&mut self) {
            #[cfg(feature = "hydrate")]
            if let Some(callback) = self.callback.take() {
                use wasm_bindgen::JsCast;
                let _ = window().remove_event_listener_with_callback_and_bool(
                    "scroll",
                    callback.as_ref().unchecked_ref(),
                    true,
                );
            }
        }
    }
}
