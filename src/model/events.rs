//! Model events: what changed where, and the listeners that hear it.
//!
//! Events are emitted after each mutation, local or remote, at the path
//! that changed. Listeners subscribe with a type and a pattern: `*` matches
//! one segment, a trailing `**` zero or more; the matched parts are the
//! listener's captures. Delivery is queued per model, first in first out:
//! a mutation made inside a listener is delivered after the event being
//! delivered, never in the middle of it (Racer's order).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::path::{self, Segments};
use crate::ot::{text0, utf16};

/// Which events a listener hears.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A value was set, replaced or deleted (also string and number edits).
    Change,
    /// Items were inserted into a list.
    Insert,
    /// Items were removed from a list.
    Remove,
    /// Items moved within a list.
    Move,
    /// A document was loaded into the model.
    Load,
    /// A document was unloaded from the model.
    Unload,
    /// Every event.
    All,
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// The value at the path is now `value` (`None`: deleted); it was
    /// `previous`.
    Change {
        /// The new value.
        value: Option<Value>,
        /// The value before.
        previous: Option<Value>,
    },
    /// `values` were inserted at `index` of the list at the path.
    Insert {
        /// Where the first one went.
        index: usize,
        /// The values.
        values: Vec<Value>,
    },
    /// `values` were removed at `index` of the list at the path.
    Remove {
        /// Where the first one was.
        index: usize,
        /// The values removed.
        values: Vec<Value>,
    },
    /// `how_many` items moved from `from` to `to` in the list at the path.
    Move {
        /// Where they were.
        from: usize,
        /// Where they are now.
        to: usize,
        /// How many.
        how_many: usize,
    },
    /// The document at the path was loaded.
    Load {
        /// Its data.
        value: Value,
    },
    /// The document at the path was unloaded.
    Unload {
        /// Its data before.
        previous: Option<Value>,
    },
}

impl EventKind {
    /// The whole values the event carries (not list items), to edit.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        let (a, b) = match self {
            Self::Change { value, previous } => (value.as_mut(), previous.as_mut()),
            Self::Load { value } => (Some(value), None),
            Self::Unload { previous } => (previous.as_mut(), None),
            Self::Insert { .. } | Self::Remove { .. } | Self::Move { .. } => (None, None),
        };
        a.into_iter().chain(b)
    }

    /// The event's type.
    pub fn event_type(&self) -> EventType {
        match self {
            Self::Change { .. } => EventType::Change,
            Self::Insert { .. } => EventType::Insert,
            Self::Remove { .. } => EventType::Remove,
            Self::Move { .. } => EventType::Move,
            Self::Load { .. } => EventType::Load,
            Self::Unload { .. } => EventType::Unload,
        }
    }
}

/// An event as a listener receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelEvent {
    /// Where it happened, as a dotted path.
    pub path: String,
    /// What happened.
    pub kind: EventKind,
    /// Data passed with the mutation ([`Model::pass`](super::Model::pass));
    /// remote changes carry `{"$remote": true}`, string edits
    /// `$stringInsert: {index, text}` or `$stringRemove: {index, howMany}`.
    pub passed: Map<String, Value>,
}

impl ModelEvent {
    /// Whether the change came from elsewhere (another client, the server).
    pub fn is_remote(&self) -> bool {
        self.passed.get("$remote") == Some(&Value::Bool(true))
    }

