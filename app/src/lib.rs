//! peloton's demo app: shared todo lists and a shared note.
//!
//! Every page renders on the server with its data in the HTML, then goes
//! live in the browser: edits made anywhere show up everywhere.
//!
//! The same crate is built twice: with `ssr` it is the server (see
//! `main.rs`), with `hydrate` the WebAssembly that takes over the page.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment, path};

mod components;
mod pages;

#[cfg(feature = "ssr")]
pub use pages::{ListRowData, for_shell, plain_shell, seeded_lists};

/// The README's page example, compiled as this crate's doctest so it
/// cannot drift from the API it shows. (Its server snippet is `main.rs`'s
/// own code: as a doctest of a workspace-wide run it meets two builds of
/// Leptos's config crate.)
#[cfg(all(doctest, feature = "ssr"))]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;

/// The HTML document around the app: head, hydration scripts, body.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            {head(options)}
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The document's `<head>`: metadata, hydration scripts, and what the
/// page's components add (title, stylesheet).
pub(crate) fn head(options: LeptosOptions) -> impl IntoView {
    view! {
        <head>
            <meta charset="utf-8"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
            // Under `cargo leptos watch` only: reloads the page after a rebuild.
            <AutoReload options=options.clone()/>
            <HydrationScripts options/>
            <MetaTags/>
        </head>
    }
}

/// The app's routes. Pages render on the server once their data is loaded
/// (`SsrMode::Async`), so the HTML has it even without JavaScript.
///
/// `/ssr/<mode>/lists/<id>` serves the list page in each of Leptos's other
/// SSR modes: streamed, the loaded data still reaches the browser with the
/// page (the browser tests check each).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::provide_announcer();
    // Effects run only in the browser, after hydration: mark the page live
    // (the browser tests wait for this).
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "");
        }
    });
    view! {
        <Stylesheet id="peloton" href="/pkg/app.css"/>
        <Title text="peloton demo"/>
        <Router>
            <components::Header/>
            <components::SyncErrors/>
            <main>
                <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=pages::Home ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("lists"), ParamSegment("id")) view=pages::ListPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("notes"), ParamSegment("id")) view=pages::NotePage ssr=SsrMode::Async/>
                    <Route path=path!("/ssr/out-of-order/lists/:id") view=pages::ListPage ssr=SsrMode::OutOfOrder/>
                    <Route path=path!("/ssr/in-order/lists/:id") view=pages::ListPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/ssr/partially-blocked/lists/:id") view=pages::ListPage ssr=SsrMode::PartiallyBlocked/>
                </Routes>
            </main>
            <components::Announcements/>
        </Router>
    }
}

/// The browser's entry point: rebuild the page's model, then hydrate.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    console_tracing();
    peloton::leptos::hydrate_body(App);
}

/// Sends `tracing` events to the devtools console (warnings as
/// `console.warn`, …): at `info` and above, or at the level in the page's
/// `localStorage` key `log` (`localStorage.log = "debug"`, then reload).
#[cfg(feature = "hydrate")]
fn console_tracing() {
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::prelude::*;
    let level = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|storage| storage.get_item("log").ok().flatten())
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let console = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        // The browser has no clock `std` can read; the console stamps lines.
        .without_time()
        .with_writer(tracing_web::MakeWebConsoleWriter::new())
        .with_filter(level);
    // A page that installed its own subscriber keeps it.
    let _ = tracing_subscriber::registry().with(console).try_init();
}

/// Milliseconds since the epoch (for ordering lists by creation).
pub(crate) fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now();
    #[cfg(not(feature = "hydrate"))]
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}
