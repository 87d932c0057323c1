//! A document's history: its latest versions, a preview of any of them,
//! and restoring one (an ordinary edit, so it merges with others' typing
//! and can be undone).

use leptos::prelude::*;
use leptos::task::spawn_local;
use peloton::leptos::use_model;
use peloton::protocol::{VersionInfo, VersionKind};

/// How many of the latest versions the panel lists.
const SHOWN: u64 = 20;

/// The history of the document `collection.id`, showing its `field`.
#[component]
pub fn History(collection: &'static str, id: String, field: &'static str) -> impl IntoView {
    let model = use_model();
    let doc = format!("{collection}.{id}");
    let versions = RwSignal::new(None::<Vec<VersionInfo>>);
    let preview = RwSignal::new(None::<(u64, String)>);
    let status = RwSignal::new(String::new());

    let load = {
        let (model, doc, id) = (model.clone(), doc.clone(), id.clone());
        move || {
            let (model, doc) = (model.clone(), doc.clone());
            let latest = model
                .connection()
                .and_then(|c| c.get(collection, &id).version())
                .unwrap_or(0);
            spawn_local(async move {
                let from = latest.saturating_sub(SHOWN - 1).max(1);
                match model.versions(&doc, from, None).await {
                    Ok(mut list) => {
                        list.reverse();
                        versions.set(Some(list));
                    }
                    Err(e) => status.set(format!("Could not load the history: {e}")),
                }
            });
        }
    };
    let show = {
        let (model, doc) = (model.clone(), doc.clone());
        move |v: u64| {
            let (model, doc) = (model.clone(), doc.clone());
            spawn_local(async move {
                match model.snapshot_at(&doc, v).await {
                    Ok(snapshot) => {
                        let text = snapshot
                            .data
                            .as_ref()
                            .and_then(|d| d.get(field))
                            .and_then(|t| t.as_str())
                            .unwrap_or("")
                            .to_owned();
                        preview.set(Some((v, text)));
                    }
                    Err(e) => status.set(format!("Could not load version {v}: {e}")),
                }
            });
        }
    };
    let restore = {
        let (model, doc) = (model.clone(), doc.clone());
        let load = load.clone();
        move |v: u64| {
            let (model, doc, load) = (model.clone(), doc.clone(), load.clone());
            spawn_local(async move {
                match model.restore(&doc, v).await {
                    Ok(()) => {
                        status.set(format!("Restored version {v}."));
                        preview.set(None);
                        load();
                    }
                    Err(e) => status.set(format!("Could not restore version {v}: {e}")),
                }
            });
        }
    };

    view! {
        <section class="history" aria-label="History">
            <button type="button" class="show-history" on:click={
                let load = load.clone();
                move |_| load()
            }>
                {move || if versions.with(Option::is_some) { "Refresh history" } else { "Show history" }}
            </button>
            <p class="meta history-status" role="status" aria-live="polite">{move || status.get()}</p>
            <ol class="versions">
                <For
                    each=move || versions.get().unwrap_or_default()
                    key=|version| version.v
                    let:version
                >
                    <li>
                        <button type="button" class="version" on:click={
                            let show = show.clone();
                            let v = version.v;
                            move |_| show(v)
                        }>
                            {describe(&version)}
                        </button>
                    </li>
                </For>
            </ol>
            {move || preview.get().map(|(v, text)| {
                let restore = restore.clone();
                view! {
                    <div class="preview">
                        <p class="meta">{format!("Version {v}:")}</p>
                        <pre class="preview-text">{text}</pre>
                        <button type="button" class="restore" on:click=move |_| restore(v)>
                            {format!("Restore version {v}")}
                        </button>
                    </div>
                }
            })}
        </section>
    }
}

/// "Version 12 · edited 5 s ago".
fn describe(version: &VersionInfo) -> String {
    let what = match version.kind {
        VersionKind::Create => "created",
        VersionKind::Edit => "edited",
        VersionKind::Delete => "deleted",
    };
    let when = version
        .ts
        .map(|ts| ago(crate::now_ms() - ts))
        .unwrap_or_default();
    format!("Version {} · {what} {when}", version.v)
}

fn ago(ms: f64) -> String {
    let s = (ms / 1000.0).max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}
