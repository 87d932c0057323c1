//! Moving a caret (a position in a string or list) past an op, for presence.
//!
//! This module owns moving one position only; the JSON shape of a presence
//! value is `presence`'s, moves inside a string are text0's, and it never sees
//! the document.

use super::op::{Action, Component, Op, Path, PathSegment};
use crate::ot::{Side, text0};

/// A caret: a position in the string or list at `path`. In a string the
/// offset counts UTF-16 code units; in a list it is the gap before element
/// `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// Path of the string or list.
    pub path: Path,
    /// Position in it.
    pub offset: usize,
}

/// Moves `cursor` past `op`, which was applied to the document the cursor
/// points into. Returns `None` if the op deletes or replaces the string or
/// list (or anything above it).
///
/// Inserts exactly at the cursor push it forward with [`Side::Right`] and
/// leave it in front with [`Side::Left`], as text0's `transformCursor`. Moves
/// of list elements above the cursor's container carry the cursor along.
pub fn transform_cursor(cursor: &Cursor, op: &Op, side: Side) -> Option<Cursor> {
    let mut cursor = cursor.clone();
    for c in op {
        if !move_cursor(&mut cursor, c, side) {
            return None;
        }
    }
    Some(cursor)
}

/// Moves `cursor` past `c`; false if `c` removes its container.
fn move_cursor(cursor: &mut Cursor, c: &Component, side: Side) -> bool {
    let insert_after = side == Side::Right;
    match &c.action {
        Action::NumberAdd(_) => true,
        Action::Text0(op) => {
            if c.p == cursor.path {
                cursor.offset = text0::transform_cursor(cursor.offset, op, side);
            }
            true
        }
        Action::StringInsert(_) | Action::StringDelete(_) => {
            if let Some((string, edit)) = c.legacy_text()
                && string == cursor.path.as_slice()
            {
                cursor.offset = text0::transform_position(cursor.offset, &edit, insert_after);
            }
            true
        }
        Action::ObjectInsert(_) | Action::ObjectDelete(_) | Action::ObjectReplace { .. } => {
            !cursor.path.starts_with(&c.p)
        }
        Action::ListInsert(_)
        | Action::ListDelete(_)
        | Action::ListReplace { .. }
        | Action::ListMove(_) => {
            let Some((PathSegment::Index(index), list)) = c.p.split_last() else {
                return true;
            };
            if list == cursor.path.as_slice() {
                cursor.offset = move_in_list(cursor.offset, *index, &c.action, insert_after);
                true
            } else if cursor.path.starts_with(list) {
                // The list is above the cursor: follow our ancestor element.
                let Some(PathSegment::Index(ours)) = cursor.path.get_mut(list.len()) else {
                    return true;
                };
                match move_element(*ours, *index, &c.action) {
                    Some(moved) => {
                        *ours = moved;
                        true
                    }
                    None => false,
                }
            } else {
                true
            }
        }
    }
}

/// A gap position in a list, past a list component at `index`.
fn move_in_list(pos: usize, index: usize, action: &Action, insert_after: bool) -> usize {
    match action {
        Action::ListInsert(_) if index < pos || (index == pos && insert_after) => pos + 1,
        Action::ListDelete(_) if index < pos => pos - 1,
        Action::ListMove(to) => {
            // Take the element out, then put it back in.
            let pos = if index < pos { pos - 1 } else { pos };
            if *to < pos { pos + 1 } else { pos }
        }
        _ => pos,
    }
}

/// An element's index past a list component at `index`; `None` if deleted
/// or replaced.
pub(super) fn move_element(ours: usize, index: usize, action: &Action) -> Option<usize> {
    match action {
        Action::ListInsert(_) if index <= ours => Some(ours + 1),
        Action::ListDelete(_) | Action::ListReplace { .. } if index == ours => None,
        Action::ListDelete(_) if index < ours => Some(ours - 1),
        Action::ListMove(to) if index == ours => Some(*to),
        Action::ListMove(to) => {
            let ours = if index < ours { ours - 1 } else { ours };
            Some(if *to <= ours { ours + 1 } else { ours })
        }
        _ => Some(ours),
    }
}
