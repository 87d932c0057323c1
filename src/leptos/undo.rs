//! Undo and redo in views: whether each is possible, as signals, and the
//! usual keyboard shortcuts (see [`Model::undo`] for what is undone).
//!
//! ```
//! use leptos::prelude::*;
//! use peloton::leptos::{use_model, use_undo, use_undo_shortcuts};
//!
//! #[component]
//! fn Toolbar() -> impl IntoView {
//!     use_undo_shortcuts(); // Ctrl/Cmd-Z, Ctrl/Cmd-Shift-Z, Ctrl-Y
//!     let model = use_model();
//!     let undo = use_undo();
//!     view! {
//!         <button disabled=move || !undo.can_undo.get() on:click=move |_| { let _ = model.undo(); }>
//!             "Undo"
//!         </button>
//!     }
//! }
//! ```
//!
//! This module owns the undo signals and shortcuts only; what a step is and
//! what it undoes are the model's.

use ::leptos::prelude::*;

use crate::model::Model;

/// Whether the page's model can undo and redo, as signals.
#[derive(Clone, Copy, Debug)]
pub struct UndoSignals {
    /// [`Model::can_undo`].
    pub can_undo: Signal<bool>,
    /// [`Model::can_redo`].
    pub can_redo: Signal<bool>,
}

/// What the page's model can undo and redo, updated as edits come and go.
pub fn use_undo() -> UndoSignals {
    let model = super::use_model();
    let state = ArcRwSignal::new(model.undo_state());
    let listener = {
        let state = state.clone();
        model.on_undo_state(move |now| state.set(now))
    };
    on_cleanup(move || {
        model.remove_undo_listener(listener);
    });
    let (a, b) = (state.clone(), state);
    UndoSignals {
        can_undo: Signal::derive(move || a.get().can_undo),
        can_redo: Signal::derive(move || b.get().can_redo),
    }
}

/// While the calling component lives, Ctrl-Z (Cmd-Z on a Mac) undoes the
/// page model's latest edit, and Ctrl-Shift-Z (Cmd-Shift-Z) or Ctrl-Y
/// redoes, everywhere on the page, bound fields included (instead of the
/// browser's own undo, which knows nothing of the model).
pub fn use_undo_shortcuts() {
    if !cfg!(feature = "hydrate") {
        return;
    }
    let model = super::use_model();
    let handle = window_event_listener(::leptos::ev::keydown, move |event| {
        if let Some(redo) = shortcut(
            &event.key(),
            event.ctrl_key() || event.meta_key(),
            event.shift_key(),
        ) {
            event.prevent_default();
            run(&model, redo);
        }
    });
    on_cleanup(move || handle.remove());
}

/// Which shortcut a key press is: `Some(false)` undo, `Some(true)` redo.
fn shortcut(key: &str, command: bool, shift: bool) -> Option<bool> {
    if !command {
        return None;
    }
    match key {
        "z" | "Z" => Some(shift),
        "y" | "Y" if !shift => Some(true),
        _ => None,
    }
}

fn run(model: &Model, redo: bool) {
    let result = if redo { model.redo() } else { model.undo() };
    if let Err(e) = result {
        tracing::warn!("{} failed: {e}", if redo { "redo" } else { "undo" });
    }
}

#[cfg(test)]
mod tests {
    use super::shortcut;

    #[test]
    fn shortcuts() {
        assert_eq!(shortcut("z", true, false), Some(false));
        assert_eq!(shortcut("Z", true, true), Some(true));
        assert_eq!(shortcut("y", true, false), Some(true));
        assert_eq!(shortcut("z", false, false), None);
        assert_eq!(shortcut("a", true, false), None);
    }
}
