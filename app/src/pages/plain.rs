//! The home page's lists rendered from a plain `Vec`, with no model: the
//! baselines the SSR bench measures the model's cost against, beside `/`
//! with the same 100 lists. Neither has a header (the header is the
//! model's: presence, undo, the connection's state).
//!
//! - `/bench/plain`: the markup alone, each row written out once.
//! - `/bench/for`: the structure a live Leptos page has, as `/` does: the
//!   `Vec` in a signal, rows by `<For>`, each a component reading its
//!   list through a signal. What `/` costs beyond it is the model's.

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

/// The plain page as a live Leptos page is built (see the module's docs).
pub fn for_shell(options: LeptosOptions, lists: Vec<ListSummary>) -> impl IntoView {
    provide_meta_context();
    let count = lists.len() as u64;
    let lists = RwSignal::new(lists);
    let rows = view! {
        <For each=move || lists.get() key=|list| list.id.clone() let:list>
            <SummaryRow list=RwSignal::new(list)/>
        </For>
    };
    plain_document(options, count, rows)
}

#[component]
fn SummaryRow(list: RwSignal<ListSummary>) -> impl IntoView {
    let id = list.with_untracked(|l| l.id.clone());
    view! {
        <li>
            <a href=format!("/lists/{id}")>{move || list.with(|l| l.title.clone())}</a>
            <span class="meta">{move || list.with(|l| to_do_label(l.open, l.total))}</span>
        </li>
    }
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
