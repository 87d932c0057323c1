//! Transforming text0 ops and cursors past concurrent ops.
//!
//! This module owns text0's component transform and moving offsets past edits;
//! the whole-op loop is `op_transform`'s, and it never sees the string.

use super::{Action, Component, Edit, Error, Op, append};
use crate::ot::{Side, op_transform, utf16};

/// Transforms `op` so that it applies after `other`, both made against the
/// same string. `side` breaks the tie between inserts at the same offset.
pub fn transform(op: &Op, other: &Op, side: Side) -> Result<Op, Error> {
    op_transform::transform(&op.0, &other.0, side).map(Op)
}

/// Moves a caret at UTF-16 offset `position` past `op`.
///
/// An insert exactly at the caret pushes it forward with [`Side::Right`] and
/// leaves it before the new text with [`Side::Left`]; a delete around the
/// caret pulls it to the delete's start.
pub fn transform_cursor(position: usize, op: &Op, side: Side) -> usize {
    op.0.iter().fold(position, |pos, c| {
        transform_position(pos, c, side == Side::Right)
    })
}

/// Moves offset `pos` past component `c`. With `insert_after`, an insert at
/// `pos` itself pushes it forward.
pub(crate) fn transform_position(pos: usize, c: &Component, insert_after: bool) -> usize {
    position_past(pos, c.p, c.edit(), insert_after)
}

/// Moves offset `pos` past `edit` made at offset `at`; see
/// [`transform_position`].
pub(crate) fn position_past(pos: usize, at: usize, edit: Edit<'_>, insert_after: bool) -> usize {
    match edit {
        Edit::Insert(text) if at < pos || (at == pos && insert_after) => pos + utf16::len(text),
        Edit::Insert(_) => pos,
        Edit::Delete(_) if pos <= at => pos,
        Edit::Delete(text) => {
            let len = utf16::len(text);
            if pos <= at + len { at } else { pos - len }
        }
    }
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
}

/// Transforms component `c` past `other` and appends the result to `dest`.
fn transform_component(
    dest: &mut Vec<Component>,
    c: Component,
    other: &Component,
    side: Side,
) -> Result<(), Error> {
    let Component { p, action } = c;
    let deleted = match action {
        Action::Insert(text) => {
            let p = transform_position(p, other, side == Side::Right);
            return append(dest, Component::insert(p, text));
        }
        Action::Delete(deleted) => deleted,
    };
    let len = utf16::len(&deleted);
    match &other.action {
        // An insert inside the deleted text splits the delete around it.
        Action::Insert(inserted) => {
            let mut rest = deleted.as_str();
            if p < other.p {
                let cut = other.p - p;
                append(dest, Component::delete(p, slice(&deleted, 0, cut)?))?;
                rest = slice(&deleted, cut, len)?;
            }
            append(dest, Component::delete(p + utf16::len(inserted), rest))
        }
        Action::Delete(theirs) => {
            let their_len = utf16::len(theirs);
            if p >= other.p + their_len {
                append(dest, Component::delete(p - their_len, deleted))
            } else if p + len <= other.p {
                append(dest, Component::delete(p, deleted))
            } else {
                // They overlap: keep what only we delete, on either side.
                let mut left = String::new();
                if p < other.p {
                    left.push_str(slice(&deleted, 0, other.p - p)?);
                }
                if p + len > other.p + their_len {
                    left.push_str(slice(&deleted, other.p + their_len - p, len)?);
                }
                // Both must name the same text where they overlap.
                let start = p.max(other.p);
                let end = (p + len).min(other.p + their_len);
                let ours = units(&deleted, start - p, end - start);
                let theirs_part = units(theirs, start - other.p, end - start);
                if !ours.clone().eq(theirs_part.clone()) {
                    return Err(Error::DeleteConflict {
                        ours: String::from_utf16_lossy(&ours.collect::<Vec<_>>()),
                        theirs: String::from_utf16_lossy(&theirs_part.collect::<Vec<_>>()),
                    });
                }
                let p = transform_position(p, other, false);
                append(dest, Component::delete(p, left))
            }
        }
    }
}

/// `count` UTF-16 code units of `s` from `skip`, for comparing across cuts.
fn units(s: &str, skip: usize, count: usize) -> impl Iterator<Item = u16> + Clone + '_ {
    s.encode_utf16().skip(skip).take(count)
}

fn slice(s: &str, start: usize, end: usize) -> Result<&str, Error> {
    utf16::slice(s, start, end).map_err(|offset| Error::SplitsSurrogate {
        text: s.to_owned(),
        offset,
    })
}
