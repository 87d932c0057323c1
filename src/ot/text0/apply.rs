//! Applying text0 ops to a string, in place.
//!
//! This module owns editing and reverting a string only; UTF-16 offsets are
//! `utf16`'s, and finding the string in a document is the caller's (json0's
//! `apply`).

use super::{Action, Component, EditError, Error, Op};
use crate::ot::utf16::{self, Mark, Marks, OffsetError};

/// Applies `op` to `text`.
///
/// As in ot-json0 (JavaScript's `slice`), an insert past the end of the
/// string appends. A delete must name the text it deletes. On error `text`
/// is left as it was: the components already applied are undone.
pub fn apply(text: &mut String, op: &Op) -> Result<(), Error> {
    apply_marked(text, op, None)
}

/// [`apply`], finding offsets from `marks` (the string's known
/// boundaries) and keeping them up to date. On error they are forgotten.
pub(crate) fn apply_marked(
    text: &mut String,
    op: &Op,
    mut marks: Option<&mut Marks>,
) -> Result<(), Error> {
    for (i, c) in op.0.iter().enumerate() {
        let result = match &c.action {
            Action::Insert(t) => insert_at(text, c.p, t, marks.as_deref_mut()),
            Action::Delete(t) => delete_at(text, c.p, t, marks.as_deref_mut()),
        };
        if let Err(reason) = result {
            if let Some(marks) = marks {
                *marks = Marks::default();
            }
            revert(text, &op.0[..i]);
            return Err(Error::Apply {
                component: i,
                reason,
            });
        }
    }
    Ok(())
}

/// Undoes `applied`, the components last applied to `text`, last first.
///
/// Each undo is the exact inverse of a checked edit, so it cannot fail on the
/// string those edits produced.
pub(crate) fn revert(text: &mut String, applied: &[Component]) {
    for c in applied.iter().rev() {
        let undone = match &c.action {
            Action::Insert(t) => delete_at(text, inserted_at(text, c.p, t), t, None),
            Action::Delete(t) => insert_at(text, c.p, t, None),
        };
        debug_assert!(undone.is_ok(), "undoing a text edit failed: {undone:?}");
    }
}

/// Inserts `insert` at UTF-16 offset `offset`, or at the end if the
/// string is shorter (ot-json0's `slice` semantics). `marks`, if given,
/// are the string's known boundaries: the offset is found from them, and
/// they follow the edit.
pub(crate) fn insert_at(
    text: &mut String,
    offset: usize,
    insert: &str,
    marks: Option<&mut Marks>,
) -> Result<(), EditError> {
    let at = utf16::insertion_point(text, offset, marks.as_deref())
        .ok_or(EditError::SplitsSurrogate { offset })?;
    text.insert_str(at.byte, insert);
    if let Some(marks) = marks {
        marks.inserted(at, Mark::end_of(insert));
    }
    Ok(())
}

/// Where an insert of `inserted` made at `offset` landed, given the text
/// after it: at `offset`, or at the end if it was past it.
pub(crate) fn inserted_at(text: &str, offset: usize, inserted: &str) -> usize {
    offset.min(utf16::len(text).saturating_sub(utf16::len(inserted)))
}

/// Deletes `delete` at UTF-16 offset `offset`, checking that it is the
/// text there. `marks` as for [`insert_at`].
pub(crate) fn delete_at(
    text: &mut String,
    offset: usize,
    delete: &str,
    marks: Option<&mut Marks>,
) -> Result<(), EditError> {
    let at = utf16::byte_offset_near(text, offset, marks.as_deref()).map_err(|e| match e {
        OffsetError::PastEnd { len } => EditError::PastEnd { offset, len },
        OffsetError::SplitsSurrogate => EditError::SplitsSurrogate { offset },
    })?;
    let rest = &text[at..];
    if !rest.starts_with(delete) {
        return Err(EditError::DeleteMismatch {
            offset,
            expected: delete.to_owned(),
            found: prefix_units(rest, utf16::len(delete)).to_owned(),
        });
    }
    text.replace_range(at..at + delete.len(), "");
    if let Some(marks) = marks {
        let at = Mark {
            units: offset,
            byte: at,
        };
        marks.deleted(at, Mark::end_of(delete));
    }
    Ok(())
}

/// The longest prefix of `s` that is at most `units` UTF-16 code units.
fn prefix_units(s: &str, units: usize) -> &str {
    let mut seen = 0;
    for (at, ch) in s.char_indices() {
        seen += ch.len_utf16();
        if seen > units {
            return &s[..at];
        }
    }
    s
}
