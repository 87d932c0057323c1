use std::collections::HashSet;

use leptos::prelude::*;
use peloton::leptos::{QuerySignals, use_model, use_subscribe_query};
use peloton::model::{EventKind, Model, ModelEvent, ModelQuery};
use serde::Deserialize;
use serde_json::json;

/// The landing page: every list, live, with a live count.
#[component]
pub fn Home() -> impl IntoView {
    let model = use_model();
    let (lists_loaded, lists) = use_subscribe_query("lists", || json!({"$sort": {"createdAt": 1}}));
    let (count_loaded, count) = use_subscribe_query("lists", || json!({"$count": true}));
    let title = RwSignal::new(String::new());
    // The lists this page created: the query brings them back too, and
    // only others' are announced.
    let mine = StoredValue::new(HashSet::<String>::new());
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = title.get_untracked().trim().to_owned();
        if name.is_empty() {
            return;
        }
        let list = json!({"title": name, "createdAt": crate::now_ms(), "items": []});
        match model.add("lists", list) {
            Ok(added) => mine.update_value(|m| {
                m.insert(added.value);
            }),
            Err(e) => leptos::logging::error!("creating a list failed: {e}"),
        }
        title.set(String::new());
    };
    view! {
        <h1>"Shared todo lists"</h1>
        <p class="lede">
            "Open a list in two windows: every change shows up in both at once, "
            "even when you both edit at the same time."
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading lists…"</p> }>
            {move || Suspend::new(async move {
                match (lists_loaded.await, count_loaded.await) {
                    (Ok(()), Ok(())) => view! {
                        <ListOverview lists=lists.get_untracked() count=count.get_untracked() mine/>
                    }
                    .into_any(),
                    (Err(e), _) | (_, Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                }
            })}
        </Suspense>
        <form class="new-list" on:submit=create>
            <label class="sr-only" for="new-list-title">"New list title"</label>
            <input
                id="new-list-title"
                name="title"
                placeholder="A new list…"
                prop:value=move || title.get()
                on:input=move |ev| title.set(event_target_value(&ev))
            />
            <button type="submit">"Create list"</button>
        </form>
        <p class="note-link">
            "Or write together in the "<a href="/notes/welcome">"shared note"</a>"."
        </p>
    }
}

/// The lists of a live query, with the live count of another; lists that
/// others add (not those in `mine`) are announced to screen readers.
#[component]
fn ListOverview(
    lists: ModelQuery,
    count: ModelQuery,
    mine: StoredValue<HashSet<String>>,
) -> impl IntoView {
    let model = lists.model().clone();
    crate::components::announce_remote(&model, &lists.ids_path(), {
        let model = model.clone();
        move |event, _| describe_new_lists(&model, event, mine)
    });
    // The rows as values, read in one pass over the results. A row is
    // keyed by all it shows, so one that changes is drawn again and the
    // others are kept.
    let rows = lists.docs_signal::<ListRowData>();
    let total = count.extra_signal::<u64>();
    view! {
        <p class="count">{move || count_label(total.get().unwrap_or(0))}</p>
        <ul class="lists">
            <For each=move || rows.get() key=|row| row.clone() let:row>
                <ListRow row/>
            </For>
        </ul>
    }
}

/// What a row shows of a list: its title and how many of its items are
/// still to do.
#[derive(Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "ListDoc")]
pub struct ListRowData {
    pub id: String,
    pub title: String,
    pub open: usize,
    pub total: usize,
}

/// The part of a list document a row reads (serde skips the rest).
#[derive(Deserialize)]
struct ListDoc {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    items: Vec<ItemState>,
}

/// What a row needs of an item: whether it is done.
#[derive(Deserialize)]
struct ItemState {
    #[serde(default)]
    done: bool,
}

impl From<ListDoc> for ListRowData {
    fn from(list: ListDoc) -> Self {
        Self {
            open: list.items.iter().filter(|i| !i.done).count(),
            total: list.items.len(),
            id: list.id,
            title: list.title,
        }
    }
}

/// One list's line on the home page.
#[component]
pub(crate) fn ListRow(row: ListRowData) -> impl IntoView {
    view! {
        <li>
            <a href=format!("/lists/{}", row.id)>{row.title}</a>
            <span class="meta">{to_do_label(row.open, row.total)}</span>
        </li>
    }
}

/// "Someone added a list: Groceries", for lists others added.
fn describe_new_lists(
    model: &Model,
    event: &ModelEvent,
    mine: StoredValue<HashSet<String>>,
) -> Option<String> {
    let EventKind::Insert { values, .. } = &event.kind else {
        return None;
    };
    let titles: Vec<String> = values
        .iter()
        .filter_map(|id| id.as_str())
        .filter(|id| !mine.with_value(|m| m.contains(*id)))
        .map(|id| {
            model
                .get::<String>(&format!("lists.{id}.title"))
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| "(untitled)".to_owned())
        })
        .collect();
    match titles.len() {
        0 => None,
        1 => Some(format!("Someone added a list: {}", titles[0])),
        n => Some(format!("Someone added {n} lists: {}", titles.join(", "))),
    }
}

/// "1 list", "3 lists".
pub(crate) fn count_label(n: u64) -> String {
    match n {
        1 => "1 list".to_owned(),
        n => format!("{n} lists"),
    }
}

/// "2 of 5 to do".
pub(crate) fn to_do_label(open: usize, total: usize) -> String {
    format!("{open} of {total} to do")
}
