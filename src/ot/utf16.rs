//! Offsets in UTF-16 code units over Rust's UTF-8 strings.
//!
//! JavaScript measures and slices strings in UTF-16 code units, so every
//! offset and length in a json0/text0 op is one. These helpers convert them
//! to byte offsets and refuse offsets that fall inside a surrogate pair,
//! which a Rust `String` cannot represent.
//!
//! This module owns the offset arithmetic only; it knows no op, and what to do
//! with an offset it refuses is the caller's (text0, json0's `presence`, the
//! model).

/// Why a UTF-16 offset has no byte offset in a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OffsetError {
    /// The offset is past the end; `len` is the string's UTF-16 length.
    PastEnd { len: usize },
    /// The offset falls between the two halves of a surrogate pair.
    SplitsSurrogate,
}

/// The length of `s` in UTF-16 code units (JavaScript's `s.length`).
pub(crate) fn len(s: &str) -> usize {
    let blocks = s.as_bytes().chunks_exact(BLOCK);
    let tail = units(blocks.remainder());
    blocks.map(block_units).sum::<usize>() + tail
}

/// Bytes per block when counting units in bulk. A block's count fits in a
/// byte (at most one unit per byte, plus one for a 4-byte char starting at
/// its end), so the count vectorizes with one horizontal sum per block.
const BLOCK: usize = 128;

/// Bytes per step inside the block that holds the target.
const STEP: usize = 16;

/// UTF-16 units of the chars whose first byte is in `bytes`: every char is
/// one unit but 4-byte ones, which are two. Counting lead bytes (and 4-byte
/// leads once more) needs no decoding.
fn units(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&b| usize::from(is_lead(b)) + usize::from(b >= 0xF0))
        .sum()
}

/// [`units`] for at most [`BLOCK`] bytes, counted in a byte so the loop
/// vectorizes.
fn block_units(block: &[u8]) -> usize {
    debug_assert!(block.len() <= BLOCK);
    let n = block.iter().fold(0u8, |n, &b| {
        n.wrapping_add(u8::from(is_lead(b)) + u8::from(b >= 0xF0))
    });
    usize::from(n)
}

/// Not a UTF-8 continuation byte (`10xxxxxx`).
fn is_lead(b: u8) -> bool {
    (b as i8) >= -64
}

/// The byte offset of UTF-16 offset `target` in `s`.
pub(crate) fn byte_offset(s: &str, target: usize) -> Result<usize, OffsetError> {
    byte_offset_from(s, Mark::START, target)
}

/// A char boundary of a string whose UTF-16 offset is known: where a scan
/// for another offset can start instead of at the beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    /// Its UTF-16 offset.
    pub(crate) units: usize,
    /// Its byte offset.
    pub(crate) byte: usize,
}

impl Mark {
    /// The start of every string.
    pub(crate) const START: Mark = Mark { units: 0, byte: 0 };

    /// The end of `s`: its length in UTF-16 units and in bytes.
    pub(crate) fn end_of(s: &str) -> Mark {
        Mark {
            units: len(s),
            byte: s.len(),
        }
    }
}

/// The byte offset of UTF-16 offset `target` in `s`, scanning from `from`,
/// a char boundary of `s` whose UTF-16 offset is right: forward if the
/// target is after it, backward if before, so the cost is the distance.
///
/// Whole blocks between the two are counted in bulk, then steps of the
/// block that reaches the target, then bytes: the scan touches each byte
/// about once, vectorized. A block or step may cut a char: its units count
/// with the part holding its first byte.
pub(crate) fn byte_offset_from(s: &str, from: Mark, target: usize) -> Result<usize, OffsetError> {
    if target < from.units {
        backward(s.as_bytes(), from, target)
    } else {
        forward(s.as_bytes(), from, target)
    }
}

