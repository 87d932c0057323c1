use leptos::prelude::*;
use peloton::client::ConnectionState;
use peloton::leptos::{connection_state, use_presence, use_undo, use_undo_shortcuts};
use serde_json::{Value, json};

/// Names handed out to visitors, so "who is here" reads like people, each
/// with a colour for their caret.
const PEOPLE: [(&str, &str); 8] = [
    ("Otter", "#c2410c"),
    ("Heron", "#1d4ed8"),
    ("Lynx", "#7e22ce"),
    ("Marten", "#15803d"),
    ("Ibex", "#b91c1c"),
    ("Kestrel", "#0e7490"),
    ("Badger", "#a16207"),
    ("Wren", "#be185d"),
];

/// This visitor as others see them (`{"name", "color"}`): picked once per
/// page model and kept in `_session.me`.
pub fn me() -> Value {
    let model = peloton::leptos::use_model();
    if let Some(me) = model.get_value("_session.me") {
        return me;
    }
    let (name, color) = PEOPLE[model.id().bytes().map(usize::from).sum::<usize>() % PEOPLE.len()];
    let me = json!({"name": name, "color": color});
    let _ = model.set("_session.me", me.clone());
    me
}

/// The names in presence values.
pub fn names(people: impl IntoIterator<Item = Value>) -> Vec<String> {
    let mut names: Vec<String> = people
        .into_iter()
        .filter_map(|p| p.get("name").and_then(|n| n.as_str()).map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The top bar: the app's name, the connection's state, and who is here.
#[component]
pub fn Header() -> impl IntoView {
    // No model while Leptos lists the routes at startup: nothing to show.
    let Some(model) = peloton::leptos::try_use_model() else {
        return ().into_any();
    };
    let others = use_presence("everyone", me());
    let state = connection_state();
    // Ctrl/Cmd-Z anywhere undoes this visitor's own latest edit.
    use_undo_shortcuts();
    let undo = use_undo();
    let (undo_model, redo_model) = (model.clone(), model.clone());
    let status = move || match state.get() {
        ConnectionState::Connected => ("live", "connected"),
        ConnectionState::Connecting => ("connecting…", "connecting"),
        ConnectionState::Disconnected | ConnectionState::Closed => ("offline", "offline"),
    };
    view! {
        <header class="top">
            <a href="/" class="brand">"peloton"</a>
            // A status region: screen readers announce going offline and back.
            <span class="status" role="status" data-state=move || status().1>
                <span class="sr-only">"Connection: "</span>
                {move || status().0}
            </span>
            <span class="history">
                <button
                    class="undo"
                    title="Undo your last edit (Ctrl-Z)"
                    disabled=move || !undo.can_undo.get()
                    on:click=move |_| { let _ = undo_model.undo(); }
                ><span aria-hidden="true">"↶ "</span>"Undo"</button>
                <button
                    class="redo"
                    title="Redo (Ctrl-Shift-Z)"
                    disabled=move || !undo.can_redo.get()
                    on:click=move |_| { let _ = redo_model.redo(); }
                ><span aria-hidden="true">"↷ "</span>"Redo"</button>
            </span>
            <span class="presence" title="Who else is here">
                {move || {
                    let names = names(others.get().into_values());
                    match names.len() {
                        0 => "just you".to_owned(),
                        _ => format!("you + {}", names.join(", ")),
                    }
                }}
            </span>
        </header>
    }
    .into_any()
}
