//! Deserialization helpers shared by the json0 and text0 wire forms.
//!
//! This module owns only what both forms read alike (the component list,
//! `Offset`); the keys of a component are each type's (json0's `serde_impl`,
//! text0's `op`), and nothing here serializes.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// Reads every element of an op array, naming the index of a bad component
/// in the error.
pub(crate) fn components<'de, A, T>(mut seq: A) -> Result<Vec<T>, A::Error>
where
    A: SeqAccess<'de>,
    T: Deserialize<'de>,
{
    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
    loop {
        match seq.next_element::<T>() {
            Ok(Some(c)) => out.push(c),
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(de::Error::custom(format_args!(
                    "component {}: {e}",
                    out.len()
                )));
            }
        }
    }
}

/// A non-negative integer (offset, list index, move target). Accepts `3.0`
/// as JavaScript would, rejects negatives and fractions.
pub(crate) struct Offset(pub usize);

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OffsetVisitor)
    }
}

struct OffsetVisitor;

impl Visitor<'_> for OffsetVisitor {
    type Value = Offset;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-negative integer")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Offset, E> {
        usize::try_from(v)
            .map(Offset)
            .map_err(|_| E::custom(format_args!("{v} is too large for an offset")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Offset, E> {
        usize::try_from(v)
            .map(Offset)
            .map_err(|_| E::custom(format_args!("expected a non-negative integer, found {v}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Offset, E> {
        if v.fract() == 0.0 && (0.0..=MAX_SAFE).contains(&v) {
            // Exact: `v` is a whole number below 2^53.
            Ok(Offset(v as usize))
        } else {
            Err(E::custom(format_args!(
                "expected a non-negative integer, found {v}"
            )))
        }
    }
}
