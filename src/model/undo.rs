//! Undo and redo of this model's own edits, never of anyone else's.
//!
//! Every edit this model makes to a remote document is remembered as the op
//! that takes it back. Ops from elsewhere move those ops with
//! [`json0::transform_undo`], so an undo applies to the document as it is
//! now and yields to what others did since: undoing your typing removes
//! your words and keeps theirs, even typed in the middle of yours.
//!
//! Typing on in one string, each edit where the one before left the caret
//! and within [`undo_merge_window`](super::ModelOptions::undo_merge_window)
//! of it, is one step (a jump elsewhere starts another, as does
//! [`Model::cut_undo_step`]); [`Model::undo_group`] makes any writes one
//! step. Writes to local
//! collections (`_page`, …) and whole-document creates and deletes are not
//! undone.
//!
//! ```
//! # #[cfg(feature = "ssr")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), peloton::model::ModelError> {
//! use peloton::backend::Backend;
//! use peloton::client::Connection;
//! use peloton::model::Model;
//! use serde_json::json;
//!
//! let model = Model::new(Connection::new(Backend::new()));
//! model.create("notes.n1", json!({"text": "", "likes": 0}))?.acked().await?;
//! model.string_insert("notes.n1.text", 0, "Hello")?;
//! model.string_insert("notes.n1.text", 5, " world")?; // typed on: one step
//! model.undo_group(|| -> Result<(), peloton::model::ModelError> {
//!     model.increment("notes.n1.likes", 1.0)?;
//!     model.set("notes.n1.title", "Greeting")?;
//!     Ok(())
//! })?;
//!
//! assert!(model.undo()?); // the group, at once
//! assert_eq!(model.get_value("notes.n1.likes"), Some(json!(0)));
//! assert_eq!(model.get_value("notes.n1.title"), None);
//! assert!(model.undo()?); // the typing
//! assert_eq!(model.get::<String>("notes.n1.text"), Some(String::new()));
//! assert!(!model.can_undo());
//! assert!(model.redo()?);
//! assert_eq!(model.get::<String>("notes.n1.text"), Some("Hello world".into()));
//! # Ok(()) }
//! # #[cfg(not(feature = "ssr"))]
//! # fn main() {}
//! ```

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::path;
use super::{Model, ModelError, lock};
use crate::client::rt;
use crate::ot::json0::{self, Action, Component, Op};

/// Whether there is something to undo and to redo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UndoState {
    /// [`Model::undo`] would change something.
    pub can_undo: bool,
    /// [`Model::redo`] would change something.
    pub can_redo: bool,
}

type UndoListener = Arc<dyn Fn(UndoState) + Send + Sync>;

/// A model's undo and redo stacks.
#[derive(Default)]
pub(crate) struct History {
    /// Undo steps, the latest last.
    undo: Vec<Step>,
    /// Redo steps, the latest undone last.
    redo: Vec<Step>,
    /// How deep in [`Model::undo_group`] calls we are.
    group_depth: usize,
    /// Whether the open group has its step on the stack yet.
    group_started: bool,
    /// The typing the latest step holds, while more can join it.
    typing: Option<Typing>,
    listeners: Vec<(u64, UndoListener)>,
    next_listener: u64,
}

/// Typing in progress: where, up to which offset, and when it last typed.
#[derive(Debug)]
struct Typing {
    /// The string's document (collection, id) and path in it.
    doc: (String, String),
    string: json0::Path,
    /// The offset right after the latest edit.
    caret: usize,
    at: f64,
}

/// A text edit, as undo steps see it: where in which string it starts and
/// ends.
struct TextEdit {
    string: json0::Path,
    /// Where its first component starts, and where that one's deletion
    /// ends (the same for an insertion).
    first: (usize, usize),
    /// The offset right after its last component.
    end: usize,
}

/// What one undo (or redo) applies: ops on documents, in order.
#[derive(Debug)]
struct Step(Vec<DocOp>);

#[derive(Debug)]
struct DocOp {
    collection: String,
    id: String,
    op: Op,
}

impl History {
    fn state(&self) -> UndoState {
        UndoState {
            can_undo: !self.undo.is_empty(),
            can_redo: !self.redo.is_empty(),
        }
    }

