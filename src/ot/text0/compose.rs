//! Merging text0 components: `append`, and `compose`, `normalize`, `invert`.
//!
//! This module owns text0's merge rule and what is built on it; it never sees
//! the string, so it cannot tell whether a composed op applies.

use super::{Action, Component, Error, Op};
use crate::ot::utf16;

/// Appends `c` to `dest`, merging it into the last component when both are
/// inserts (or both deletes) that touch. Empty edits are dropped.
pub(crate) fn append(dest: &mut Vec<Component>, c: Component) -> Result<(), Error> {
    if c.text().is_empty() {
        return Ok(());
    }
    let Some(last) = dest.last_mut() else {
        dest.push(c);
        return Ok(());
    };
    match (&mut last.action, &c.action) {
        // The new insert lands inside (or at either end of) the last one.
        (Action::Insert(before), Action::Insert(text))
            if last.p <= c.p && c.p <= last.p + utf16::len(before) =>
        {
            inject(before, c.p - last.p, text)?;
        }
        // The last delete started inside (or at either end of) the new one.
        (Action::Delete(before), Action::Delete(text))
            if c.p <= last.p && last.p <= c.p + utf16::len(text) =>
        {
            let mut merged = text.clone();
            inject(&mut merged, last.p - c.p, before)?;
            *last = Component {
                p: c.p,
                action: Action::Delete(merged),
            };
        }
        _ => dest.push(c),
    }
    Ok(())
}

fn inject(into: &mut String, at: usize, text: &str) -> Result<(), Error> {
    utf16::inject(into, at, text).map_err(|offset| Error::SplitsSurrogate {
        text: into.clone(),
        offset,
    })
}

/// `a` then `b` as one op. `a`'s components are kept as they are; each of
/// `b`'s is appended, merging where it touches the last one.
pub fn compose(a: &Op, b: &Op) -> Result<Op, Error> {
    let mut out = a.0.clone();
    for c in &b.0 {
        append(&mut out, c.clone())?;
    }
    Ok(Op(out))
}

/// The same op with touching edits merged and empty ones dropped.
pub fn normalize(op: Op) -> Result<Op, Error> {
    let mut out = Vec::with_capacity(op.0.len());
    for c in op.0 {
        append(&mut out, c)?;
    }
    Ok(Op(out))
}

/// The op that undoes `op`: its components inverted, in reverse order.
pub fn invert(op: &Op) -> Op {
    Op(op.0.iter().rev().map(Component::invert).collect())
}
