//! The bits of JavaScript semantics ot-json0's results depend on: number
//! formatting, `===` and `==` on values and path segments, and `<` between a
//! path segment and an index.
//!
//! This module owns these emulations only: it knows JSON values and path
//! segments, not components or ops, and which comparison a json0 rule needs is
//! decided by its callers (`apply`, `compose`, `transform`, `serde_impl`).

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::op::PathSegment;

/// Largest magnitude below which every integer is exact in an `f64`.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// An `f64` as the JSON number JavaScript would write: integers without a
/// fraction (`2`, not `2.0`; `-0` as `0`). `None` for NaN and infinities,
/// which JSON cannot hold.
pub(crate) fn number(n: f64) -> Option<Number> {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
        // Exact: a whole number within ±2^53.
        Some(Number::from(n as i64))
    } else {
        Number::from_f64(n)
    }
}

/// `a === b` between two JSON values that each come from their own
/// `JSON.parse`: primitives compare by value, objects and arrays never match.
pub(crate) fn strict_eq_values(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) => a == b,
        _ => false,
    }
}

/// `a === b` between path segments, `undefined` (a missing one) included.
pub(crate) fn strict_eq(a: Option<&PathSegment>, b: Option<&PathSegment>) -> bool {
    a == b
}

/// `a == b` between path segments: as `===`, except that a number and a
/// numeric string are equal (`1 == "1"`).
pub(crate) fn loose_eq(a: Option<&PathSegment>, b: Option<&PathSegment>) -> bool {
    match (a, b) {
        (Some(PathSegment::Index(i)), Some(PathSegment::Key(k)))
        | (Some(PathSegment::Key(k)), Some(PathSegment::Index(i))) => {
            string_to_number(k) == *i as f64
        }
        _ => a == b,
    }
}

/// How list index `n` compares with path segment `seg` under JavaScript's
/// `<`: strings are converted to numbers, and `undefined` or NaN compare as
/// nothing (every comparison false).
pub(crate) fn compare(n: usize, seg: Option<&PathSegment>) -> Option<Ordering> {
    match seg? {
        PathSegment::Index(i) => Some(n.cmp(i)),
        PathSegment::Key(k) => (n as f64).partial_cmp(&string_to_number(k)),
    }
}

/// The number a path segment stands for in arithmetic (`'3'++` is 4).
pub(crate) fn segment_number(seg: &PathSegment) -> f64 {
    match seg {
        PathSegment::Index(i) => *i as f64,
        PathSegment::Key(k) => string_to_number(k),
    }
}

/// JavaScript's `Number(s)`: surrounding white space is ignored, the empty
/// string is 0, `0x`/`0o`/`0b` prefixes and `Infinity` are understood, and
/// anything else that is not a decimal literal is NaN.
pub(crate) fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(digits) = t.strip_prefix(prefix) {
            return parse_radix(digits, radix);
        }
    }
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned == "Infinity" {
        return if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    if is_decimal_literal(unsigned) {
        t.parse().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

/// JavaScript's white space and line terminators (Rust's `char::is_whitespace`
/// minus U+0085, plus U+FEFF).
fn is_js_space(c: char) -> bool {
    c == '\u{FEFF}' || (c.is_whitespace() && c != '\u{85}')
}

fn parse_radix(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() {
        return f64::NAN;
    }
    digits
        .chars()
        .try_fold(0.0, |acc, c| {
            c.to_digit(radix)
                .map(|d| acc * f64::from(radix) + f64::from(d))
        })
        .unwrap_or(f64::NAN)
}

/// `digits [. digits] [e [+-] digits]` or `. digits [...]`, unsigned.
fn is_decimal_literal(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_javascript_does() {
        assert_eq!(number(2.0), Some(Number::from(2)));
        assert_eq!(number(-0.0), Some(Number::from(0)));
        assert_eq!(number(2.5), Number::from_f64(2.5));
        assert_eq!(number(f64::NAN), None);
    }

    #[test]
    fn string_to_number_follows_javascript() {
        assert_eq!(string_to_number(""), 0.0);
        assert_eq!(string_to_number(" 12 "), 12.0);
        assert_eq!(string_to_number("1e3"), 1000.0);
        assert_eq!(string_to_number(".5"), 0.5);
        assert_eq!(string_to_number("5."), 5.0);
        assert_eq!(string_to_number("0x1f"), 31.0);
        assert_eq!(string_to_number("-Infinity"), f64::NEG_INFINITY);
        for nan in ["abc", "1a", "inf", "NaN", "0x", ".", "1e", "--1", "\u{85}1"] {
            assert!(string_to_number(nan).is_nan(), "{nan:?}");
        }
    }

    #[test]
    fn segment_comparisons() {
        let key = |k: &str| PathSegment::Key(k.to_owned());
        assert!(loose_eq(Some(&PathSegment::Index(1)), Some(&key("1"))));
        assert!(!strict_eq(Some(&PathSegment::Index(1)), Some(&key("1"))));
        assert!(strict_eq(None, None));
        assert_eq!(compare(1, Some(&key("x"))), None);
        assert_eq!(compare(1, Some(&key("2"))), Some(Ordering::Less));
        assert_eq!(compare(1, None), None);
    }
}
