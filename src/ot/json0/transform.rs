//! Transforming json0 ops past concurrent ops.
//!
//! This follows ot-json0 1.1.0's `transformComponent` branch for branch, so
//! that results (tie-breaks and quirks included) are the same op for op. The
//! comments name the cases; the JavaScript comparisons it relies on (`===`
//! and `==` between path segments, `<` with `undefined`) live in `js`.
//!
//! This module owns json0's component transform; the whole-op loop is
//! `op_transform`'s, merging is `compose`'s and string edits transform through
//! text0. It never sees the document, and which ops to transform past is the
//! caller's.

use std::cmp::Ordering;

use serde_json::Value;

use super::apply::apply;
use super::compose::{append, stay_apart};
use super::error::Error;
use super::js;
use super::op::{Action, Component, Op, Path, PathSegment};
use crate::ot::{Side, op_transform, text0};

/// Transforms `op` so that it applies after `other`, both made against the
/// same document. `side` breaks ties: the `Left` op's insert goes first and
/// its `oi` wins over a concurrent `oi`; see [`Side`].
///
/// Components beneath something `other` deletes or replaces are dropped;
/// deletes of something `other` edits get their `ld`/`od` updated so they
/// still invert. Like ot-json0, a legacy `si`/`sd` is *not* transformed
/// against a text0 subtype component on the same string (nor the other way
/// round): mix the two forms on one string and the ops may not converge.
///
/// Errors when the ops cannot have been made against the same document: two
/// deletes naming different text, or a delete whose value does not take a
/// concurrent edit beneath it.
pub fn transform(op: &Op, other: &Op, side: Side) -> Result<Op, Error> {
    op_transform::transform(&op.0, &other.0, side).map(Op)
}

impl op_transform::Component for Component {
    type Error = Error;

    fn transform_component(
        dest: &mut Vec<Self>,
        c: Self,
        other: &Self,
        side: Side,
    ) -> Result<(), Error> {
        transform_component(dest, c, other, side)
    }

    fn append(dest: &mut Vec<Self>, c: Self) -> Result<(), Error> {
        append(dest, c)
    }

    /// Neither path reaches into what the other edits: `transform_component`
    /// then appends `c` as it is, in both directions.
    fn independent(a: &Self, b: &Self) -> bool {
        common_length(a, b).is_none() && common_length(b, a).is_none()
    }

    fn stay_apart(last: &Self, next: &Self) -> bool {
        stay_apart(last, next)
    }

    fn transform_one(c: &Self, other: &Self, side: Side) -> Result<Vec<Self>, Error> {
        // The commonest pair under load, an insert past another edit of its
        // string, built where it ends up. Components are large (192 bytes):
        // copying one, then moving it through `transform_component` and
        // `append`, would be three `memcpy`s of it.
        if let Action::StringInsert(text) = &c.action
            && other.action.is_legacy_text()
            && common_length(other, c).is_some()
            && let Some(moved) = moved_insert(c, other, side)
        {
            let mut p = c.p.clone();
            set_offset(&mut p, moved);
            return Ok(vec![Component {
                p,
                action: Action::StringInsert(text.clone()),
            }]);
        }
        op_transform::transform_copy(c, other, side)
    }
}

