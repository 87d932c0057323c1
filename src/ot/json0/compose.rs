//! Merging components: `append`, which `compose`, `normalize` and transform
//! all build on.
//!
//! This module owns json0's merge rules only; text edits merge through text0,
//! and it never sees a document, so it cannot tell whether a merged op applies.

use serde_json::Value;

use super::error::Error;
use super::js;
use super::op::{Action, Component, Op, PathSegment};
use crate::ot::text0;

/// `a` then `b` as one op, as ot-json0 composes: `a` is kept as it is and each
/// component of `b` is appended, merging with the last one where json0 can
/// (see [`normalize`]).
pub fn compose(a: &Op, b: &Op) -> Result<Op, Error> {
    let mut out = a.0.clone();
    for c in &b.0 {
        append(&mut out, c.clone())?;
    }
    Ok(Op(out))
}

/// Merges consecutive components at the same path, as ot-json0's `normalize`
/// does: `na`s add up; an `li` followed by an `ld` of the same (primitive)
/// value cancels; `od` then `oi` becomes a replace; `oi` then `od` collapses;
/// a move to the same index after a component at that path is dropped; text
/// edits on the same string compose through text0.
///
/// ot-json0 also accepts a bare component and a component without `p`; for
/// that loose form use [`normalize_value`].
///
/// Errors only for text edits that would split a surrogate pair, which no
/// applicable op does.
pub fn normalize(op: Op) -> Result<Op, Error> {
    let mut out = Vec::with_capacity(op.0.len());
    for c in op.0 {
        append(&mut out, c)?;
    }
    Ok(Op(out))
}

/// [`normalize`] for ot-json0's loose input: an op array or a single
/// component object, where components may omit `p` (meaning the root).
pub fn normalize_value(value: Value) -> Result<Op, NormalizeError> {
    let mut components = match value {
        Value::Array(components) => components,
        single @ Value::Object(_) => vec![single],
        _ => {
            return Err(NormalizeError::Invalid(
                "expected an op array or a component object".to_owned(),
            ));
        }
    };
    for c in &mut components {
        if let Value::Object(map) = c
            && !map.contains_key("p")
        {
            map.insert("p".to_owned(), Value::Array(Vec::new()));
        }
    }
    let op: Op = serde_json::from_value(Value::Array(components))
        .map_err(|e| NormalizeError::Invalid(e.to_string()))?;
    Ok(normalize(op)?)
}

/// Why [`normalize_value`] failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NormalizeError {
    /// The value is not a json0 op, even loosely.
    #[error("not a json0 op: {0}")]
    Invalid(String),
    /// The op is valid but cannot be normalized.
    #[error(transparent)]
    Op(#[from] Error),
}

/// Appends `c` to `dest`, merging it into the last component when they edit
/// the same path, exactly as ot-json0's `append`.
pub(crate) fn append(dest: &mut Vec<Component>, c: Component) -> Result<(), Error> {
    let last = match dest.last_mut() {
        Some(last) if !stay_apart(last, &c) => last,
        _ => {
            dest.push(c);
            return Ok(());
        }
    };

    // Two legacy string edits on one string merge through text0.
    if last.action.is_legacy_text() && c.action.is_legacy_text() {
        let (Some((string, l)), Some((_, ct))) = (last.legacy_text(), c.legacy_text()) else {
            let bad = if last.legacy_text().is_none() {
                &last.p
            } else {
                &c.p
            };
            return Err(Error::MissingIndex { path: bad.clone() });
        };
        let string = string.to_vec();
        let mut merged = vec![l];
        text0::append(&mut merged, ct)?;
        let mut merged = merged.into_iter();
        if let Some(first) = merged.next() {
            *last = Component::from_legacy_text(&string, first);
        }
        dest.extend(merged.map(|t| Component::from_legacy_text(&string, t)));
        return Ok(());
    }

    let Component { p, action } = c;
    let last_action = std::mem::replace(&mut last.action, Action::NumberAdd(0.0));
    let merged = match (last_action, action) {
        (Action::Text0(a), Action::Text0(b)) => Merge::Into(Action::Text0(text0::compose(&a, &b)?)),
        (Action::NumberAdd(a), Action::NumberAdd(b)) => Merge::Into(Action::NumberAdd(a + b)),
        // An insert then a delete of the same value cancel out.
        (Action::ListInsert(li), Action::ListDelete(ld)) if js::strict_eq_values(&ld, &li) => {
            Merge::Cancel
        }
        (Action::ListReplace { ld: before, li }, Action::ListDelete(ld))
            if js::strict_eq_values(&ld, &li) =>
        {
            Merge::Into(Action::ListDelete(before))
        }
        (Action::ObjectDelete(od), Action::ObjectInsert(oi)) => {
            Merge::Into(Action::ObjectReplace { od, oi })
        }
        // Something was set and is now deleted or replaced.
        (last @ (Action::ObjectInsert(_) | Action::ObjectReplace { .. }), next)
            if next.has_od() =>
        {
            match (last, next) {
                (Action::ObjectInsert(_), Action::ObjectReplace { oi, .. }) => {
                    Merge::Into(Action::ObjectInsert(oi))
                }
                (Action::ObjectReplace { od, .. }, Action::ObjectReplace { oi, .. }) => {
                    Merge::Into(Action::ObjectReplace { od, oi })
                }
                (Action::ObjectReplace { od, .. }, _) => Merge::Into(Action::ObjectDelete(od)),
                _ => Merge::Cancel,
            }
        }
        // A move to where the element already is does nothing.
        (last, Action::ListMove(to)) if p.last() == Some(&PathSegment::Index(to)) => {
            Merge::Into(last)
        }
        (last, action) => Merge::Push(last, Component { p, action }),
    };
    match merged {
        Merge::Into(action) => last.action = action,
        Merge::Cancel => {
            dest.pop();
        }
        Merge::Push(action, c) => {
            last.action = action;
            dest.push(c);
        }
    }
    Ok(())
}

/// True when `append` pushes `next` after `last` as it is: legacy string
/// edits on different strings (their paths end in offsets, so compare what
/// comes before), or any other pair at different paths.
pub(crate) fn stay_apart(last: &Component, next: &Component) -> bool {
    if last.action.is_legacy_text() && next.action.is_legacy_text() {
        last.p.split_last().map(|(_, s)| s) != next.p.split_last().map(|(_, s)| s)
    } else {
        last.p != next.p
    }
}

/// What `append` does with the last component and the new one.
enum Merge {
    /// The last component becomes this action; the new one is absorbed.
    Into(Action),
    /// Both disappear.
    Cancel,
    /// The last keeps its action; the new component follows it.
    Push(Action, Component),
}