fn forward(bytes: &[u8], from: Mark, target: usize) -> Result<usize, OffsetError> {
    let Mark {
        units: mut seen,
        byte: mut at,
    } = from;
    // Fast path: ASCII has as many bytes as units. (An offset from the
    // wire can be near `usize::MAX`: no sum of it.)
    if let Some(run) = bytes.get(at..).and_then(|rest| rest.get(..target - seen))
        && run.is_ascii()
    {
        return Ok(at + run.len());
    }
    for size in [BLOCK, STEP] {
        while let Some(part) = bytes.get(at..at + size) {
            let n = block_units(part);
            if seen + n >= target {
                break;
            }
            seen += n;
            at += size;
        }
    }
    for (i, &b) in bytes.iter().enumerate().skip(at) {
        if !is_lead(b) {
            // A continuation byte: its char was counted already.
            continue;
        }
        if seen == target {
            return Ok(i);
        }
        seen += 1 + usize::from(b >= 0xF0);
        if seen > target {
            return Err(OffsetError::SplitsSurrogate);
        }
    }
    if seen == target {
        Ok(bytes.len())
    } else {
        Err(OffsetError::PastEnd { len: seen })
    }
}

/// [`forward`]'s mirror, for a target before `from`: `seen` counts the
/// units of the chars that start before `at`.
fn backward(bytes: &[u8], from: Mark, target: usize) -> Result<usize, OffsetError> {
    let Mark {
        units: mut seen,
        byte: mut at,
    } = from;
    if let Some(run) = at
        .checked_sub(seen - target)
        .and_then(|start| bytes.get(start..at))
        && run.is_ascii()
    {
        return Ok(at - run.len());
    }
    for size in [BLOCK, STEP] {
        while let Some(part) = at.checked_sub(size).and_then(|start| bytes.get(start..at)) {
            let n = block_units(part);
            if seen.saturating_sub(n) <= target {
                break;
            }
            seen -= n;
            at -= size;
        }
    }
    while let Some(i) = at.checked_sub(1) {
        at = i;
        let b = bytes[i];
        if !is_lead(b) {
            continue;
        }
        seen = seen.saturating_sub(1 + usize::from(b >= 0xF0));
        if seen == target {
            return Ok(i);
        }
        if seen < target {
            return Err(OffsetError::SplitsSurrogate);
        }
    }
    // Only a wrong mark gets here: count from the start instead.
    debug_assert!(false, "UTF-16 mark {from:?} does not match its string");
    forward(bytes, Mark::START, target)
}

/// Known char boundaries of one string, kept up to date through its edits,
/// so that the next edit near one of them finds its byte offset by scanning
/// the distance from it, not the string from its start.
///
/// It remembers a few places (where the last edits ended: one per user
/// typing, say); an edit near one moves it, and an edit far from all of
/// them takes their places in turn.
#[derive(Debug, Clone, Default)]
pub(crate) struct Marks {
    marks: Vec<Mark>,
    /// The slot the next far edit takes, once all are in use.
    next: usize,
}

/// Marks kept per string.
const MARKS: usize = 4;

/// An edit this close (in units) to a mark moves that mark: the same
/// user, still typing.
const NEAR: usize = 64;

impl Marks {
    /// The byte offset of UTF-16 offset `target` in `s`, the string these
    /// marks are of, scanned from the nearest mark.
    pub(crate) fn byte_offset(&self, s: &str, target: usize) -> Result<usize, OffsetError> {
        let mut nearest = Mark::START;
        for &m in &self.marks {
            if m.units == target {
                // Typing on where an edit ended: the commonest case.
                return Ok(m.byte);
            }
            if m.units.abs_diff(target) < nearest.units.abs_diff(target) {
                nearest = m;
            }
        }
        byte_offset_from(s, nearest, target)
    }

    /// `added` (its length, as [`Mark::end_of`] gives it) was inserted at
    /// `at`, a char boundary of the string before the edit.
    pub(crate) fn inserted(&mut self, at: Mark, added: Mark) {
        for m in &mut self.marks {
            if m.units > at.units {
                m.units += added.units;
                m.byte += added.byte;
            }
        }
        self.remember(Mark {
            units: at.units + added.units,
            byte: at.byte + added.byte,
        });
    }

