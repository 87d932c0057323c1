use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use peloton::leptos::{
    RemoteCaret, RemoteCarets, TextArea, use_doc_presence, use_model, use_subscribe,
};
use peloton::model::Model;
use serde_json::json;

/// A shared note: edits are text0 ops, so two people typing at once both
/// keep their words.
#[component]
pub fn NotePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let subscribed = use_subscribe(move || vec![format!("notes.{}", id())]);
    let model = use_model();
    // The note exists as soon as someone opens it, so two people starting
    // a new one at once both type into the same document.
    let loaded = Resource::new(id, move |id| {
        let model = model.clone();
        async move {
            subscribed.await?;
            ensure_note(&model, &id).await
        }
    });
    view! {
        <nav class="crumbs"><a href="/">"All lists"</a></nav>
        <h1>"Shared note"</h1>
        <p class="lede">"Type here while someone else does: both of you keep your words."</p>
        <Suspense fallback=|| view! { <p class="loading">"Loading the note…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(()) => view! { <NoteEditor id=id()/> }.into_any(),
                    Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Creates the note `notes.<id>` if there is none yet.
async fn ensure_note(model: &Model, id: &str) -> Result<(), String> {
    let note = model.at(&format!("notes.{id}"));
    if note.get_value("").is_some() {
        return Ok(());
    }
    let created = note
        .create_null("", json!({"text": ""}))
        .map_err(|e| e.to_string())?;
    if created.acked().await.is_err() {
        // Someone else created it first: take theirs.
        if let Some(connection) = model.connection() {
            connection
                .get("notes", id)
                .fetch()
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The note's text, bound to `notes.<id>.text`: typing becomes text0 ops,
/// others' edits keep the caret where it was, and others' carets show.
/// Below it, the note's history, where any version can be restored.
#[component]
fn NoteEditor(id: String) -> impl IntoView {
    let note = use_model().at(&format!("notes.{id}"));
    let presence = use_doc_presence(&note, crate::components::me());
    // One message however long someone types (it stays until they pause).
    crate::components::announce_remote(&note, "text", |_, _| {
        Some("The note was edited by someone else".to_owned())
    });
    let area = NodeRef::new();
    let text = presence.text("text");
    let carets = presence.carets("text");
    let editors = move || {
        let names = crate::components::names(presence_others(&carets));
        if names.is_empty() {
            String::new()
        } else {
            format!("Also here: {}", names.join(", "))
        }
    };
    view! {
        <div class="note-field">
            <TextArea
                model=note
                path="text"
                presence=presence.clone()
                field_ref=area
                attr:class="note"
                attr:aria-label="Note text"
                attr:rows="14"
            />
            <RemoteCarets field=area carets text/>
        </div>
        <p class="meta editors">{editors}</p>
        <crate::components::History collection="notes" id=id field="text"/>
    }
}

fn presence_others(carets: &Signal<Vec<RemoteCaret>>) -> Vec<serde_json::Value> {
    carets.get().into_iter().map(|c| c.info).collect()
}