/// Transforms `c` past `other`, appending the result (if any) to `dest`.
fn transform_component(
    dest: &mut Vec<Component>,
    mut c: Component,
    other: &Component,
    side: Side,
) -> Result<(), Error> {
    // Two legacy string edits never carry into a deleted value: the
    // commonest case under load, with a path of its own.
    if c.action.is_legacy_text() && other.action.is_legacy_text() {
        return match common_length(other, &c) {
            Some(_) => past_legacy_text(dest, c, other, side),
            None => append(dest, c),
        };
    }
    let c_depth = c.depth();
    let other_depth = other.depth();

    // We delete something the other op edits: take its edit into our deleted
    // value, so that inverting us puts back what is really there.
    if other_depth > c_depth
        && (c.action.has_ld() || c.action.has_od())
        && let Some(k) = common_length(&c, other)
        && js::loose_eq(seg(&c.p, k), seg(&other.p, k))
    {
        carry_into_deleted(&mut c, other, c_depth)?;
    }

    // `common` is the depth at which `other` edits: the index or key it
    // changes is `other.p[common]`, and `c` goes through the same container.
    let Some(common) = common_length(other, &c) else {
        return append(dest, c);
    };
    let same_operand = c_depth == other_depth;
    let keep = match &other.action {
        Action::Text0(theirs) => {
            if let Action::Text0(ours) = &c.action {
                let ours = text0::transform(ours, theirs, side)?;
                if !ours.is_noop() {
                    append(
                        dest,
                        Component {
                            p: c.p,
                            action: Action::Text0(ours),
                        },
                    )?;
                }
                return Ok(());
            }
            // ot-json0 leaves a legacy `si`/`sd` as it is here.
            true
        }
        // Numbers move nothing; a legacy string edit only moves other legacy ones.
        Action::NumberAdd(_) | Action::StringInsert(_) | Action::StringDelete(_) => true,
        Action::ListReplace { li, .. } => {
            past_list_replace(&mut c, other, li, common, same_operand, side)
        }
        Action::ListInsert(_) => past_list_insert(&mut c, other, common, same_operand, side)?,
        Action::ListDelete(_) => past_list_delete(&mut c, other, common, c_depth, other_depth)?,
        Action::ListMove(to) => past_list_move(&mut c, other, *to, common, same_operand, side)?,
        Action::ObjectReplace { oi, .. } => {
            past_object_replace(&mut c, other, oi, common, same_operand, side)
        }
        Action::ObjectInsert(oi) => past_object_insert(dest, &c, other, oi, common, side)?,
        Action::ObjectDelete(_) => past_object_delete(&mut c, other, common, same_operand),
    };
    if keep { append(dest, c) } else { Ok(()) }
}

/// Applies `other`'s edit (below `depth`) to the value `c` deletes, if any.
fn carry_into_deleted(c: &mut Component, other: &Component, depth: usize) -> Result<(), Error> {
    let Component { p, action } = c;
    let deleted = match action {
        Action::ListDelete(v)
        | Action::ListReplace { ld: v, .. }
        | Action::ObjectDelete(v)
        | Action::ObjectReplace { od: v, .. } => v,
        _ => return Ok(()),
    };
    let below = other.p.get(depth..).unwrap_or_default().to_vec();
    let edit = Op(vec![Component {
        p: below,
        action: other.action.clone(),
    }]);
    apply(deleted, &edit).map_err(|e| Error::DeletedValue {
        path: p.clone(),
        source: Box::new(e),
    })
}

/// Where `c`, a legacy insert, goes past `other`, a legacy edit of the same
/// string: it stays one insert, at a moved offset. This is what text0 gives,
/// without building text0 components: the hot path under load.
fn moved_insert(c: &Component, other: &Component, side: Side) -> Option<usize> {
    let (_, offset, text0::Edit::Insert(text)) = c.legacy_edit()? else {
        return None;
    };
    if text.is_empty() {
        return None;
    }
    let (_, at, theirs) = other.legacy_edit()?;
    Some(text0::position_past(
        offset,
        at,
        theirs,
        side == Side::Right,
    ))
}

/// Moves a legacy `si`/`sd` path (its last segment is the offset) to `offset`.
fn set_offset(p: &mut Path, offset: usize) {
    if let Some(last) = p.last_mut() {
        *last = PathSegment::Index(offset);
    }
}

