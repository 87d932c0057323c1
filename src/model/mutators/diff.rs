//! Diffing writes: `set_diff` and `set_diff_deep` (Racer's), which change
//! only what differs, and the text-preserving variant history's restore
//! uses.
//!
//! Only the diffing lives here; each change it finds is an ordinary
//! mutator call of the parent module.

use serde::Serialize;
use serde_json::Value;

use super::{Mutation, join_rel, to_value};
use crate::model::{Model, ModelError, path, value};

/// How a deep diff changes a string that differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strings {
    /// Replaces it whole (Racer's `setDiffDeep`).
    Replace,
    /// Edits it with the smallest text op, so concurrent typing in it is
    /// kept.
    Edit,
}

impl Model {
    /// Sets the value only if it differs (deeply) from the current one;
    /// returns the previous value.
    pub fn set_diff(
        &self,
        path: &str,
        value: impl Serialize,
    ) -> Result<Mutation<Option<Value>>, ModelError> {
        let new = to_value(&self.absolute(path), value)?;
        let current = self.get_value(path);
        if current.as_ref().is_some_and(|c| value::deep_equal(c, &new)) {
            return Ok(Mutation::done(current));
        }
        self.set(path, new)
    }

    /// Makes the value at `path` equal to `value` with the smallest changes:
    /// objects key by key (missing keys deleted first), lists by inserts,
    /// removes and moves of equal items, other values replaced.
    pub fn set_diff_deep(
        &self,
        path: &str,
        value: impl Serialize,
    ) -> Result<Mutation<()>, ModelError> {
        let new = to_value(&self.absolute(path), value)?;
        self.diff_deep(path, new, Strings::Replace)
    }

    /// [`set_diff_deep`](Model::set_diff_deep), with strings changed as
    /// `strings` says.
    pub(crate) fn diff_deep(
        &self,
        path: &str,
        new: Value,
        strings: Strings,
    ) -> Result<Mutation<()>, ModelError> {
        let current = self.get_value(path);
        match (current, new) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                // A remote doc's `id` alias is not data: nothing to delete
                // (Racer sends an `od` for it, which a validating server rejects).
                let doc_root = matches!(self.resolve_owned(self.absolute(path)).as_slice(),
                    [collection, _] if !path::is_local(collection));
                let mut all = Mutation::done(());
                for key in old
                    .keys()
                    .filter(|k| !(new.contains_key(*k) || (doc_root && *k == "id")))
                {
                    all.merge_acks(self.del(&join_rel(path, key))?);
                }
                for (key, value) in new {
                    all.merge_acks(self.diff_deep(&join_rel(path, &key), value, strings)?);
                }
                Ok(all)
            }
            (Some(Value::Array(old)), Value::Array(new)) => {
                let mut all = Mutation::done(());
                for step in crate::list_diff::diff(&old, &new, value::deep_equal) {
                    match step {
                        crate::list_diff::ArrayDiff::Insert { index, values } => {
                            all.merge_acks(self.insert(path, index, values)?);
                        }
                        crate::list_diff::ArrayDiff::Remove { index, how_many } => {
                            all.merge_acks(self.remove(path, index, how_many)?);
                        }
                        crate::list_diff::ArrayDiff::Move { from, to, how_many } => {
                            all.merge_acks(self.move_items(path, from, to, how_many)?);
                        }
                    }
                }
                Ok(all)
            }
            (Some(current), new) if value::deep_equal(&current, &new) => Ok(Mutation::done(())),
            (Some(Value::String(old)), Value::String(new)) if strings == Strings::Edit => {
                let op = crate::ot::text0::diff(&old, &new, None);
                Ok(self.text_op(path, op)?.map(|_| ()))
            }
            (_, new) => {
                let write = self.set(path, new)?;
                Ok(write.map(|_| ()))
            }
        }
    }
}
