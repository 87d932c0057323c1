//! String mutators: insert and remove text at UTF-16 offsets (as
//! JavaScript counts), and whole text0 ops from a bound field.
//!
//! Only the string ops live here; the shared machinery (`edit`, events,
//! acknowledgements) is the parent module's.

use serde_json::{Value, json};

use super::{Edit, Mutation, json0_error, set_components};
use crate::model::error::type_name;
use crate::model::events::EventKind;
use crate::model::path;
use crate::model::{Model, ModelError, value};
use crate::ot::json0::Component;
use crate::ot::text0;
use crate::ot::utf16;

impl Model {
    /// Inserts `text` at `index` (UTF-16 code units, as in JavaScript) of
    /// the string at `path` (created if missing); returns the previous
    /// string. Its `Change` event passes `$stringInsert: {index, text}`.
    pub fn string_insert(
        &self,
        path: &str,
        index: usize,
        text: &str,
    ) -> Result<Mutation<Option<String>>, ModelError> {
        let model = self.pass(json!({"$stringInsert": {"index": index, "text": text}}));
        model.edit(path, |doc, rest| {
            let (components, previous, new) = match value::lookup(doc, rest) {
                Some(Value::String(s)) => {
                    let mut new = s.clone();
                    utf16::inject(&mut new, index, text).map_err(|at| splits(rest, at))?;
                    let at = index.min(utf16::len(s));
                    (
                        vec![Component::string_insert(path::to_json0(rest), at, text)],
                        Some(s.clone()),
                        new,
                    )
                }
                None | Some(Value::Null) => (
                    set_components(doc, rest, json!(text))?.0,
                    None,
                    text.to_owned(),
                ),
                Some(other) => return Err(not_a_string("string_insert", rest, other)),
            };
            let change = EventKind::Change {
                value: Some(Value::String(new)),
                previous: previous.clone().map(Value::String),
            };
            Ok(Edit {
                components,
                events: vec![(rest.to_vec(), change)],
                value: previous,
            })
        })
    }

    /// Removes `how_many` UTF-16 code units at `index` of the string at
    /// `path`; returns the previous string. Its `Change` event passes
    /// `$stringRemove: {index, howMany}`.
    pub fn string_remove(
        &self,
        path: &str,
        index: usize,
        how_many: usize,
    ) -> Result<Mutation<Option<String>>, ModelError> {
        let model = self.pass(json!({"$stringRemove": {"index": index, "howMany": how_many}}));
        model.edit(path, |doc, rest| {
            let s = match value::lookup(doc, rest) {
                Some(Value::String(s)) => s,
                other => {
                    return Err(not_a_string(
                        "string_remove",
                        rest,
                        other.unwrap_or(&Value::Null),
                    ));
                }
            };
            let removed = utf16::slice(s, index, index.saturating_add(how_many))
                .map_err(|at| splits(rest, at))?;
            if removed.is_empty() {
                return Ok(Edit::new(Some(s.clone())));
            }
            let from = utf16::byte_offset(s, index).map_err(|_| splits(rest, index))?;
            let mut new = s.clone();
            new.replace_range(from..from + removed.len(), "");
            let change = EventKind::Change {
                value: Some(Value::String(new)),
                previous: Some(Value::String(s.clone())),
            };
            Ok(Edit {
                components: vec![Component::string_delete(
                    path::to_json0(rest),
                    index,
                    removed,
                )],
                events: vec![(rest.to_vec(), change)],
                value: Some(s.clone()),
            })
        })
    }
    /// Applies a text0 op (json0's embedded text type, Racer's
    /// `subtypeSubmit`) to the string at `path`; returns the previous
    /// string. A one-component op passes `$stringInsert`/`$stringRemove` like
    /// [`string_insert`](Model::string_insert); longer ones `$subtype`.
    pub fn text_op(
        &self,
        path: &str,
        op: text0::Op,
    ) -> Result<Mutation<Option<String>>, ModelError> {
        let passed = crate::model::remote::text0_passed(&op);
        self.pass(passed).edit(path, |doc, rest| {
            let s = match value::lookup(doc, rest) {
                Some(Value::String(s)) => s,
                other => return Err(not_a_string("text_op", rest, other.unwrap_or(&Value::Null))),
            };
            let mut new = s.clone();
            text0::apply(&mut new, &op).map_err(|e| json0_error(rest, e))?;
            let change = EventKind::Change {
                value: Some(Value::String(new)),
                previous: Some(Value::String(s.clone())),
            };
            Ok(Edit {
                components: vec![Component::text0(path::to_json0(rest), op.clone())],
                events: vec![(rest.to_vec(), change)],
                value: Some(s.clone()),
            })
        })
    }
}

fn splits(rest: &[String], at: usize) -> ModelError {
    json0_error(rest, format!("UTF-16 offset {at} splits a character"))
}

fn not_a_string(op: &'static str, rest: &[String], found: &Value) -> ModelError {
    ModelError::WrongType {
        op,
        path: path::join(rest),
        expected: "a string",
        found: type_name(Some(found)),
    }
}