/// Two legacy string edits transform as text0 components.
fn past_legacy_text(
    dest: &mut Vec<Component>,
    mut c: Component,
    other: &Component,
    side: Side,
) -> Result<(), Error> {
    if let Some(moved) = moved_insert(&c, other, side) {
        set_offset(&mut c.p, moved);
        return append(dest, c);
    }
    let (Some((string, offset, edit)), Some((_, at, theirs))) =
        (c.legacy_edit(), other.legacy_edit())
    else {
        let bad = if c.legacy_edit().is_none() { &c } else { other };
        return Err(Error::MissingIndex {
            path: bad.p.clone(),
        });
    };
    let mut moved = Vec::with_capacity(1);
    <text0::Component as op_transform::Component>::transform_component(
        &mut moved,
        text0::Component::from_edit(offset, edit),
        &text0::Component::from_edit(at, theirs),
        side,
    )?;
    for t in moved {
        append(dest, Component::from_legacy_text(string, t))?;
    }
    Ok(())
}

/// Past an `li`+`ld` at `other.p[common]`. Returns whether `c` survives.
fn past_list_replace(
    c: &mut Component,
    other: &Component,
    their_li: &Value,
    common: isize,
    same_operand: bool,
    side: Side,
) -> bool {
    if !js::strict_eq(seg(&other.p, common), seg(&c.p, common)) {
        return true;
    }
    if !same_operand {
        // We edit inside the element they replaced.
        return false;
    }
    match (&mut c.action, side) {
        // Both replace the element: left wins, deleting what right put there.
        (Action::ListReplace { ld, .. }, Side::Left) => {
            *ld = their_li.clone();
            true
        }
        (action, _) => !action.has_ld(),
    }
}

/// Past an `li` at `other.p[common]`.
fn past_list_insert(
    c: &mut Component,
    other: &Component,
    common: isize,
    same_operand: bool,
    side: Side,
) -> Result<bool, Error> {
    let at = index_at(other, common)?;
    let ours = seg(&c.p, common);
    if matches!(c.action, Action::ListInsert(_))
        && same_operand
        && ours == Some(&PathSegment::Index(at))
    {
        // Two inserts at one index: left's goes first.
        if side == Side::Right {
            shift(c, common, 1)?;
        }
    } else if le(at, ours) {
        shift(c, common, 1)?;
    }
    if same_operand
        && let Action::ListMove(to) = &mut c.action
        && at <= *to
    {
        *to += 1;
    }
    Ok(true)
}

/// Past an `ld` at `other.p[common]`.
fn past_list_delete(
    c: &mut Component,
    other: &Component,
    common: isize,
    c_depth: usize,
    other_depth: usize,
) -> Result<bool, Error> {
    let at = index_at(other, common)?;
    let same_operand = c_depth == other_depth;
    if same_operand && let Action::ListMove(to) = c.action {
        let from = seg(&c.p, common);
        if from == Some(&PathSegment::Index(at)) {
            // They deleted the element we move.
            return Ok(false);
        }
        if at < to || (at == to && gt(to, from)) {
            c.action = Action::ListMove(decrement(c, common, to)?);
        }
    }
    let ours = seg(&c.p, common);
    if lt(at, ours) {
        shift(c, common, -1)?;
    } else if ours == Some(&PathSegment::Index(at)) {
        if other_depth < c_depth {
            // We edit inside the deleted element.
            return Ok(false);
        }
        match &mut c.action {
            // They deleted what we replace: we insert.
            Action::ListReplace { li, .. } => c.action = Action::ListInsert(std::mem::take(li)),
            // Both delete it.
            Action::ListDelete(_) => return Ok(false),
            _ => {}
        }
    }
    Ok(true)
}