    /// Remembers a local edit; `typing` is the string it types into, if it
    /// only edits text.
    fn record(&mut self, edit: DocOp, typing: Option<TextEdit>, window_ms: f64, limit: usize) {
        let Ok(inverse) = json0::invert(&edit.op) else {
            return;
        };
        let undo = DocOp {
            op: inverse,
            ..edit
        };
        self.redo.clear();
        let now = rt::now_ms();
        let doc = (undo.collection.clone(), undo.id.clone());
        let merge = if self.group_depth > 0 {
            std::mem::replace(&mut self.group_started, true)
        } else {
            // Typing on from where the previous edit left the caret (or
            // deleting back to it), soon enough.
            matches!((&self.typing, &typing), (Some(last), Some(edit))
                if last.doc == doc
                    && last.string == edit.string
                    && (edit.first.0 == last.caret || edit.first.1 == last.caret)
                    && now - last.at <= window_ms)
        };
        match self.undo.last_mut() {
            Some(step) if merge => step.prepend(undo),
            _ => self.undo.push(Step(vec![undo])),
        }
        self.typing = if self.group_depth > 0 {
            None
        } else {
            typing.map(|edit| Typing {
                doc,
                string: edit.string,
                caret: edit.end,
                at: now,
            })
        };
        if self.undo.len() > limit {
            let excess = self.undo.len() - limit;
            self.undo.drain(..excess);
        }
    }

    /// Moves both stacks past an op someone else made to a document.
    fn transform(&mut self, collection: &str, id: &str, op: &Op) {
        for stack in [&mut self.undo, &mut self.redo] {
            let mine = |d: &&mut DocOp| d.collection == collection && d.id == id;
            let mut ops: Vec<Op> = stack
                .iter_mut()
                .rev()
                .flat_map(|step| step.0.iter_mut().filter(mine))
                .map(|d| std::mem::take(&mut d.op))
                .collect();
            if ops.is_empty() {
                continue;
            }
            if let Err(e) = json0::transform_undo(&mut ops, op) {
                tracing::warn!("undo history of {collection}.{id} dropped: {e}");
                ops.iter_mut().for_each(|op| op.0.clear());
            }
            let mut moved = ops.into_iter();
            for d in stack
                .iter_mut()
                .rev()
                .flat_map(|step| step.0.iter_mut().filter(mine))
            {
                d.op = moved.next().unwrap_or_default();
            }
            prune(stack);
        }
        // The typing's end moves with the text, as a caret does.
        if let Some(typing) = &mut self.typing
            && typing.doc.0 == collection
            && typing.doc.1 == id
        {
            let cursor = json0::Cursor {
                path: typing.string.clone(),
                offset: typing.caret,
            };
            match json0::transform_cursor(&cursor, op, crate::ot::Side::Left) {
                Some(moved) => typing.caret = moved.offset,
                None => self.typing = None,
            }
        }
    }

    /// Forgets what touches a document that was replaced or deleted.
    fn forget(&mut self, collection: &str, id: &str) {
        for stack in [&mut self.undo, &mut self.redo] {
            for step in stack.iter_mut() {
                step.0
                    .retain(|d| !(d.collection == collection && d.id == id));
            }
            prune(stack);
        }
        self.typing = None;
    }
}

impl Step {
    /// Puts `undo` first (it undoes the latest edit), merged into the op
    /// of the same document if that one comes first.
    fn prepend(&mut self, undo: DocOp) {
        if let Some(first) = self.0.first_mut()
            && first.collection == undo.collection
            && first.id == undo.id
            && let Ok(op) = json0::compose(&undo.op, &first.op)
        {
            first.op = op;
            return;
        }
        self.0.insert(0, undo);
    }
}

/// Drops ops that became no-ops, and steps left empty.
fn prune(stack: &mut Vec<Step>) {
    for step in stack.iter_mut() {
        step.0.retain(|d| !d.op.is_noop());
    }
    stack.retain(|step| !step.0.is_empty());
}

