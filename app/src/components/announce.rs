//! Tells screen reader users what other people changed: one polite live
//! region for the whole page, whose text is the latest change that arrived
//! from elsewhere. The visitor's own edits are never announced.

use std::time::Duration;

use leptos::prelude::*;
use peloton::model::{EventType, Model, ModelEvent};

/// How long an announcement stays. The region is emptied after this long
/// without news, so the same news later is announced again, while a run
/// of the same news (someone typing) is announced once.
const QUIET: Duration = Duration::from_secs(4);

/// The live region's text, shared by the pages.
#[derive(Clone, Copy)]
struct Announcer {
    message: RwSignal<String>,
    clear: StoredValue<Option<TimeoutHandle>>,
}

impl Announcer {
    fn say(self, text: String) {
        // Setting the same text again would not be announced anyway; only
        // the quiet period starts over.
        if self.message.with_untracked(|m| *m != text) {
            self.message.set(text);
        }
        if let Some(handle) = self.clear.get_value() {
            handle.clear();
        }
        let message = self.message;
        let handle = set_timeout_with_handle(move || message.set(String::new()), QUIET).ok();
        self.clear.set_value(handle);
    }
}

/// Makes announcements possible below this component; render
/// [`Announcements`] somewhere below it too.
pub fn provide_announcer() {
    provide_context(Announcer {
        message: RwSignal::new(String::new()),
        clear: StoredValue::new(None),
    });
}

/// The page's polite live region, visually hidden. It is in the page from
/// the start (rendered on the server, empty): screen readers only announce
/// changes to a region they already know.
#[component]
pub fn Announcements() -> impl IntoView {
    let message = use_context::<Announcer>().map(|a| a.message);
    view! {
        <div class="sr-only announcements" aria-live="polite" aria-atomic="true">
            {move || message.map(|m| m.get()).unwrap_or_default()}
        </div>
    }
}

/// Announces the remote changes at `pattern` (relative to `model`, as
/// [`Model::on`] takes it) that `describe` has words for, for as long as
/// the calling component lives. `describe` gets the event and the
/// pattern's captures.
pub fn announce_remote(
    model: &Model,
    pattern: &str,
    describe: impl Fn(&ModelEvent, &[String]) -> Option<String> + Send + Sync + 'static,
) {
    // A server render's model hears nothing from elsewhere.
    if model.options().fetch_only {
        return;
    }
    let Some(announcer) = use_context::<Announcer>() else {
        return;
    };
    let id = model.on(EventType::All, pattern, move |event, captures| {
        if event.is_remote()
            && let Some(text) = describe(event, captures)
        {
            announcer.say(text);
        }
    });
    let model = model.clone();
    on_cleanup(move || {
        model.remove_listener(id);
    });
}
