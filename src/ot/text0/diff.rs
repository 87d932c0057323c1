//! The smallest text0 op between two strings, as a text field's edit.
//!
//! This module owns computing the op only: it applies nothing and reads no
//! field; the caller (the `leptos` text binding) gives it the two strings and
//! the caret.

use super::{Component, Op};

/// The text0 op that turns `old` into `new`: one delete and one insert at
/// most, where the two differ between their common start and end. Offsets
/// are UTF-16 code units, and a surrogate pair is never split.
///
/// `caret` is where the caret is in `new` after the edit (a text field's
/// `selectionEnd`), if known. It places the edit where the user made it
/// when the text alone cannot tell: typing `a` into `aa` at the start is an
/// insert at 0, not at 2.
///
/// ```
/// use peloton::ot::text0;
///
/// let op = text0::diff("a cat", "a black cat", None);
/// assert_eq!(serde_json::to_string(&op)?, r#"[{"p":2,"i":"black "}]"#);
/// // Typed at the start of "aa": the caret says where.
/// let op = text0::diff("aa", "aaa", Some(1));
/// assert_eq!(serde_json::to_string(&op)?, r#"[{"p":0,"i":"a"}]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn diff(old: &str, new: &str, caret: Option<usize>) -> Op {
    let a: Vec<u16> = old.encode_utf16().collect();
    let b: Vec<u16> = new.encode_utf16().collect();
    let mut start = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if let Some(caret) = caret {
        // What was typed ends at the caret, so the common start cannot
        // reach past where it began.
        let typed = b.len().saturating_sub(a.len());
        start = start.min(caret.saturating_sub(typed));
    }
    if start > 0 && is_high_surrogate(b[start - 1]) {
        start -= 1;
    }
    let mut max_end = a.len().min(b.len()) - start;
    if let Some(caret) = caret {
        // ...and the common end cannot reach before the caret.
        max_end = max_end.min(b.len().saturating_sub(caret));
    }
    let mut end = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_end)
        .take_while(|(x, y)| x == y)
        .count();
    if end > 0 && is_low_surrogate(b[b.len() - end]) {
        end -= 1;
    }
    let removed = String::from_utf16_lossy(&a[start..a.len() - end]);
    let inserted = String::from_utf16_lossy(&b[start..b.len() - end]);
    let mut components = Vec::new();
    if !removed.is_empty() {
        components.push(Component::delete(start, removed));
    }
    if !inserted.is_empty() {
        components.push(Component::insert(start, inserted));
    }
    Op(components)
}

fn is_high_surrogate(unit: u16) -> bool {
    (0xD800..0xDC00).contains(&unit)
}

fn is_low_surrogate(unit: u16) -> bool {
    (0xDC00..0xE000).contains(&unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ot::text0::apply;

    fn check(old: &str, new: &str, caret: Option<usize>) -> Op {
        let op = diff(old, new, caret);
        let mut s = old.to_owned();
        apply(&mut s, &op).unwrap();
        assert_eq!(s, new, "{old:?} -> {new:?}");
        op
    }

    #[test]
    fn diffs_turn_old_into_new() {
        for (old, new) in [
            ("", "a"),
            ("abc", "abXc"),
            ("hello", "help"),
            ("a😀b", "a😁b"),
            ("😀😀", "😀"),
            ("xx", "x"),
            ("same", "same"),
            ("", ""),
        ] {
            check(old, new, None);
            for caret in 0..=new.encode_utf16().count() {
                check(old, new, Some(caret));
            }
        }
        assert!(diff("same", "same", None).is_noop());
    }

    #[test]
    fn the_caret_places_ambiguous_edits() {
        assert_eq!(
            check("aa", "aaa", Some(1)),
            Op(vec![Component::insert(0, "a")])
        );
        assert_eq!(
            check("aa", "aaa", Some(2)),
            Op(vec![Component::insert(1, "a")])
        );
        assert_eq!(
            check("aa", "aaa", Some(3)),
            Op(vec![Component::insert(2, "a")])
        );
        // Backspace in the middle of "aaa": the caret is where it deleted.
        assert_eq!(
            check("aaa", "aa", Some(1)),
            Op(vec![Component::delete(1, "a")])
        );
        // A selection replaced by what was typed.
        assert_eq!(
            check("one two", "one 2", Some(5)),
            Op(vec![Component::delete(4, "two"), Component::insert(4, "2")])
        );
    }
}
