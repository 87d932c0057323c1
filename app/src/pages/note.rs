use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use peloton::leptos::{use_model, use_subscribe};
use peloton::model::Model;
use peloton::ot::text0;
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

#[component]
fn NoteEditor(id: String) -> impl IntoView {
    let model = use_model();
    let note = model.at(&format!("notes.{id}"));
    let textarea = NodeRef::<leptos::html::Textarea>::new();
    let initial = note.get::<String>("text").unwrap_or_default();

    // In the browser: show remote edits without moving the caret.
    Effect::new({
        let note = note.clone();
        move |_| {
            let listener = note.on(peloton::model::EventType::All, "**", move |event, _| {
                if event.is_remote() || matches!(event.kind, peloton::model::EventKind::Load { .. })
                {
                    remote_edit(textarea, event);
                }
            });
            let note = note.clone();
            on_cleanup(move || {
                note.remove_listener(listener);
            });
        }
    });

    let on_input = move |_| {
        let Some(element) = textarea.get_untracked() else {
            return;
        };
        let new = element.value();
        // The first words create the note.
        let result = match note.get::<String>("text") {
            None => note.create_null("", json!({"text": new})).map(drop),
            Some(old) => match diff(&old, &new) {
                Some(op) => note.text_op("text", op).map(drop),
                None => Ok(()),
            },
        };
        if let Err(e) = result {
            leptos::logging::error!("editing the note failed: {e}");
        }
    };
    view! {
        <textarea class="note" node_ref=textarea rows="14" on:input=on_input>
            {textarea_text(initial)}
        </textarea>
    }
}

/// The text of a `<textarea>` as its HTML. Leptos writes a textarea's text
/// into the server's HTML as it is (the HTML parser reads that text raw up
/// to `</textarea>`), so a note holding `</textarea><script>` would run
/// script for everyone opening it: on the server, `&` and `<` are written as
/// entities, which the browser reads back as the characters. The browser
/// drops a newline right after the tag, so one that starts the text is
/// doubled.
fn textarea_text(text: String) -> String {
    if cfg!(feature = "ssr") {
        let escaped = text.replace('&', "&amp;").replace('<', "&lt;");
        if escaped.starts_with('\n') {
            format!("\n{escaped}")
        } else {
            escaped
        }
    } else {
        text
    }
}

/// The text0 op that turns `old` into `new`: what changed between their
/// common prefix and suffix, in UTF-16 units as the browser counts.
fn diff(old: &str, new: &str) -> Option<text0::Op> {
    let (a, b): (Vec<u16>, Vec<u16>) = (old.encode_utf16().collect(), new.encode_utf16().collect());
    let mut start = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // Never split a surrogate pair.
    if start > 0 && (0xD800..0xDC00).contains(&a.get(start - 1).copied().unwrap_or(0)) {
        start -= 1;
    }
    let max_suffix = a.len().min(b.len()) - start;
    let mut end = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_suffix)
        .take_while(|(x, y)| x == y)
        .count();
    if end > 0 && (0xDC00..0xE000).contains(&a.get(a.len() - end).copied().unwrap_or(0)) {
        end -= 1;
    }
    let removed = String::from_utf16_lossy(&a[start..a.len() - end]);
    let inserted = String::from_utf16_lossy(&b[start..b.len() - end]);
    let mut components = Vec::new();
    if !removed.is_empty() {
        components.push(text0::Component::delete(start, removed));
    }
    if !inserted.is_empty() {
        components.push(text0::Component::insert(start, inserted));
    }
    (!components.is_empty()).then(|| text0::Op::new(components))
}

/// Shows a remote edit, keeping the local caret (and selection) where the
/// text it was next to went. Other changes (the note created, reloaded)
/// replace the text and keep the caret where it was, as far as it fits.
fn remote_edit(textarea: NodeRef<leptos::html::Textarea>, event: &peloton::model::ModelEvent) {
    use peloton::model::EventKind;
    let Some(element) = textarea.get_untracked() else {
        return;
    };
    let text = match &event.kind {
        EventKind::Change { value, .. } if event.path.ends_with(".text") => value
            .as_ref()
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
        EventKind::Change {
            value: Some(doc), ..
        } => doc["text"].as_str().unwrap_or_default().to_owned(),
        EventKind::Load { value } => value["text"].as_str().unwrap_or_default().to_owned(),
        _ => return,
    };
    let start = element.selection_start().ok().flatten().unwrap_or(0) as usize;
    let end = element.selection_end().ok().flatten().unwrap_or(0) as usize;
    let shift = |pos: usize| -> usize {
        if let Some(insert) = event.passed.get("$stringInsert") {
            let index = insert["index"].as_u64().unwrap_or(0) as usize;
            let len = insert["text"]
                .as_str()
                .map_or(0, |t| t.encode_utf16().count());
            if index < pos { pos + len } else { pos }
        } else if let Some(remove) = event.passed.get("$stringRemove") {
            let index = remove["index"].as_u64().unwrap_or(0) as usize;
            let len = remove["howMany"].as_u64().unwrap_or(0) as usize;
            if index < pos {
                pos - len.min(pos - index)
            } else {
                pos
            }
        } else {
            pos
        }
    };
    let len = text.encode_utf16().count();
    element.set_value(&text);
    let _ = element.set_selection_range(shift(start).min(len) as u32, shift(end).min(len) as u32);
}

#[cfg(test)]
mod tests {
    use super::diff;
    use peloton::ot::text0;

    fn apply(old: &str, new: &str) -> String {
        let mut s = old.to_owned();
        if let Some(op) = diff(old, new) {
            text0::apply(&mut s, &op).unwrap();
        }
        s
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_note_cannot_close_its_textarea() {
        let html = super::textarea_text("a</textarea><script>x()</script> & b".into());
        assert_eq!(html, "a&lt;/textarea>&lt;script>x()&lt;/script> &amp; b");
        assert_eq!(super::textarea_text("\nfirst".into()), "\n\nfirst");
    }

    #[test]
    fn diffs_turn_old_into_new() {
        for (old, new) in [
            ("", "a"),
            ("abc", "abXc"),
            ("hello", "help"),
            ("a😀b", "a😁b"),
            ("xx", "x"),
            ("same", "same"),
        ] {
            assert_eq!(apply(old, new), new, "{old} -> {new}");
        }
        assert!(diff("same", "same").is_none());
    }
}