/// An op that only edits text, in one string: where it starts and ends.
fn text_edit(op: &Op) -> Option<TextEdit> {
    let mut string: Option<&[json0::PathSegment]> = None;
    let mut edits: Vec<crate::ot::text0::Component> = Vec::new();
    for c in op {
        let (path, mut more) = match &c.action {
            Action::Text0(text) => (c.p.as_slice(), text.0.clone()),
            Action::StringInsert(_) | Action::StringDelete(_) => {
                let (path, edit) = c.legacy_text()?;
                (path, vec![edit])
            }
            _ => return None,
        };
        match string {
            Some(p) if p != path => return None,
            _ => string = Some(path),
        }
        edits.append(&mut more);
    }
    let span = |c: &crate::ot::text0::Component| match &c.action {
        crate::ot::text0::Action::Insert(text) => (c.p, c.p + crate::ot::utf16::len(text)),
        crate::ot::text0::Action::Delete(text) => (c.p, c.p + crate::ot::utf16::len(text)),
    };
    let first = edits.first().map(span)?;
    let first = match edits[0].action {
        crate::ot::text0::Action::Insert(_) => (first.0, first.0),
        crate::ot::text0::Action::Delete(_) => first,
    };
    let last = edits.last()?;
    let end = match last.action {
        crate::ot::text0::Action::Insert(_) => span(last).1,
        crate::ot::text0::Action::Delete(_) => last.p,
    };
    Some(TextEdit {
        string: string?.to_vec(),
        first,
        end,
    })
}

