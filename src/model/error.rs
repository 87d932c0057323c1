//! What can go wrong with a model operation.
//!
//! This module owns the error type and its messages; it decides nothing about
//! recovery, which is the caller's.

use crate::client::ClientError;

/// Why a model operation failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Mutations need at least `collection.id`.
    #[error("cannot mutate {0:?}: a path needs at least a collection and a document id")]
    PathTooShort(String),
    /// The path's value has the wrong type for the operation.
    #[error("{op} at {path}: expected {expected}, found {found}")]
    WrongType {
        /// The operation.
        op: &'static str,
        /// Where.
        path: String,
        /// What it needs.
        expected: &'static str,
        /// What is there.
        found: &'static str,
    },
    /// There is no value at the path (`get_or_err`, or an index out of
    /// range).
    #[error("no value at {0}")]
    NoValue(String),
    /// The document of a remote collection does not exist; create it first.
    #[error("document {0} does not exist: create it before mutating it")]
    DocDoesNotExist(String),
    /// A value could not be converted to or from JSON.
    #[error("value at {path} is not convertible: {message}")]
    Serde {
        /// Where.
        path: String,
        /// What serde said.
        message: String,
    },
    /// The model has no connection, so it cannot load remote data.
    #[error("this model has no connection: {0} is a remote collection")]
    NoConnection(String),
    /// A write past the end of a list pads it with nulls, but not by more
    /// than [`MAX_PADDING`](super::MAX_PADDING) (a typo'd or hostile index
    /// would otherwise allocate without bound).
    #[error(
        "cannot write at index {index} of {path}: it has {len} items, and lists are \
         padded with nulls by at most {max} past their end",
        max = super::MAX_PADDING
    )]
    TooFarPastEnd {
        /// The list.
        path: String,
        /// The index written.
        index: usize,
        /// The list's length.
        len: usize,
    },
    /// A ref list's own path cannot be written.
    #[error("{0}")]
    RefList(String),
    /// No reactive function has this name ([`Model::define_fn`](super::Model::define_fn)).
    #[error("no reactive function is named {0:?}: define it with Model::define_fn first")]
    UnknownFn(String),
    /// The path is not a remote document (`collection.id`), which
    /// history needs.
    #[error("{0:?} is not a document of a remote collection (`collection.id`)")]
    NotADocument(String),
    /// The client or server refused.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// A short name for a JSON value's type, for messages.
pub(crate) fn type_name(value: Option<&serde_json::Value>) -> &'static str {
    use serde_json::Value;
    match value {
        None => "nothing",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::String(_)) => "a string",
        Some(Value::Array(_)) => "a list",
        Some(Value::Object(_)) => "an object",
    }
}
