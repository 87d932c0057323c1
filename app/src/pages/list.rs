use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use peloton::leptos::{
    DocPresenceView, FilterSignals, ModelSignals, TextInput, use_doc_presence, use_model,
    use_start, use_subscribe,
};
use peloton::model::{EventKind, Model, ModelError, ModelEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// An item of a todo list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    id: String,
    text: String,
    #[serde(default)]
    done: bool,
}

/// A todo list: add, edit, toggle, reorder, delete, all shared live.
#[component]
pub fn ListPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let loaded = use_subscribe(move || vec![format!("lists.{}", id())]);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the list…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(()) => view! { <TodoList id=id()/> }.into_any(),
                    Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TodoList(id: String) -> impl IntoView {
    let model = use_model();
    let list = model.at(&format!("lists.{id}"));
    if list.get_value("").is_none() {
        return view! {
            <p class="error">"There is no such list. "<a href="/">"Back to all lists"</a></p>
        }
        .into_any();
    }
    let title = list.signal::<String>("title");
    let items = list.signal::<Vec<Item>>("items");
    // A reactive function: `_page.progress.<id>` follows the items, on the
    // server (it renders) and in the browser (it updates with every change,
    // anyone's).
    let progress_path = format!("_page.progress.{id}");
    if let Err(e) = use_start(&progress_path, &[&format!("lists.{id}.items")], progress) {
        leptos::logging::error!("{e}");
    }
    let progress = model.signal::<String>(&progress_path);
    // A filter: the items still to do, in list order, live.
    let to_do = model
        .filter(&format!("lists.{id}.items"), |item, _| item["done"] != true)
        .docs_signal::<Item>();
    // Where everyone is in the list: which item's text they are editing.
    let presence = use_doc_presence(&list, crate::components::me());
    // Screen readers hear what others change in the list.
    crate::components::announce_remote(&list, "**", {
        let list = list.clone();
        move |event, captures| describe_change(&list, event, &captures[0])
    });
    let draft = RwSignal::new(String::new());
    let add = {
        let list = list.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let text = draft.get_untracked().trim().to_owned();
            if text.is_empty() {
                return;
            }
            let item = json!({"id": list.id(), "text": text, "done": false});
            if let Err(e) = list.push("items", item) {
                leptos::logging::error!("adding an item failed: {e}");
            }
            draft.set(String::new());
        }
    };
    view! {
        <nav class="crumbs"><a href="/">"All lists"</a></nav>
        <h1 class="list-title">{move || title.get().unwrap_or_default()}</h1>
        <form class="new-item" on:submit=add>
            <label class="sr-only" for="new-item-text">"New item"</label>
            <input
                id="new-item-text"
                name="item"
                placeholder="Add an item…"
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
            />
            <button type="submit">"Add"</button>
        </form>
        <ul class="items">
            <For
                each=move || items.get().unwrap_or_default()
                key=|item| item.id.clone()
                children={
                    let list = list.clone();
                    move |item| {
                        view! { <ItemRow list=list.clone() items item presence=presence.clone()/> }
                    }
                }
            />
        </ul>
        <p class="meta">{move || progress.get().unwrap_or_default()}</p>
        <p class="next">
            {move || match to_do.get().first() {
                Some(item) => format!("Next: {}", item.text),
                None => "Nothing left to do".to_owned(),
            }}
        </p>
    }
    .into_any()
}

/// Words for a change someone else made at `at` (relative to the list),
/// for screen readers; `None` for what needs no words. Typing into an
/// item's text says which item, not what was typed, so a run of
/// keystrokes reads as one message.
fn describe_change(list: &Model, event: &ModelEvent, at: &str) -> Option<String> {
    let text_at = |i: usize| {
        item_name(
            &list
                .get::<String>(&format!("items.{i}.text"))
                .unwrap_or_default(),
        )
    };
    let texts = |values: &[Value]| {
        let names: Vec<String> = values
            .iter()
            .map(|v| item_name(v["text"].as_str().unwrap_or_default()))
            .collect();
        names.join(", ")
    };
    let segments: Vec<&str> = at.split('.').collect();
    let words = match (segments.as_slice(), &event.kind) {
        (_, EventKind::Load { .. } | EventKind::Unload { .. }) => return None,
        (["items"], EventKind::Insert { values, .. }) => {
            format!(
                "Someone added {}: {}",
                items_word(values.len()),
                texts(values)
            )
        }
        (["items"], EventKind::Remove { values, .. }) => {
            format!(
                "Someone deleted {}: {}",
                items_word(values.len()),
                texts(values)
            )
        }
        (["items"], EventKind::Move { to, .. }) => {
            format!("Someone moved an item: {}", text_at(*to))
        }
        (["items", i, "done"], EventKind::Change { value, .. }) => {
            let what = if value.as_ref() == Some(&Value::Bool(true)) {
                "done"
            } else {
                "not done"
            };
            format!(
                "Someone marked an item {what}: {}",
                text_at(i.parse().ok()?)
            )
        }
        (["items", i, "text"], _) => {
            format!("Someone edited item {}", i.parse::<usize>().ok()? + 1)
        }
        (
            ["title"],
            EventKind::Change {
                value: Some(Value::String(title)),
                ..
            },
        ) if event.text_op().is_none() => {
            format!("Someone renamed the list to {title}")
        }
        ([""], EventKind::Change { value: None, .. }) => "Someone deleted this list".to_owned(),
        _ => "The list was changed by someone else".to_owned(),
    };
    Some(words)
}

