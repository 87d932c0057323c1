use leptos::prelude::*;

/// The landing page.
#[component]
pub fn Home() -> impl IntoView {
    let (clicks, set_clicks) = signal(0u32);
    view! {
        <h1>"peloton"</h1>
        <p class="lede">
            "Realtime web apps in Rust: pages rendered on the server, live in the browser."
        </p>
        <button class="counter" on:click=move |_| set_clicks.update(|n| *n += 1)>
            {move || format!("Clicked {} times", clicks.get())}
        </button>
    }
}
