//! json0 (`http://sharejs.org/types/JSONv0`): OT for JSON documents.
//!
//! This is ShareDB's default type, and peloton's. An [`Op`] is a list of
//! [`Component`]s, each editing one place in the document: add to a number,
//! insert, delete, replace or move list elements, set or delete object keys,
//! and edit strings (with the legacy `si`/`sd` components or the embedded
//! [`text0`](crate::ot::text0) subtype).
//!
//! The JSON form of ops, and the results of [`transform`], [`compose`],
//! [`invert`] and [`normalize`], are those of npm `ot-json0` 1.1.0, op for op,
//! tie-breaks and quirks included, so peloton interoperates with ShareDB
//! clients and servers. [`apply`] is stricter than ot-json0: it checks the op
//! against the document and returns a typed [`Error`], leaving the document
//! unchanged, where JavaScript would coerce. String offsets count UTF-16 code
//! units, as JavaScript does; to apply op after op to one document, a
//! [`Document`] finds them from where the last edits were instead of
//! counting from each string's start, with the same results.
//!
//! ```
//! use peloton::ot::Side;
//! use peloton::ot::json0::{self, Op};
//! use serde_json::json;
//!
//! let mut doc = json0::create(Some(json!({"todos": ["milk"], "note": "hi 👋"})));
//!
//! // Two users edit concurrently...
//! let alice: Op = serde_json::from_value(json!([{"p": ["todos", 0], "li": "eggs"}]))?;
//! let bob: Op = serde_json::from_value(json!([
//!     {"p": ["todos", 0], "ld": "milk"},
//!     {"p": ["note", 5], "si": "!"},
//! ]))?;
//!
//! // ...the server applies Alice's op, then Bob's, moved past Alice's.
//! json0::apply(&mut doc, &alice)?;
//! let bob2 = json0::transform(&bob, &alice, Side::Right)?;
//! assert_eq!(serde_json::to_value(&bob2)?, json!([
//!     {"p": ["todos", 1], "ld": "milk"},
//!     {"p": ["note", 5], "si": "!"},
//! ]));
//! json0::apply(&mut doc, &bob2)?;
//! assert_eq!(doc, json!({"todos": ["eggs"], "note": "hi 👋!"}));
//!
//! // A bad op is refused and changes nothing.
//! let bad: Op = serde_json::from_value(json!([{"p": ["todos", 9], "ld": "x"}]))?;
//! assert!(json0::apply(&mut doc, &bad).is_err());
//! assert_eq!(doc, json!({"todos": ["eggs"], "note": "hi 👋!"}));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This module owns the json0 type alone: its ops, their JSON form, and pure
//! functions over them and JSON values. It knows no collection, version,
//! message or database; those belong to `protocol`, `backend` and `client`.

mod apply;
mod compose;
mod cursor;
mod document;
mod error;
mod invert;
mod js;
mod op;
mod presence;
mod serde_impl;
mod transform;
mod undo;

pub use apply::apply;
pub use compose::{NormalizeError, compose, normalize, normalize_value};
pub use cursor::{Cursor, transform_cursor};
pub use document::Document;
pub use error::{ApplyError, Error};
pub use invert::invert;
pub use op::{Action, Component, IntoPath, Op, Path, PathSegment};
pub use presence::{Caret, transform_presence};
pub use transform::transform;
pub use undo::transform_undo;

pub use crate::ot::Side;

use serde_json::Value;

/// The URI that identifies json0 on the wire and in storage.
pub const URI: &str = "http://sharejs.org/types/JSONv0";

/// The name ShareDB registers json0 under.
pub const NAME: &str = "json0";

/// A new document: `data`, or `null` when there is none (ot-json0's
/// `create(undefined)`).
pub fn create(data: Option<Value>) -> Value {
    data.unwrap_or(Value::Null)
}
