//! Edits that did not stick, as a signal a view shows (a toast, a banner):
//! an edit the server refused and the client took back, or a server error
//! no request was waiting for. Without it a rejected edit just disappears
//! from the page.
//!
//! This module owns only turning the connection's events into that
//! signal; what is rolled back, and how, is the client's.

use std::sync::Mutex;

use leptos::prelude::*;

use super::use_model;
use crate::client::{ClientError, ClientEvent};
use crate::protocol::ErrorCode;

/// An edit that did not stick, or an error nothing waited for.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncError {
    /// The document it was about (`collection`, `id`), if any.
    pub doc: Option<(String, String)>,
    /// Whether the document no longer exists on the server (deleted, or
    /// the server lost it: an in-memory server restarted).
    pub gone: bool,
    /// What went wrong, for a person: the server's message.
    pub message: String,
}

impl SyncError {
    fn new(doc: Option<(String, String)>, error: &ClientError) -> Self {
        let code = error.server_error().map(|e| &e.code);
        let gone = matches!(
            code,
            Some(
                &ErrorCode::DocDoesNotExist
                    | &ErrorCode::DocWasDeleted
                    | &ErrorCode::OpVersionNewerThanCurrentSnapshot
            )
        ) || matches!(error, ClientError::DocDoesNotExist(_));
        let message = match error.server_error() {
            Some(e) => e.message.clone(),
            None => error.to_string(),
        };
        Self { doc, gone, message }
    }
}

/// The latest edit of the page's model that did not stick (`None` until
/// one does), and a function that clears it (a toast's close button).
/// On the server it stays `None`.
///
/// ```ignore
/// let (error, dismiss) = use_sync_error();
/// view! {
///     <Show when=move || error.with(Option::is_some)>
///         <div role="alert">{move || error.get().map(|e| e.message)}
///             <button on:click=move |_| dismiss()>"Dismiss"</button></div>
///     </Show>
/// }
/// ```
pub fn use_sync_error() -> (
    Signal<Option<SyncError>>,
    impl Fn() + Clone + Send + Sync + 'static,
) {
    let latest = RwSignal::new(None::<SyncError>);
    let dismiss = move || latest.set(None);
    let model = use_model();
    if model.options().fetch_only {
        return (latest.into(), dismiss);
    }
    let Some(connection) = model.connection().cloned() else {
        return (latest.into(), dismiss);
    };
    let handle = connection.on_event(move |event| {
        let error = match event {
            ClientEvent::Rejected {
                collection,
                id,
                error,
            } => SyncError::new(Some((collection.clone(), id.clone())), error),
            ClientEvent::Error(error) => SyncError::new(None, error),
            _ => return,
        };
        latest.try_set(Some(error));
    });
    let handle = Mutex::new(Some(handle));
    on_cleanup(move || drop(handle.lock().ok().and_then(|mut h| h.take())));
    (latest.into(), dismiss)
}
