//! What can go wrong with a json0 op.
//!
//! This module owns the error types and their messages only; the other json0
//! modules decide when to raise them, and turning them into ShareDB error codes
//! is the caller's.

use super::op::{Path, display_path};
use crate::ot::text0;

/// Why a json0 op cannot be applied, transformed, composed or inverted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Component `component` does not fit the document; nothing was changed.
    #[error("component {component} (p: {}) does not apply: {reason}", display_path(.path))]
    Apply {
        /// Index of the failing component in the op.
        component: usize,
        /// Its path.
        path: Path,
        /// What is wrong.
        reason: ApplyError,
    },
    /// A delete's `ld`/`od` value must take in a concurrent edit beneath it
    /// (so the delete still inverts), and that edit does not fit the value.
    #[error("the value deleted at {} cannot take the concurrent edit beneath it: {source}", display_path(.path))]
    DeletedValue {
        /// Path of the delete.
        path: Path,
        /// Why the edit does not apply to the deleted value.
        source: Box<Error>,
    },
    /// A path segment that must be a list index (because the other op edits a
    /// list there) is an object key, or an index would go below zero.
    #[error("path {} has no list index at position {depth}", display_path(.path))]
    NotAnIndex {
        /// The path.
        path: Path,
        /// Position of the segment in it.
        depth: usize,
    },
    /// A list or legacy string component whose path does not end in an index.
    #[error("component at {} needs a path ending in a list index or string offset", display_path(.path))]
    MissingIndex {
        /// The path.
        path: Path,
    },
    /// A text edit (subtype or legacy) cannot be transformed or composed.
    #[error(transparent)]
    Text(#[from] text0::Error),
}

/// Why one component does not fit the document. Depths count path segments
/// from the root: `depth` 0 is `p[0]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A list index that is not in the list.
    #[error("p[{depth}]: index {index} is out of range for a list of length {len}")]
    IndexOutOfRange {
        /// Position in the path.
        depth: usize,
        /// The index.
        index: usize,
        /// The list's length.
        len: usize,
    },
    /// An object key that is not in the object.
    #[error("p[{depth}]: key {key:?} does not exist")]
    KeyNotFound {
        /// Position in the path.
        depth: usize,
        /// The key.
        key: String,
    },
    /// A key where the document has a list.
    #[error("p[{depth}]: the value is a list, so the path needs an index here, not key {key:?}")]
    ExpectedIndex {
        /// Position in the path.
        depth: usize,
        /// The key found in the path.
        key: String,
    },
    /// An index where the document has an object.
    #[error("p[{depth}]: the value is an object, so the path needs a key here, not index {index}")]
    ExpectedKey {
        /// Position in the path.
        depth: usize,
        /// The index found in the path.
        index: usize,
    },
    /// The path goes through a value that is neither list nor object.
    #[error("p[{depth}]: cannot go into {found}")]
    NotAContainer {
        /// Position in the path.
        depth: usize,
        /// What is there ("a string", "null", ...).
        found: &'static str,
    },
    /// The value at the path (or its parent) has the wrong type.
    #[error("expected {expected} at {target}, found {found}")]
    WrongType {
        /// What the component needs ("a list", "a number", ...).
        expected: &'static str,
        /// "the path" or "the parent".
        target: &'static str,
        /// What is there.
        found: &'static str,
    },
    /// A list move whose destination is not in the list.
    #[error("move target {to} is out of range for a list of length {len}")]
    MoveOutOfRange {
        /// The destination index.
        to: usize,
        /// The list's length.
        len: usize,
    },
    /// A component that edits a child (`li`, `od`, `si`...) with an empty path,
    /// or a list/string component whose path does not end in an index.
    #[error("the path must end in {expected}")]
    BadPath {
        /// What the last segment must be.
        expected: &'static str,
    },
    /// `na` would make the number infinite.
    #[error("adding {add} to {to} does not give a finite number")]
    NotFinite {
        /// The number added.
        add: f64,
        /// The number in the document.
        to: f64,
    },
    /// A legacy `si`/`sd` does not fit the string.
    #[error("{0}")]
    Edit(#[from] text0::EditError),
    /// A text0 subtype op does not fit the string.
    #[error("{0}")]
    Text(#[from] text0::Error),
}