/// Past an `lm` from `other.p[common]` to `their_to`.
fn past_list_move(
    c: &mut Component,
    other: &Component,
    their_to: usize,
    common: isize,
    same_operand: bool,
    side: Side,
) -> Result<bool, Error> {
    let their_from = index_at(other, common)?;
    if same_operand && let Action::ListMove(to) = c.action {
        return move_past_move(c, common, to, their_from, their_to, side);
    }
    let ours = seg(&c.p, common);
    let above_from = lt(their_from, ours);
    let above_to = lt(their_to, ours);
    let at_from = ours == Some(&PathSegment::Index(their_from));
    let at_to = ours == Some(&PathSegment::Index(their_to));
    if matches!(c.action, Action::ListInsert(_)) && same_operand {
        // An insert into the list only shifts around the move.
        if above_from {
            shift(c, common, -1)?;
        }
        if above_to {
            shift(c, common, 1)?;
        }
    } else if at_from {
        // Anything else on the moved element follows it.
        set(c, common, their_to)?;
    } else {
        if above_from {
            shift(c, common, -1)?;
        }
        if above_to || (at_to && their_from > their_to) {
            shift(c, common, 1)?;
        }
    }
    Ok(true)
}

/// `lm` past `lm` in the same list, with ot-json0's tie-breaks.
fn move_past_move(
    c: &mut Component,
    common: isize,
    to: usize,
    their_from: usize,
    their_to: usize,
    side: Side,
) -> Result<bool, Error> {
    if their_from == their_to {
        return Ok(true);
    }
    let from = index_at(c, common)?;
    let (mut new_from, mut new_to) = (from as isize, to as isize);
    if from == their_from {
        // Both move the same element: left's destination wins.
        if side == Side::Right {
            return Ok(false);
        }
        new_from = their_to as isize;
        if from == to {
            new_to = their_to as isize;
        }
    } else {
        // Where is our element now?
        if from > their_from {
            new_from -= 1;
        }
        if from > their_to {
            new_from += 1;
        } else if from == their_to && their_from > their_to {
            new_from += 1;
            if from == to {
                new_to += 1;
            }
        }
        // And where does it go?
        if to > their_from || (to == their_from && to > from) {
            new_to -= 1;
        }
        if to > their_to {
            new_to += 1;
        } else if to == their_to {
            let same_direction =
                (their_to > their_from && to > from) || (their_to < their_from && to < from);
            if same_direction {
                if side == Side::Right {
                    new_to += 1;
                }
            } else if to > from {
                new_to += 1;
            } else if to == their_from {
                new_to -= 1;
            }
        }
    }
    let (Ok(new_from), Ok(new_to)) = (usize::try_from(new_from), usize::try_from(new_to)) else {
        return Err(Error::NotAnIndex {
            path: c.p.clone(),
            depth: common.max(0) as usize,
        });
    };
    set(c, common, new_from)?;
    c.action = Action::ListMove(new_to);
    Ok(true)
}

/// Past an `oi`+`od` at `other.p[common]`.
fn past_object_replace(
    c: &mut Component,
    other: &Component,
    their_oi: &Value,
    common: isize,
    same_operand: bool,
    side: Side,
) -> bool {
    if seg(&c.p, common) != seg(&other.p, common) {
        return true;
    }
    if !(c.action.has_oi() && same_operand) {
        // We edit (or delete) what they replaced, or something inside it.
        return false;
    }
    if side == Side::Right {
        return false;
    }
    // Left wins: our value replaces the one they put there.
    if let Action::ObjectInsert(oi) | Action::ObjectReplace { oi, .. } = &mut c.action {
        let oi = std::mem::take(oi);
        c.action = Action::ObjectReplace {
            od: their_oi.clone(),
            oi,
        };
    }
    true
}

/// Past an `oi` at `other.p[common]`. ot-json0 compares only the segment at
/// `common`, so this also catches an `oi` of ours deeper inside theirs.
fn past_object_insert(
    dest: &mut Vec<Component>,
    c: &Component,
    other: &Component,
    their_oi: &Value,
    common: isize,
    side: Side,
) -> Result<bool, Error> {
    if !(c.action.has_oi() && seg(&c.p, common) == seg(&other.p, common)) {
        return Ok(true);
    }
    match side {
        // Left wins: delete what they inserted, then insert ours.
        Side::Left => {
            append(
                dest,
                Component {
                    p: c.p.clone(),
                    action: Action::ObjectDelete(their_oi.clone()),
                },
            )?;
            Ok(true)
        }
        Side::Right => Ok(false),
    }
}