    /// `removed` (its length, as [`Mark::end_of`] gives it) was deleted at
    /// `at`, a char boundary of the string before the edit.
    pub(crate) fn deleted(&mut self, at: Mark, removed: Mark) {
        for m in &mut self.marks {
            if m.units >= at.units + removed.units {
                m.units -= removed.units;
                m.byte -= removed.byte;
            } else if m.units > at.units {
                *m = at;
            }
        }
        self.remember(at);
    }

    fn remember(&mut self, mark: Mark) {
        if let Some(near) = (self.marks.iter_mut()).find(|m| m.units.abs_diff(mark.units) <= NEAR) {
            *near = mark;
        } else if self.marks.len() < MARKS {
            self.marks.push(mark);
        } else {
            self.marks[self.next] = mark;
            self.next = (self.next + 1) % MARKS;
        }
    }
}

/// JavaScript's `s.slice(start, end)` in UTF-16 units: bounds are clamped to
/// the string. `Err(offset)` if a bound splits a surrogate pair.
pub(crate) fn slice(s: &str, start: usize, end: usize) -> Result<&str, usize> {
    let total = len(s);
    let end = end.min(total);
    if start >= end {
        return Ok("");
    }
    let from = byte_offset(s, start).map_err(|_| start)?;
    let to = byte_offset(s, end).map_err(|_| end)?;
    Ok(&s[from..to])
}

/// The byte offset of UTF-16 offset `target` in `s`: scanned from the
/// nearest of `marks` (the string's known boundaries), if given, else
/// from the start.
pub(crate) fn byte_offset_near(
    s: &str,
    target: usize,
    marks: Option<&Marks>,
) -> Result<usize, OffsetError> {
    match marks {
        Some(marks) => marks.byte_offset(s, target),
        None => byte_offset(s, target),
    }
}

/// Where an insert at UTF-16 offset `at` lands in `s`: there, or at the
/// end if `at` is past it (JavaScript's `slice` clamps). `None` if `at`
/// splits a surrogate pair.
pub(crate) fn insertion_point(s: &str, at: usize, marks: Option<&Marks>) -> Option<Mark> {
    match byte_offset_near(s, at, marks) {
        Ok(byte) => Some(Mark { units: at, byte }),
        Err(OffsetError::PastEnd { len }) => Some(Mark {
            units: len,
            byte: s.len(),
        }),
        Err(OffsetError::SplitsSurrogate) => None,
    }
}