    /// For a string edit (`string_insert`, `string_remove`, `text_op`, or
    /// such an edit from elsewhere), the text0 op it applied to the
    /// string at the event's path; `None` for other changes.
    ///
    /// ```
    /// use peloton::model::{EventType, Model};
    /// use peloton::ot::text0;
    /// use std::sync::{Arc, Mutex};
    ///
    /// let model = Model::local();
    /// model.set("_page.title", "Hello")?;
    /// let ops = Arc::new(Mutex::new(Vec::new()));
    /// let sink = ops.clone();
    /// model.on(EventType::Change, "_page.title", move |event, _| {
    ///     sink.lock().unwrap().extend(event.text_op());
    /// });
    /// model.string_remove("_page.title", 1, 3)?;
    /// assert_eq!(ops.lock().unwrap()[0], text0::Op::new(vec![text0::Component::delete(1, "ell")]));
    /// # Ok::<(), peloton::model::ModelError>(())
    /// ```
    pub fn text_op(&self) -> Option<text0::Op> {
        let EventKind::Change { previous, .. } = &self.kind else {
            return None;
        };
        if let Some(insert) = self.passed.get("$stringInsert") {
            let index = insert.get("index")?.as_u64()? as usize;
            let text = insert.get("text")?.as_str()?;
            return Some(text0::Op::new(vec![text0::Component::insert(index, text)]));
        }
        if let Some(remove) = self.passed.get("$stringRemove") {
            let index = remove.get("index")?.as_u64()? as usize;
            let how_many = remove.get("howMany")?.as_u64()? as usize;
            let before = previous.as_ref()?.as_str()?;
            let removed = utf16::slice(before, index, index.saturating_add(how_many)).ok()?;
            return Some(text0::Op::new(vec![text0::Component::delete(
                index, removed,
            )]));
        }
        let subtype = self.passed.get("$subtype")?;
        if subtype.get("type")?.as_str()? != "text0" {
            return None;
        }
        serde_json::from_value(subtype.get("op")?.clone()).ok()
    }
}

type Callback = Arc<dyn Fn(&ModelEvent, &[String]) + Send + Sync>;

struct Listener {
    id: u64,
    event_type: EventType,
    /// It hears events that match any of these (captures: the first's).
    patterns: Vec<Vec<Pattern>>,
    callback: Callback,
    once: bool,
}

