//! Changes from elsewhere: the connection's events as model events.
//!
//! Remote ops arrive one json0 component at a time, and each becomes one
//! Racer event at the path it changed, passed `{"$remote": true}`.
//!
//! This module owns that translation only; it changes no data (the client
//! applied the op already), and leaves query results to `query` and the undo
//! history to `undo`.

use serde_json::{Map, Value, json};

use super::events::EventKind;
use super::path::{self, Segments};
use super::{Model, value};
use crate::client::ClientEvent;
use crate::ot::json0::{Action, Component};
use crate::ot::{text0, utf16};

impl Model {
    pub(crate) fn on_client_event(&self, event: &ClientEvent) {
        // The undo history follows every change from elsewhere first.
        match event {
            ClientEvent::Op {
                collection,
                id,
                component,
                ..
            } => self.transform_undo(collection, id, component),
            ClientEvent::Created { collection, id, .. }
            | ClientEvent::Deleted { collection, id, .. }
            | ClientEvent::Loaded { collection, id, .. } => self.forget_undo(collection, id),
            _ => {}
        }
        let doc_path = |c: &str, id: &str| vec![c.to_owned(), id.to_owned()];
        let (events, extra) = match event {
            ClientEvent::Op {
                collection,
                id,
                component,
                value,
            } => {
                let mut base = doc_path(collection, id);
                match op_event(component, value.as_ref()) {
                    Some((rel, kind, extra)) => {
                        base.extend(rel);
                        (vec![(base, kind)], extra)
                    }
                    None => return,
                }
            }
            ClientEvent::Created {
                collection,
                id,
                data,
            } => (
                vec![(
                    doc_path(collection, id),
                    EventKind::Change {
                        value: Some(data.clone()),
                        previous: None,
                    },
                )],
                None,
            ),
            ClientEvent::Deleted {
                collection,
                id,
                previous,
            } => (
                vec![(
                    doc_path(collection, id),
                    EventKind::Change {
                        value: None,
                        previous: previous.clone(),
                    },
                )],
                None,
            ),
            ClientEvent::Loaded {
                collection,
                id,
                previous,
            } => {
                // A page's model loads every document of its queries before
                // anything listens: no copy of each, nor of its path, for
                // nobody.
                if !self.heard_at(&[collection.as_str(), id.as_str()]) {
                    return;
                }
                let path = doc_path(collection, id);
                let value = self.connection().and_then(|c| c.get(collection, id).data());
                let kind = match (value, previous) {
                    (Some(value), None) => EventKind::Load { value },
                    (value, previous) => EventKind::Change {
                        value,
                        previous: previous.clone(),
                    },
                };
                (vec![(path, kind)], None)
            }
            ClientEvent::Query { query, change } => {
                self.on_query_change(*query, change);
                return;
            }
            ClientEvent::Presence { .. }
            | ClientEvent::State(_)
            | ClientEvent::Error(_)
            | ClientEvent::Rejected { .. } => return,
        };
        let mut passed = Map::new();
        passed.insert("$remote".into(), Value::Bool(true));
        if let Some(Value::Object(extra)) = extra {
            passed.extend(extra);
        }
        self.emit_with(events, passed);
    }
}

/// A remote component as a Racer event: where (relative to the document),
/// what, and extra `passed` data.
pub(super) fn op_event(
    c: &Component,
    value: Option<&Value>,
) -> Option<(Segments, EventKind, Option<Value>)> {
    let p = path::from_json0(&c.p);
    let split_last = || {
        let (last, parent) = p.split_last()?;
        Some((parent.to_vec(), path::index(last)?))
    };
    Some(match &c.action {
        Action::ObjectInsert(v) => (
            p,
            EventKind::Change {
                value: Some(v.clone()),
                previous: None,
            },
            None,
        ),
        Action::ObjectDelete(v) => (
            p,
            EventKind::Change {
                value: None,
                previous: Some(v.clone()),
            },
            None,
        ),
        Action::ObjectReplace { od, oi } => (
            p,
            EventKind::Change {
                value: Some(oi.clone()),
                previous: Some(od.clone()),
            },
            None,
        ),
        Action::ListReplace { ld, li } => (
            p,
            EventKind::Change {
                value: Some(li.clone()),
                previous: Some(ld.clone()),
            },
            None,
        ),
        Action::ListInsert(v) => {
            let (list, index) = split_last()?;
            (
                list,
                EventKind::Insert {
                    index,
                    values: vec![v.clone()],
                },
                None,
            )
        }
        Action::ListDelete(v) => {
            let (list, index) = split_last()?;
            (
                list,
                EventKind::Remove {
                    index,
                    values: vec![v.clone()],
                },
                None,
            )
        }
        Action::ListMove(to) => {
            let (list, from) = split_last()?;
            (
                list,
                EventKind::Move {
                    from,
                    to: *to,
                    how_many: 1,
                },
                None,
            )
        }
        Action::NumberAdd(n) => {
            let now = value.and_then(Value::as_f64);
            // An integer prints as one, as JavaScript (and the local path) does.
            let previous = now.map(|v| value::number(v - n));
            (
                p,
                EventKind::Change {
                    value: value.cloned(),
                    previous,
                },
                None,
            )
        }
        Action::StringInsert(text) => {
            let (string, index) = split_last()?;
            let now = value.and_then(Value::as_str)?;
            let previous = without(now, index, utf16::len(text));
            let pass = json!({"$stringInsert": {"index": index, "text": text}});
            (
                string,
                EventKind::Change {
                    value: value.cloned(),
                    previous,
                },
                Some(pass),
            )
        }
        Action::StringDelete(text) => {
            let (string, index) = split_last()?;
            let mut previous = value.and_then(Value::as_str)?.to_owned();
            utf16::inject(&mut previous, index, text).ok()?;
            let pass = json!({"$stringRemove": {"index": index, "howMany": utf16::len(text)}});
            (
                string,
                EventKind::Change {
                    value: value.cloned(),
                    previous: Some(json!(previous)),
                },
                Some(pass),
            )
        }
        Action::Text0(op) => {
            let previous = value.and_then(Value::as_str).and_then(|now| {
                let mut before = now.to_owned();
                text0::apply(&mut before, &text0::invert(op)).ok()?;
                Some(json!(before))
            });
            (
                p,
                EventKind::Change {
                    value: value.cloned(),
                    previous,
                },
                Some(text0_passed(op)),
            )
        }
    })
}

/// What a text0 op passes to listeners: a single edit reads like
/// `string_insert`/`string_remove`; longer ops pass the op itself.
pub(crate) fn text0_passed(op: &text0::Op) -> Value {
    match op.0.as_slice() {
        [one] => match &one.action {
            text0::Action::Insert(text) => json!({"$stringInsert": {"index": one.p, "text": text}}),
            text0::Action::Delete(text) => {
                json!({"$stringRemove": {"index": one.p, "howMany": utf16::len(text)}})
            }
        },
        _ => json!({"$subtype": {"type": "text0", "op": op}}),
    }
}

/// `s` without the `len` UTF-16 units at `index`.
fn without(s: &str, index: usize, len: usize) -> Option<Value> {
    let before = utf16::slice(s, 0, index).ok()?;
    let after = utf16::slice(s, index + len, usize::MAX).ok()?;
    Some(json!(format!("{before}{after}")))
}
