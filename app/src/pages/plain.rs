//! The home page's lists rendered from a plain `Vec`, with no model: the
//! baselines the SSR bench measures the model's cost against, beside `/`
//! with the same 100 lists. Neither has a header (the header is the
//! model's: presence, undo, the connection's state).
//!
//! - `/bench/plain`: the markup alone, each row written out once.
//! - `/bench/for`: the structure `/` has: the rows in a signal, drawn by
//!   `<For>` keyed as `/` keys them, each by the home page's own row
//!   component. What `/` costs beyond it is the model's: loading the
//!   query, reading its documents, and the bundle.

use leptos::prelude::*;
use leptos_meta::{Stylesheet, Title, provide_meta_context};

use super::home::{ListRow, ListRowData, count_label, to_do_label};

/// The lists `loadgen --seed 100` creates, as the home page shows them.
pub fn seeded_lists(n: usize) -> Vec<ListRowData> {
    (0..n)
        .map(|i| ListRowData {
            id: format!("seed{i}"),
            title: format!("List {i}"),
            // Five items, the even ones done.
            open: 2,
            total: 5,
        })
        .collect()
}

/// The whole document of the plain page, as `shell` makes the app's.
pub fn plain_shell(options: LeptosOptions, lists: Vec<ListRowData>) -> impl IntoView {
    provide_meta_context();
    let count = lists.len() as u64;
    let rows = lists
        .into_iter()
        .map(|list| {
            view! {
                <li>
                    <a href=format!("/lists/{}", list.id)>{list.title}</a>
                    <span class="meta">{to_do_label(list.open, list.total)}</span>
                </li>
            }
        })
        .collect_view();
    plain_document(options, count, rows)
}

/// The plain page as `/` is built (see the module's docs).
pub fn for_shell(options: LeptosOptions, lists: Vec<ListRowData>) -> impl IntoView {
    provide_meta_context();
    let count = lists.len() as u64;
    let rows = RwSignal::new(lists);
    let rows = view! {
        <For each=move || rows.get() key=|row| row.clone() let:row>
            <ListRow row/>
        </For>
    };
    plain_document(options, count, rows)
}

/// The document around a baseline's rows.
fn plain_document(options: LeptosOptions, count: u64, rows: impl IntoView) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            {crate::head(options)}
            <body>
                <Stylesheet id="peloton" href="/pkg/app.css"/>
                <Title text="peloton demo"/>
                <main>
                    <h1>"Shared todo lists"</h1>
                    <p class="count">{count_label(count)}</p>
                    <ul class="lists">{rows}</ul>
                </main>
            </body>
        </html>
    }
}