/// JavaScript's `a.slice(0, at) + b + a.slice(at)`, in place.
/// `Err(at)` if `at` splits a surrogate pair of `a`.
pub(crate) fn inject(a: &mut String, at: usize, b: &str) -> Result<(), usize> {
    let point = insertion_point(a, at, None).ok_or(at)?;
    a.insert_str(point.byte, b);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(len(""), 0);
        assert_eq!(len("abc"), 3);
        assert_eq!(len("é"), 1);
        assert_eq!(len("日本"), 2);
        assert_eq!(len("😀"), 2);
        assert_eq!(len("a😀b𝄞"), 6);
    }

    #[test]
    fn byte_offsets_refuse_split_pairs_and_the_far_end() {
        let s = "a😀é";
        assert_eq!(byte_offset(s, 0), Ok(0));
        assert_eq!(byte_offset(s, 1), Ok(1));
        assert_eq!(byte_offset(s, 2), Err(OffsetError::SplitsSurrogate));
        assert_eq!(byte_offset(s, 3), Ok(5));
        assert_eq!(byte_offset(s, 4), Ok(7));
        assert_eq!(byte_offset(s, 5), Err(OffsetError::PastEnd { len: 4 }));
    }

    #[test]
    fn byte_offsets_agree_with_char_counting_across_chunks() {
        let s = "ab😀cé日".repeat(100);
        let mut expected = vec![(0, 0)];
        let mut units = 0;
        for (at, ch) in s.char_indices() {
            units += ch.len_utf16();
            expected.push((units, at + ch.len_utf8()));
        }
        for &(u, b) in &expected {
            assert_eq!(byte_offset(&s, u), Ok(b), "offset {u}");
        }
        let splits = (0..units).filter(|u| !expected.iter().any(|e| e.0 == *u));
        for u in splits {
            assert_eq!(
                byte_offset(&s, u),
                Err(OffsetError::SplitsSurrogate),
                "offset {u}"
            );
        }
        assert_eq!(
            byte_offset(&s, units + 1),
            Err(OffsetError::PastEnd { len: units })
        );
    }

    /// Every (UTF-16, byte) boundary of `s`, from (0, 0) to its end.
    fn boundaries(s: &str) -> Vec<Mark> {
        let mut marks = vec![Mark::START];
        let mut units = 0;
        for (at, ch) in s.char_indices() {
            units += ch.len_utf16();
            marks.push(Mark {
                units,
                byte: at + ch.len_utf8(),
            });
        }
        marks
    }

    #[test]
    fn scans_from_any_mark_agree_with_scans_from_the_start() {
        // Long enough for whole blocks both ways, with every char width.
        let s = "ab😀cé日 plain ascii run of text; ".repeat(12);
        let all = boundaries(&s);
        let total = all.last().map_or(0, |m| m.units);
        for from in all.iter().step_by(7) {
            for target in 0..=total + 1 {
                assert_eq!(
                    byte_offset_from(&s, *from, target),
                    byte_offset(&s, target),
                    "from {from:?} to {target}"
                );
            }
        }
    }

    #[test]
    fn marks_follow_edits() {
        // Two carets typing and deleting in one string, checked against a
        // scan from the start after every edit.
        let mut s = "déjà vu 😀 ".repeat(30);
        let mut marks = Marks::default();
        let mut carets = [3usize, 200];
        for step in 0..400usize {
            let who = step % 2;
            let len = len(&s);
            let at = carets[who].min(len);
            let Ok(byte) = marks.byte_offset(&s, at) else {
                // Inside a pair: step over it.
                carets[who] = at + 1;
                continue;
            };
            assert_eq!(Ok(byte), byte_offset(&s, at), "step {step}");
            if step % 5 == 4 && byte < s.len() {
                let ch = s[byte..].chars().next().unwrap_or_default().to_string();
                s.replace_range(byte..byte + ch.len(), "");
                let removed = Mark {
                    units: len_of(&ch),
                    byte: ch.len(),
                };
                marks.deleted(Mark { units: at, byte }, removed);
            } else {
                let text = ["x", "é", "日", "🚲"][step % 4];
                s.insert_str(byte, text);
                let added = Mark {
                    units: len_of(text),
                    byte: text.len(),
                };
                marks.inserted(Mark { units: at, byte }, added);
                carets[who] = at + added.units;
            }
            if step % 50 == 0 {
                // One caret jumps far away.
                carets[who] = (step * 7) % len.max(1);
            }
            for m in &marks.marks {
                assert_eq!(byte_offset(&s, m.units), Ok(m.byte), "mark {m:?} at {step}");
            }
        }
    }

    fn len_of(s: &str) -> usize {
        s.encode_utf16().count()
    }

    #[test]
    fn slice_clamps_like_javascript() {
        assert_eq!(slice("a😀b", 0, 1), Ok("a"));
        assert_eq!(slice("a😀b", 1, 3), Ok("😀"));
        assert_eq!(slice("a😀b", 3, 99), Ok("b"));
        assert_eq!(slice("a😀b", 9, 2), Ok(""));
        assert_eq!(slice("a😀b", 0, 2), Err(2));
    }

    #[test]
    fn inject_inserts_at_units() {
        let mut s = String::from("a😀b");
        inject(&mut s, 3, "x").unwrap();
        assert_eq!(s, "a😀xb");
        inject(&mut s, 99, "!").unwrap();
        assert_eq!(s, "a😀xb!");
        assert_eq!(inject(&mut s, 2, "y"), Err(2));
    }
}
