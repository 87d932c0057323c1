use leptos::prelude::*;
use peloton::client::ConnectionState;
use peloton::leptos::{connection_state, use_presence};
use serde_json::json;

/// Names handed out to visitors, so "who is here" reads like people.
const NAMES: [&str; 8] = [
    "Otter", "Heron", "Lynx", "Marten", "Ibex", "Kestrel", "Badger", "Wren",
];

/// The top bar: the app's name, the connection's state, and who is here.
#[component]
pub fn Header() -> impl IntoView {
    // No model while Leptos lists the routes at startup: nothing to show.
    let Some(model) = peloton::leptos::try_use_model() else {
        return ().into_any();
    };
    let name = NAMES[model.id().bytes().map(usize::from).sum::<usize>() % NAMES.len()];
    let others = use_presence("everyone", json!({"name": name}));
    let state = connection_state();
    let status = move || match state.get() {
        ConnectionState::Connected => ("live", "connected"),
        ConnectionState::Connecting => ("connecting…", "connecting"),
        ConnectionState::Disconnected | ConnectionState::Closed => ("offline", "offline"),
    };
    view! {
        <header class="top">
            <a href="/" class="brand">"peloton"</a>
            <span class="status" data-state=move || status().1>{move || status().0}</span>
            <span class="presence" title="Who else is here">
                {move || {
                    let names: Vec<String> = others
                        .get()
                        .values()
                        .filter_map(|p| p.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                        .collect();
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