impl Model {
    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        lock(&self.root.history)
    }

    /// Runs `f` on the history and tells the listeners if what can be
    /// undone or redone changed.
    fn with_history<R>(&self, f: impl FnOnce(&mut History) -> R) -> R {
        let (result, changed) = {
            let mut history = self.history();
            let before = history.state();
            let result = f(&mut history);
            let after = history.state();
            let listeners: Vec<UndoListener> = if before == after {
                Vec::new()
            } else {
                history.listeners.iter().map(|(_, l)| l.clone()).collect()
            };
            (result, (after, listeners))
        };
        let (state, listeners) = changed;
        for listener in listeners {
            listener(state);
        }
        result
    }

    /// Whether this model keeps an undo history.
    fn keeps_history(&self) -> bool {
        self.root.options.undo_limit > 0 && !self.root.options.fetch_only
    }

    /// Remembers a local edit of a remote document, for [`Model::undo`].
    pub(crate) fn record_undo(&self, collection: &str, id: &str, op: Op) {
        if !self.keeps_history() || op.is_noop() {
            return;
        }
        let typing = text_edit(&op);
        let window = self.root.options.undo_merge_window.as_secs_f64() * 1000.0;
        let limit = self.root.options.undo_limit;
        let edit = DocOp {
            collection: collection.to_owned(),
            id: id.to_owned(),
            op,
        };
        self.with_history(|h| h.record(edit, typing, window, limit));
    }

    /// Moves the undo history past a remote component applied to a document.
    pub(crate) fn transform_undo(&self, collection: &str, id: &str, component: &Component) {
        if self.keeps_history() {
            let op = Op(vec![component.clone()]);
            self.with_history(|h| h.transform(collection, id, &op));
        }
    }

    /// Forgets the undo history of a document replaced or deleted.
    pub(crate) fn forget_undo(&self, collection: &str, id: &str) {
        if self.keeps_history() {
            self.with_history(|h| h.forget(collection, id));
        }
    }

    /// Takes back this model's latest edit (or [group](Model::undo_group)),
    /// as it applies now: moved past what others did since, and without
    /// undoing any of it. Returns whether there was anything to undo.
    ///
    /// The undo is an ordinary edit (it syncs and merges like any other)
    /// whose events pass `{"$undo": true}`; [`Model::redo`] takes it back.
    pub fn undo(&self) -> Result<bool, ModelError> {
        self.replay(true)
    }

    /// Takes back the latest [`Model::undo`]; its events pass
    /// `{"$redo": true}`. Any new edit forgets what could be redone.
    pub fn redo(&self) -> Result<bool, ModelError> {
        self.replay(false)
    }

    fn replay(&self, undo: bool) -> Result<bool, ModelError> {
        let step = self.with_history(|h| {
            h.typing = None;
            if undo { h.undo.pop() } else { h.redo.pop() }
        });
        let Some(Step(ops)) = step else {
            return Ok(false);
        };
        let passed = json!({ if undo { "$undo" } else { "$redo" }: true });
        let mut back = Vec::new();
        let mut failure = None;
        for DocOp { collection, id, op } in ops {
            match self.apply_op(&collection, &id, op, &passed) {
                Ok(applied) => {
                    if let Ok(inverse) = json0::invert(&applied) {
                        back.insert(
                            0,
                            DocOp {
                                collection,
                                id,
                                op: inverse,
                            },
                        );
                    }
                }
                Err(e) => failure = Some(e),
            }
        }
        let applied_any = !back.is_empty();
        if applied_any {
            self.with_history(|h| {
                if undo {
                    h.redo.push(Step(back));
                } else {
                    h.undo.push(Step(back));
                }
            });
        }
        match failure {
            Some(e) if !applied_any => Err(e),
            Some(e) => {
                tracing::warn!("part of an undo step no longer applies: {e}");
                Ok(true)
            }
            None => Ok(true),
        }
    }

    /// Whether [`Model::undo`] would change something.
    pub fn can_undo(&self) -> bool {
        self.undo_state().can_undo
    }

    /// Whether [`Model::redo`] would change something.
    pub fn can_redo(&self) -> bool {
        self.undo_state().can_redo
    }

    /// What can be undone and redone.
    pub fn undo_state(&self) -> UndoState {
        self.history().state()
    }

    /// Makes every edit `f` makes one undo step.
    pub fn undo_group<R>(&self, f: impl FnOnce() -> R) -> R {
        self.with_history(|h| {
            h.group_depth += 1;
            if h.group_depth == 1 {
                h.group_started = false;
            }
        });
        struct Close<'a>(&'a Model);
        impl Drop for Close<'_> {
            fn drop(&mut self) {
                self.0.with_history(|h| {
                    h.group_depth = h.group_depth.saturating_sub(1);
                    h.typing = None;
                });
            }
        }
        let _close = Close(self);
        f()
    }

    /// Ends the current undo step: the next typing starts a new one.
    pub fn cut_undo_step(&self) {
        self.with_history(|h| h.typing = None);
    }

    /// Forgets everything that could be undone or redone.
    pub fn clear_undo(&self) {
        self.with_history(|h| {
            h.undo.clear();
            h.redo.clear();
            h.typing = None;
        });
    }

    /// Calls `listener` whenever [`Model::undo_state`] changes. Returns an
    /// id for [`Model::remove_undo_listener`].
    pub fn on_undo_state(&self, listener: impl Fn(UndoState) + Send + Sync + 'static) -> u64 {
        let mut history = self.history();
        history.next_listener += 1;
        let id = history.next_listener;
        history.listeners.push((id, Arc::new(listener)));
        id
    }

    /// Removes a listener added with [`Model::on_undo_state`].
    pub fn remove_undo_listener(&self, id: u64) -> bool {
        let mut history = self.history();
        let before = history.listeners.len();
        history.listeners.retain(|(l, _)| *l != id);
        history.listeners.len() != before
    }

    /// Applies `op` to the document `collection.id` as a local edit, with
    /// an event per component (passing `passed`); returns the op applied.
    fn apply_op(
        &self,
        collection: &str,
        id: &str,
        op: Op,
        passed: &Value,
    ) -> Result<Op, ModelError> {
        let connection = self
            .connection()
            .ok_or_else(|| ModelError::NoConnection(collection.to_owned()))?;
        let doc = connection.get(collection, id);
        let doc_path = path::join(&[collection.to_owned(), id.to_owned()]);
        let (events, _ack) = doc.submit_with(|data| {
            let data = data.ok_or_else(|| ModelError::DocDoesNotExist(doc_path.clone()))?;
            // The events need each component's result: replay on a copy.
            let mut scratch = data.clone();
            let mut events = Vec::new();
            for c in &op {
                json0::apply(&mut scratch, &Op(vec![c.clone()])).map_err(|e| {
                    ModelError::Serde {
                        path: doc_path.clone(),
                        message: e.to_string(),
                    }
                })?;
                let value = crate::client::edited_value(&scratch, c);
                events.extend(super::remote::op_event(c, value.as_ref()));
            }
            Ok::<_, ModelError>((Some(op.clone()), events))
        })?;
        let base = [collection.to_owned(), id.to_owned()];
        for (rel, kind, extra) in events {
            let mut all: Map<String, Value> = self.pass.as_deref().cloned().unwrap_or_default();
            if let Value::Object(p) = passed {
                all.extend(p.clone());
            }
            if let Some(Value::Object(extra)) = extra {
                all.extend(extra);
            }
            self.emit_with(
                vec![([base.as_slice(), rel.as_slice()].concat(), kind)],
                all,
            );
        }
        Ok(op)
    }
}