impl Listener {
    fn captures<S: AsRef<str>>(&self, segments: &[S]) -> Option<Vec<String>> {
        self.patterns.iter().find_map(|p| captures(p, segments))
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Pattern {
    Segment(String),
    One,
    Rest,
}

/// Compiles a listener pattern; `a**` means `a.**`. `**` matches the rest
/// of a path, so only at the end: elsewhere it means `*`.
fn compile(pattern: &str) -> Vec<Pattern> {
    let mut out = Vec::new();
    let segments = path::split(pattern);
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.into_iter().enumerate() {
        match segment.as_str() {
            "*" => out.push(Pattern::One),
            "**" if i < last => {
                tracing::warn!("`**` in the middle of {pattern:?} matches one segment, as `*`");
                out.push(Pattern::One);
            }
            "**" => out.push(Pattern::Rest),
            s if s.ends_with("**") => {
                out.push(Pattern::Segment(s.trim_end_matches('*').to_owned()));
                out.push(Pattern::Rest);
            }
            s => out.push(Pattern::Segment(s.to_owned())),
        }
    }
    out
}

/// Matches a path against a pattern; the captures if it matches.
fn captures<S: AsRef<str>>(pattern: &[Pattern], segments: &[S]) -> Option<Vec<String>> {
    let mut captured = Vec::new();
    for (i, p) in pattern.iter().enumerate() {
        match p {
            Pattern::Rest => {
                let rest = &segments[i.min(segments.len())..];
                let rest: Vec<&str> = rest.iter().map(AsRef::as_ref).collect();
                captured.push(rest.join("."));
                return Some(captured);
            }
            Pattern::One => captured.push(segments.get(i)?.as_ref().to_owned()),
            Pattern::Segment(s) => {
                if segments.get(i).map(AsRef::as_ref) != Some(s.as_str()) {
                    return None;
                }
            }
        }
    }
    (pattern.len() == segments.len()).then_some(captured)
}

/// The listeners of a model and its delivery queue.
#[derive(Default)]
pub(crate) struct Events {
    /// By id, which is also the order of registration.
    listeners: Mutex<BTreeMap<u64, Listener>>,
    next_id: Mutex<u64>,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<(Segments, ModelEvent)>,
    delivering: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Events {
    pub fn add(
        &self,
        event_type: EventType,
        pattern: &str,
        once: bool,
        callback: impl Fn(&ModelEvent, &[String]) + Send + Sync + 'static,
    ) -> u64 {
        self.insert(event_type, vec![compile(pattern)], once, Arc::new(callback))
    }

    /// A listener of every event at `segments`, below them, or at one of
    /// their parents (not the root): what a value read from `segments`
    /// may have changed with.
    pub fn add_value_listener(
        &self,
        segments: &[String],
        callback: impl Fn(&ModelEvent, &[String]) + Send + Sync + 'static,
    ) -> u64 {
        let exact: Vec<Pattern> = segments.iter().cloned().map(Pattern::Segment).collect();
        let mut patterns: Vec<Vec<Pattern>> =
            (1..segments.len()).map(|k| exact[..k].to_vec()).collect();
        let mut at_or_below = exact;
        at_or_below.push(Pattern::Rest);
        patterns.push(at_or_below);
        self.insert(EventType::All, patterns, false, Arc::new(callback))
    }

    fn insert(
        &self,
        event_type: EventType,
        patterns: Vec<Vec<Pattern>>,
        once: bool,
        callback: Callback,
    ) -> u64 {
        let id = {
            let mut next = lock(&self.next_id);
            *next += 1;
            *next
        };
        let listener = Listener {
            id,
            event_type,
            patterns,
            callback,
            once,
        };
        lock(&self.listeners).insert(id, listener);
        id
    }

    /// Whether any listener's pattern matches `segments` (whatever its
    /// type): an event there that nobody hears need not be built.
    pub fn heard_at<S: AsRef<str>>(&self, segments: &[S]) -> bool {
        lock(&self.listeners)
            .values()
            .any(|l| l.captures(segments).is_some())
    }

    pub fn remove(&self, id: u64) -> bool {
        lock(&self.listeners).remove(&id).is_some()
    }

    pub fn remove_all(&self) {
        lock(&self.listeners).clear();
    }

    /// Queues events and, unless a delivery is under way (on this model, on
    /// any thread), delivers the queue.
    pub fn emit(&self, events: impl IntoIterator<Item = (Segments, ModelEvent)>) {
        {
            let mut queue = lock(&self.queue);
            queue.pending.extend(events);
            if queue.delivering {
                return;
            }
            queue.delivering = true;
        }
        loop {
            let next = {
                let mut queue = lock(&self.queue);
                match queue.pending.pop_front() {
                    Some(next) => next,
                    None => {
                        queue.delivering = false;
                        return;
                    }
                }
            };
            self.deliver(&next.0, &next.1);
        }
    }

    fn deliver(&self, segments: &[String], event: &ModelEvent) {
        let event_type = event.kind.event_type();
        // Type-specific listeners first, then `All`; no lock held while
        // calling them.
        let mut matched: Vec<(u64, Callback, Vec<String>, bool)> = Vec::new();
        {
            let listeners = lock(&self.listeners);
            for pass in [false, true] {
                for l in listeners.values() {
                    let wanted = if pass {
                        l.event_type == EventType::All
                    } else {
                        l.event_type == event_type
                    };
                    if wanted && let Some(caps) = l.captures(segments) {
                        matched.push((l.id, l.callback.clone(), caps, l.once));
                    }
                }
            }
        }
        for (id, callback, caps, once) in matched {
            if once && !self.remove(id) {
                continue;
            }
            // A panicking listener must not silence the others, nor stop
            // the delivery of later events (or, for remote changes, take
            // the connection's task down with it).
            let call = std::panic::AssertUnwindSafe(|| callback(event, &caps));
            if std::panic::catch_unwind(call).is_err() {
                tracing::error!(
                    "a model listener panicked on {}; delivery goes on",
                    event.path
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> Option<Vec<String>> {
        captures(&compile(pattern), &path::split(path))
    }

    #[test]
    fn patterns_capture_segments() {
        assert_eq!(m("a.b", "a.b"), Some(vec![]));
        assert_eq!(m("a.b", "a.b.c"), None);
        assert_eq!(m("a.b.c", "a.b"), None);
        assert_eq!(m("a.*", "a.x"), Some(vec!["x".into()]));
        assert_eq!(m("a.*.c", "a.x.c"), Some(vec!["x".into()]));
        assert_eq!(m("a.**", "a"), Some(vec!["".into()]));
        assert_eq!(m("a.**", "a.x.y"), Some(vec!["x.y".into()]));
        assert_eq!(m("a**", "a.x"), Some(vec!["x".into()]));
        assert_eq!(m("*.*", "a"), None);
        assert_eq!(m("**", "a.b"), Some(vec!["a.b".into()]));
        assert_eq!(m("", ""), Some(vec![]));
        assert_eq!(m("a.**.c", "a.x.c"), Some(vec!["x".into()]));
        assert_eq!(m("a.**.c", "a.x.y"), None);
    }
}
