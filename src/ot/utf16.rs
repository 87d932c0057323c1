//! Offsets in UTF-16 code units over Rust's UTF-8 strings.
//!
//! JavaScript measures and slices strings in UTF-16 code units, so every
//! offset and length in a json0/text0 op is one. These helpers convert them
//! to byte offsets and refuse offsets that fall inside a surrogate pair,
//! which a Rust `String` cannot represent.

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
    // Every char but the 4-byte ones is one unit; 4-byte chars are two. Count
    // the bytes that start a char, plus one more for each 4-byte lead byte.
    s.bytes()
        .map(|b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0))
        .sum()
}

/// The byte offset of UTF-16 offset `units` in `s`.
pub(crate) fn byte_offset(s: &str, units: usize) -> Result<usize, OffsetError> {
    // Fast path: an ASCII prefix has as many bytes as units.
    if let Some(prefix) = s.as_bytes().get(..units)
        && prefix.is_ascii()
    {
        return Ok(units);
    }
    let mut seen = 0;
    for (at, ch) in s.char_indices() {
        if seen == units {
            return Ok(at);
        }
        seen += ch.len_utf16();
        if seen > units {
            return Err(OffsetError::SplitsSurrogate);
        }
    }
    if seen == units {
        Ok(s.len())
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
