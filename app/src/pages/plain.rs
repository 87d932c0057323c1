//! The home page's lists rendered from a plain `Vec`, with no model: the
//! baseline the SSR bench measures the model's cost against
//! (`/bench/plain`, beside `/` with the same 100 lists). It has no header
//! (the header is the model's: presence, undo, the connection's state).

use leptos::prelude::*;
use leptos_meta::{Stylesheet, Title, provide_meta_context};

use super::home::{count_label, to_do_label};

/// What the home page shows of a list.
#[derive(Clone)]
pub struct ListSummary {
    id: String,
    title: String,
    open: usize,
    total: usize,
}

/// The lists `loadgen --seed 100` creates, as the home page shows them.
pub fn seeded_lists(n: usize) -> Vec<ListSummary> {
    (0..n)
        .map(|i| ListSummary {
            id: format!("seed{i}"),
            title: format!("List {i}"),
            // Five items, the even ones done.
            open: 2,
            total: 5,
        })
        .collect()
}

/// The whole document of the plain page, as `shell` makes the app's.
pub fn plain_shell(options: LeptosOptions, lists: Vec<ListSummary>) -> impl IntoView {
    provide_meta_context();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            {crate::head(options)}
            <body>
                <Stylesheet id="peloton" href="/pkg/app.css"/>
                <Title text="peloton demo"/>
                <main>
                    <h1>"Shared todo lists"</h1>
                    <p class="count">{count_label(lists.len() as u64)}</p>
                    <ul class="lists">
                        {lists
                            .into_iter()
                            .map(|list| view! {
                                <li>
                                    <a href=format!("/lists/{}", list.id)>{list.title}</a>
                                    <span class="meta">{to_do_label(list.open, list.total)}</span>
                                </li>
                            })
                            .collect_view()}
                    </ul>
                </main>
            </body>
        </html>
    }
}
