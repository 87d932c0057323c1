//! Operational Transformation types, as pure functions with no I/O.
//!
//! [`json0`] is the type of every peloton document; its JSON form and its
//! results are those of the reference implementation, npm `ot-json0` 1.1.0.
//! [`text0`] is the plain-text type json0 embeds for string edits.
//!
//! String offsets in both types count UTF-16 code units, as JavaScript does,
//! so that ops written by JS clients land where they were meant to.
//!
//! This module owns the OT types and what they share (`Side`, the whole-op
//! transform, UTF-16 offsets, wire-form helpers); it knows no collection,
//! version, message or database: those are its callers'.

pub mod json0;
pub(crate) mod object_keys;
mod op_transform;
mod serde_util;
pub mod text0;
pub(crate) mod utf16;

use serde::{Deserialize, Serialize};

/// Which of two concurrent ops wins a tie (two inserts at the same place).
///
/// Transforming `a` by `b` with [`Side::Left`] and `b` by `a` with
/// [`Side::Right`] makes both orders converge. ShareDB's server transforms the
/// incoming op as `Left` against the ops it missed. Serialized as `"left"` /
/// `"right"`, the strings ot-json0 takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The op that wins ties: its insert stays first.
    Left,
    /// The op that yields: its insert lands after the other one's.
    Right,
}
