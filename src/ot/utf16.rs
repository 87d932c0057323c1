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

/// The byte offset of UTF-16 offset `units` in `s`.
///
/// Whole blocks that end before the target are counted in bulk, then
/// steps of the block that reaches it, then bytes: the scan is linear but
/// touches each byte about once, vectorized. A block or step may end
/// inside a char: its units count with the part holding its first byte.
pub(crate) fn byte_offset(s: &str, target: usize) -> Result<usize, OffsetError> {
    let bytes = s.as_bytes();
    // Fast path: an ASCII prefix has as many bytes as units.
    if let Some(prefix) = bytes.get(..target)
        && prefix.is_ascii()
    {
        return Ok(target);
    }
    let mut seen = 0;
    let mut at = 0;
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

/// JavaScript's `a.slice(0, at) + b + a.slice(at)`, in place.
/// `Err(at)` if `at` splits a surrogate pair of `a`.
pub(crate) fn inject(a: &mut String, at: usize, b: &str) -> Result<(), usize> {
    let byte = match byte_offset(a, at) {
        Ok(byte) => byte,
        // `slice` clamps, so an offset past the end appends.
        Err(OffsetError::PastEnd { .. }) => a.len(),
        Err(OffsetError::SplitsSurrogate) => return Err(at),
    };
    a.insert_str(byte, b);
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
