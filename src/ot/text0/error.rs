//! What can go wrong with a text0 op.
//!
//! This module owns the error types and their messages only; `apply`, `compose`
//! and `transform` raise them, and json0 wraps them in its own errors.

/// Why one text edit does not fit the string it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The offset is beyond the end of the string.
    #[error("offset {offset} is past the end of the string ({len} UTF-16 code units)")]
    PastEnd {
        /// The offset, in UTF-16 code units.
        offset: usize,
        /// The string's length, in UTF-16 code units.
        len: usize,
    },
    /// The offset falls between the two halves of a surrogate pair (inside
    /// an emoji, say), where no Rust string can be cut.
    #[error("offset {offset} falls inside a surrogate pair")]
    SplitsSurrogate {
        /// The offset, in UTF-16 code units.
        offset: usize,
    },
    /// A delete names text that is not the text at its offset.
    #[error("delete of {expected:?} at offset {offset} does not match the text there ({found:?})")]
    DeleteMismatch {
        /// The offset, in UTF-16 code units.
        offset: usize,
        /// The text the delete names.
        expected: String,
        /// The text found at the offset (as much of it as the delete spans).
        found: String,
    },
}

/// A text0 op that cannot be applied, transformed or composed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Component `component` of the op does not fit the string.
    #[error("text component {component}: {reason}")]
    Apply {
        /// Index of the failing component in the op.
        component: usize,
        /// What is wrong with it.
        reason: EditError,
    },
    /// Two concurrent deletes cover the same region but name different text,
    /// so they were not made against the same string.
    #[error("concurrent deletes name different text for the same region ({ours:?} vs {theirs:?})")]
    DeleteConflict {
        /// The text the transformed delete names in the shared region.
        ours: String,
        /// The text the other delete names there.
        theirs: String,
    },
    /// Cutting `text` at a UTF-16 offset would split a surrogate pair. Only
    /// ops that cannot apply to any string get here.
    #[error("cutting {text:?} at UTF-16 offset {offset} would split a surrogate pair")]
    SplitsSurrogate {
        /// The text being cut.
        text: String,
        /// The offset, in UTF-16 code units.
        offset: usize,
    },
}
