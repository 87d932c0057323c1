//! Tells the visitor when an edit did not stick: the server refused it (and
//! the page took it back), or the document is gone from the server.

use leptos::prelude::*;
use peloton::leptos::use_sync_error;

/// A banner with the latest edit that was not saved, until dismissed. Its
/// live region is always there, so screen readers announce what appears.
#[component]
pub fn SyncErrors() -> impl IntoView {
    // No model while Leptos lists the routes at startup: nothing to show.
    if peloton::leptos::try_use_model().is_none() {
        return ().into_any();
    }
    let (error, dismiss) = use_sync_error();
    view! {
        <div class="sync-error" role="alert">
            {move || {
                error
                    .get()
                    .map(|e| {
                        let text = if e.gone {
                            "This document no longer exists on the server, so your change \
                             was not saved. Reload the page to see what is there now."
                                .to_owned()
                        } else {
                            format!("Your change was not saved: {}", e.message)
                        };
                        let dismiss = dismiss.clone();
                        view! {
                            <p>{text}</p>
                            <button type="button" on:click=move |_| dismiss()>
                                "Dismiss"
                            </button>
                        }
                    })
            }}
        </div>
    }
    .into_any()
}
