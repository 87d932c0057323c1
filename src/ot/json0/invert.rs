//! Inverting json0 ops.
//!
//! This module owns inverting only; it never sees the document, so it cannot
//! check the `ld`/`od` values, and keeping an undo history valid is `undo`'s.

use super::error::Error;
use super::op::{Action, Component, Op, PathSegment};
use crate::ot::text0;

/// The op that undoes `op`: its components inverted, in reverse order.
///
/// `li`↔`ld`, `oi`↔`od`, `si`↔`sd` swap, replaces swap their two values,
/// `na` is negated, `lm` moves back, and text0 ops invert through text0. The
/// result restores the document only if the op's `ld`/`od` values were the
/// values it deleted (apply does not check them, as in ot-json0).
///
/// Errors only for an `lm` whose path does not end in a list index.
pub fn invert(op: &Op) -> Result<Op, Error> {
    op.0.iter()
        .rev()
        .map(invert_component)
        .collect::<Result<Vec<_>, _>>()
        .map(Op)
}

fn invert_component(c: &Component) -> Result<Component, Error> {
    let mut p = c.p.clone();
    let action = match &c.action {
        Action::NumberAdd(n) => Action::NumberAdd(-n),
        Action::ListInsert(v) => Action::ListDelete(v.clone()),
        Action::ListDelete(v) => Action::ListInsert(v.clone()),
        Action::ListReplace { ld, li } => Action::ListReplace {
            ld: li.clone(),
            li: ld.clone(),
        },
        Action::ListMove(to) => {
            let Some(PathSegment::Index(from)) = p.pop() else {
                return Err(Error::MissingIndex { path: c.p.clone() });
            };
            p.push(PathSegment::Index(*to));
            Action::ListMove(from)
        }
        Action::ObjectInsert(v) => Action::ObjectDelete(v.clone()),
        Action::ObjectDelete(v) => Action::ObjectInsert(v.clone()),
        Action::ObjectReplace { od, oi } => Action::ObjectReplace {
            od: oi.clone(),
            oi: od.clone(),
        },
        Action::StringInsert(t) => Action::StringDelete(t.clone()),
        Action::StringDelete(t) => Action::StringInsert(t.clone()),
        Action::Text0(op) => Action::Text0(text0::invert(op)),
    };
    Ok(Component { p, action })
}
