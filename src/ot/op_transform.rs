//! Whole-op transform built from a component transform.
//!
//! json0 and text0 ops are lists of components, and both types define how
//! one component moves past another. This module lifts that to whole ops the
//! way ot-json0's `bootstrapTransform.js` does, including the order in which
//! it splits and merges components, so results match it op for op.
//!
//! This module owns the whole-op loop only; how one component moves past
//! another, and how two merge, is each type's (through the `Component` trait),
//! so nothing here knows a component's shape.

use std::borrow::Cow;

use super::Side;

/// A component type with the two primitives `transform_x` needs.
pub(crate) trait Component: Clone {
    /// The error both primitives return.
    type Error;

    /// Transforms `c` past `other` and appends the result (zero, one or more
    /// components) to `dest`. `c` is taken by value: what survives of it
    /// moves into `dest` without a copy.
    fn transform_component(
        dest: &mut Vec<Self>,
        c: Self,
        other: &Self,
        side: Side,
    ) -> Result<(), Self::Error>;

    /// Appends `c` to `dest`, merging it into the last component if the type
    /// can.
    fn append(dest: &mut Vec<Self>, c: Self) -> Result<(), Self::Error>;

    /// True only if `transform_component` moves `a` past `b`, and `b` past
    /// `a`, by appending it unchanged. `false` is always safe: it only
    /// turns off [`transform`]'s shortcut.
    fn independent(_a: &Self, _b: &Self) -> bool {
        false
    }

    /// True only if `append` pushes `next` after `last` unchanged, without
    /// looking further. `false` is always safe.
    fn stay_apart(_last: &Self, _next: &Self) -> bool {
        false
    }

    /// `c` transformed past `other`: what `transform_component` appends to
    /// an empty `Vec`. A type may build common results without copying `c`
    /// first.
    fn transform_one(c: &Self, other: &Self, side: Side) -> Result<Vec<Self>, Self::Error> {
        transform_copy(c, other, side)
    }
}

/// [`Component::transform_one`] by copying `c` and transforming the copy.
pub(crate) fn transform_copy<C: Component>(
    c: &C,
    other: &C,
    side: Side,
) -> Result<Vec<C>, C::Error> {
    // Nearly always one component comes out: allocate it once, not grow.
    let mut dest = Vec::with_capacity(1);
    C::transform_component(&mut dest, c.clone(), other, side)?;
    Ok(dest)
}

/// Transforms `op` so that it applies after `other`.
pub(crate) fn transform<C: Component>(
    op: &[C],
    other: &[C],
    side: Side,
) -> Result<Vec<C>, C::Error> {
    // ot-json0 returns `op` untouched here, without normalizing it.
    if other.is_empty() {
        return Ok(op.to_vec());
    }
    if let ([c], [o]) = (op, other) {
        return C::transform_one(c, o, side);
    }
    // Ops that edit unrelated places: `transform_x` would rebuild both as
    // they are, so skip building (and dropping) the side nobody wants.
    if passes_unchanged(op, other) {
        return Ok(op.to_vec());
    }
    match side {
        Side::Left => Ok(transform_x(op, other)?.0),
        Side::Right => Ok(transform_x(other, op)?.1),
    }
}

/// True when `transform_x(op, other)` (or the other way round) gives back
/// both ops as they are: every pair of their components is independent, and
/// neither op has neighbours that `append` would merge (un-normalized ops
/// merge on the way through, as in ot-json0).
fn passes_unchanged<C: Component>(op: &[C], other: &[C]) -> bool {
    let apart = |ops: &[C]| ops.windows(2).all(|w| C::stay_apart(&w[0], &w[1]));
    op.iter()
        .all(|c| other.iter().all(|o| C::independent(c, o)))
        && apart(op)
        && apart(other)
}

/// Transforms `left` and `right` past each other: returns `(left', right')`
/// with `left'` applying after `right` and `right'` after `left`.
///
/// Both sides are always computed, even for a caller that wants one: where
/// ot-json0 fails transforming the side it throws away, so must we.
pub(crate) fn transform_x<C: Component>(
    left: &[C],
    right: &[C],
) -> Result<(Vec<C>, Vec<C>), C::Error> {
    let mut left: Cow<'_, [C]> = Cow::Borrowed(left);
    let mut new_right = Vec::with_capacity(right.len());

    for right_c in right {
        // Move `right_c` past each left component in turn, rebuilding left.
        let mut current = Some(right_c.clone());
        let mut new_left = Vec::with_capacity(left.len());
        let mut k = 0;
        while let Some(r) = current.take() {
            let Some(l) = left.get(k) else {
                current = Some(r);
                break;
            };
            C::transform_component(&mut new_left, l.clone(), &r, Side::Left)?;
            k += 1;
            let mut next = Vec::with_capacity(1);
            C::transform_component(&mut next, r, l, Side::Right)?;
            match next.len() {
                1 => current = next.pop(),
                // The right component vanished: the rest of left is unaffected.
                0 => {
                    for l in &left[k..] {
                        C::append(&mut new_left, l.clone())?;
                    }
                }
                // It split in several: transform the rest of left past all of them.
                _ => {
                    let (l, r) = transform_x(&left[k..], &next)?;
                    for c in l {
                        C::append(&mut new_left, c)?;
                    }
                    for c in r {
                        C::append(&mut new_right, c)?;
                    }
                }
            }
        }
        if let Some(r) = current {
            C::append(&mut new_right, r)?;
        }
        left = Cow::Owned(new_left);
    }
    Ok((left.into_owned(), new_right))
}