/// Past an `od` at `other.p[common]`.
fn past_object_delete(
    c: &mut Component,
    other: &Component,
    common: isize,
    same_operand: bool,
) -> bool {
    if !js::loose_eq(seg(&c.p, common), seg(&other.p, common)) {
        return true;
    }
    if !same_operand {
        // We edit inside what they deleted.
        return false;
    }
    match &mut c.action {
        // Our replace of a deleted key becomes an insert.
        Action::ObjectReplace { oi, .. } => {
            c.action = Action::ObjectInsert(std::mem::take(oi));
            true
        }
        Action::ObjectInsert(_) => true,
        _ => false,
    }
}

/// How many leading path segments `a` and `b` share as containers, counted
/// the way ot-json0's `commonLengthForOps` does: `Some(-1)` if `a` edits the
/// root, `None` if `b` does or the paths diverge, else the depth of `a`'s
/// edited index or key.
fn common_length(a: &Component, b: &Component) -> Option<isize> {
    let (a_len, b_len) = (a.depth(), b.depth());
    if a_len == 0 {
        return Some(-1);
    }
    if b_len == 0 {
        return None;
    }
    // `a`'s containers: all of its path but the index or key it edits.
    let n = a_len - 1;
    if n > b_len - 1 || a.p.get(..n)? != b.p.get(..n)? {
        return None;
    }
    isize::try_from(n).ok()
}

/// `p[i]`, or `undefined` (None) for a negative or missing index.
fn seg(p: &[PathSegment], i: isize) -> Option<&PathSegment> {
    usize::try_from(i).ok().and_then(|i| p.get(i))
}

/// `p[common]` as a list index, for a component whose path ends there.
fn index_at(c: &Component, common: isize) -> Result<usize, Error> {
    match seg(&c.p, common) {
        Some(PathSegment::Index(i)) => Ok(*i),
        _ => Err(Error::MissingIndex { path: c.p.clone() }),
    }
}

/// `n < seg` in JavaScript.
fn lt(n: usize, seg: Option<&PathSegment>) -> bool {
    js::compare(n, seg) == Some(Ordering::Less)
}

/// `n <= seg` in JavaScript.
fn le(n: usize, seg: Option<&PathSegment>) -> bool {
    matches!(js::compare(n, seg), Some(Ordering::Less | Ordering::Equal))
}

/// `n > seg` in JavaScript.
fn gt(n: usize, seg: Option<&PathSegment>) -> bool {
    js::compare(n, seg) == Some(Ordering::Greater)
}

/// `c.p[at] += delta`. Like JavaScript, a numeric key (`"3"`) becomes a number.
fn shift(c: &mut Component, at: isize, delta: isize) -> Result<(), Error> {
    let shifted = seg(&c.p, at).map(|s| js::segment_number(s) + delta as f64);
    match shifted {
        Some(n) if n.fract() == 0.0 && n >= 0.0 && n <= usize::MAX as f64 => set(c, at, n as usize),
        _ => Err(Error::NotAnIndex {
            path: c.p.clone(),
            depth: at.max(0) as usize,
        }),
    }
}

/// `c.p[at] = index`.
fn set(c: &mut Component, at: isize, index: usize) -> Result<(), Error> {
    match usize::try_from(at).ok().and_then(|i| c.p.get_mut(i)) {
        Some(slot) => {
            *slot = PathSegment::Index(index);
            Ok(())
        }
        None => Err(Error::NotAnIndex {
            path: c.p.clone(),
            depth: at.max(0) as usize,
        }),
    }
}

/// `to - 1` for an `lm` target, which cannot go below zero.
fn decrement(c: &Component, common: isize, to: usize) -> Result<usize, Error> {
    to.checked_sub(1).ok_or_else(|| Error::NotAnIndex {
        path: c.p.clone(),
        depth: common.max(0) as usize,
    })
}
