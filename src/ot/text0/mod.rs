//! text0 (`http://sharejs.org/types/textv0`): plain-text OT, as embedded in json0.
//!
//! An op is a list of components, each inserting or deleting text at an
//! offset in the string as left by the components before it. Offsets and
//! lengths are UTF-16 code units, as in JavaScript.
//!
//! json0 uses this type for its string edits, both the subtype form
//! `{p, t: "text0", o}` and the legacy `si`/`sd` components, so its results
//! follow npm `ot-json0` 1.1.0's `text0.js` exactly.
//!
//! ```
//! use peloton::ot::{Side, text0};
//! use serde_json::json;
//!
//! let mut text = String::from("hi 😀!");
//! let a: text0::Op = serde_json::from_value(json!([{"p": 5, "i": " there"}]))?;
//! let b: text0::Op = serde_json::from_value(json!([{"p": 0, "d": "hi"}]))?;
//!
//! // a and b were made concurrently: move a past b before applying it after b.
//! text0::apply(&mut text, &b)?;
//! text0::apply(&mut text, &text0::transform(&a, &b, Side::Left)?)?;
//! assert_eq!(text, " 😀 there!");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This module owns text0 alone, as pure functions over strings; it knows
//! nothing of json0's paths, documents, versions or messages, and json0 calls
//! into it, never the other way round.

mod apply;
mod compose;
mod diff;
mod error;
mod op;
mod transform;

pub use apply::apply;
pub use compose::{compose, invert, normalize};
pub use diff::diff;
pub use error::{EditError, Error};
pub use op::{Action, Component, Op};
pub use transform::{transform, transform_cursor};

pub(crate) use apply::{apply_marked, delete_at, insert_at, inserted_at, revert};
pub(crate) use compose::append;
pub(crate) use op::Edit;
pub(crate) use transform::{position_past, transform_position};

/// The URI that identifies text0 on the wire.
pub const URI: &str = "http://sharejs.org/types/textv0";

/// A new text0 document: `initial`, or the empty string.
pub fn create(initial: Option<String>) -> String {
    initial.unwrap_or_default()
}