/// "an item", "3 items".
fn items_word(n: usize) -> String {
    match n {
        1 => "an item".to_owned(),
        n => format!("{n} items"),
    }
}

/// How an item is named to screen readers: by its text.
fn item_name(text: &str) -> String {
    match text.trim() {
        "" => "(empty item)".to_owned(),
        text => text.to_owned(),
    }
}

/// "2 of 3 done", from a list's items.
fn progress(inputs: &[Option<Value>]) -> Option<Value> {
    let items = inputs[0].as_ref()?.as_array()?;
    let done = items.iter().filter(|i| i["done"] == true).count();
    Some(json!(format!("{done} of {} done", items.len())))
}

/// One item. Its index is looked up when acting: other people may have
/// moved it since it was drawn. Its text is bound to the item's `text`, so
/// two people typing into it at once both keep their words, and ticking
/// or moving it never disturbs someone typing into it.
#[component]
fn ItemRow(
    list: Model,
    items: Signal<Option<Vec<Item>>>,
    item: Item,
    presence: DocPresenceView,
) -> impl IntoView {
    let id = StoredValue::new(item.id.clone());
    let index = Memo::new(move |_| {
        items
            .get()
            .unwrap_or_default()
            .iter()
            .position(|i| i.id == id.get_value())
    });
    let done = Memo::new(move |_| {
        let i = index.get();
        items.with(|all| {
            all.as_ref()
                .and_then(|all| all.get(i?))
                .is_some_and(|item| item.done)
        })
    });
    // The item's text, naming its controls for screen readers.
    let name = Memo::new(move |_| {
        let i = index.get();
        items.with(|all| {
            let item = all.as_ref().zip(i).and_then(|(all, i)| all.get(i));
            item_name(item.map_or("", |item| item.text.as_str()))
        })
    });
    let editing = presence.at(move || format!("items.{}", index.get().unwrap_or(usize::MAX)));
    let editing = move || {
        let names = crate::components::names(editing.get());
        (!names.is_empty()).then(|| format!("{} editing", names.join(", ")))
    };
    let start = index.get_untracked().unwrap_or_default();
    let text = view! {
        <TextInput
            model=list.clone()
            path=format!("items.{start}.text")
            presence
            attr:class="text"
            attr:aria-label="Item text"
        />
    };
    let list = StoredValue::new(list);
    // Runs a mutation on this item's current index.
    let act = move |f: &dyn Fn(&Model, usize, usize) -> Result<(), ModelError>| {
        let all = items.get_untracked().unwrap_or_default();
        if let Some(i) = all.iter().position(|i| i.id == id.get_value())
            && let Err(e) = f(&list.get_value(), i, all.len())
        {
            leptos::logging::error!("{e}");
        }
    };
    view! {
        <li class="item" class:done=move || done.get() data-id=item.id>
            <input
                type="checkbox"
                aria-label=move || format!("Done: {}", name.get())
                checked=move || done.get()
                prop:checked=move || done.get()
                on:change=move |ev| {
                    let checked = event_target_checked(&ev);
                    act(&|list, i, _| list.set(&format!("items.{i}.done"), checked).map(drop));
                }
            />
            {text}
            <span class="editing">{editing}</span>
            <button
                class="up"
                title="Move up"
                aria-label=move || format!("Move up: {}", name.get())
                on:click=move |_| act(&|list, i, _| {
                    if i > 0 { list.move_items("items", i, i - 1, 1).map(drop) } else { Ok(()) }
                })
            >"↑"</button>
            <button
                class="down"
                title="Move down"
                aria-label=move || format!("Move down: {}", name.get())
                on:click=move |_| act(&|list, i, len| {
                    if i + 1 < len { list.move_items("items", i, i + 1, 1).map(drop) } else { Ok(()) }
                })
            >"↓"</button>
            <button
                class="delete"
                title="Delete"
                aria-label=move || format!("Delete: {}", name.get())
                on:click=move |_| act(&|list, i, _| list.remove("items", i, 1).map(drop))
            >"✕"</button>
        </li>
    }
}
