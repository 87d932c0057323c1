//! The DOM side of a binding: reading and writing a bound `<input>` or
//! `<textarea>` and its selection. Its elements exist only in the browser.
//!
//! This module touches the element only; what to write is the binding's.

use ::leptos::web_sys;

use super::Selection;

/// A bound element.
#[derive(Clone)]
pub(crate) enum Field {
    Input(web_sys::HtmlInputElement),
    Area(web_sys::HtmlTextAreaElement),
}

macro_rules! both {
    ($self:ident, $e:ident => $body:expr) => {
        match $self {
            Field::Input($e) => $body,
            Field::Area($e) => $body,
        }
    };
}

impl Field {
    pub fn value(&self) -> String {
        both!(self, e => e.value())
    }

    /// (anchor, focus): a backwards selection has its caret first.
    pub fn selection(&self) -> Selection {
        let (start, end, direction) = both!(self, e => (
            e.selection_start().ok().flatten(),
            e.selection_end().ok().flatten(),
            e.selection_direction().ok().flatten(),
        ));
        let (start, end) = (start.unwrap_or(0) as usize, end.unwrap_or(0) as usize);
        if direction.as_deref() == Some("backward") {
            (end, start)
        } else {
            (start, end)
        }
    }

    /// Shows `text`, with the selection at `selection` (if focused:
    /// elsewhere a selection would pull the focus on some browsers).
    pub fn show(&self, text: &str, selection: Selection) {
        let (anchor, focus) = selection;
        let (start, end) = (anchor.min(focus) as u32, anchor.max(focus) as u32);
        let direction = if focus < anchor {
            "backward"
        } else {
            "forward"
        };
        let focused = self.focused();
        both!(self, e => {
            if e.value() != text {
                e.set_value(text);
            }
            if focused {
                let _ = e.set_selection_range_with_direction(start, end, direction);
            }
        });
    }

    pub fn focused(&self) -> bool {
        let active = ::leptos::prelude::document().active_element();
        both!(self, e => active.is_some_and(|a| a == ***e))
    }

    fn element(&self) -> web_sys::HtmlElement {
        both!(self, e => (**e).clone())
    }

    /// Takes the focus back once the page has moved the element,
    /// unless something else took it: as soon as the page changes (a
    /// mutation observer runs before the next key press is handled),
    /// and after a timeout in case the page had changed already.
    pub fn refocus_later(&self) {
        let (element, field, selection) = (self.element(), self.clone(), self.selection());
        let restore = move || {
            let taken = ::leptos::prelude::document()
                .active_element()
                .is_some_and(|a| a.tag_name() != "BODY");
            if element.is_connected() && !taken {
                let _ = element.focus();
                field.show(&field.value(), selection);
            }
        };
        #[cfg(feature = "hydrate")]
        observe_once(restore.clone());
        ::leptos::prelude::set_timeout(restore, std::time::Duration::ZERO);
    }
}

/// Runs `f` at the next change to the page, once.
#[cfg(feature = "hydrate")]
fn observe_once(f: impl Fn() + 'static) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let callback = Closure::<dyn Fn(wasm_bindgen::JsValue, web_sys::MutationObserver)>::new(
        move |_records, observer: web_sys::MutationObserver| {
            observer.disconnect();
            f();
        },
    );
    let Ok(observer) = web_sys::MutationObserver::new(callback.as_ref().unchecked_ref()) else {
        return;
    };
    let options = web_sys::MutationObserverInit::new();
    options.set_child_list(true);
    options.set_subtree(true);
    if let Some(body) = ::leptos::prelude::document().body() {
        let _ = observer.observe_with_options(&body, &options);
    }
    // Freed with the page: one small closure per move of a focused field.
    callback.forget();
}

/// An `input` event's `inputType`.
pub fn input_type(event: &::leptos::ev::InputEvent) -> Option<String> {
    Some(event.input_type())
}
