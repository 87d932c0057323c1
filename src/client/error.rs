//! What can go wrong on the client side.
//!
//! This module owns the error type and its messages; it decides nothing about
//! recovery, which is `docs`' (rollbacks, reloads) and `connection`'s
//! (reconnects).

use crate::protocol::ErrorObject;

/// Why a client request or op failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused it, with ShareDB's code and message.
    #[error("server error {}: {}", .0.code, .0.message)]
    Server(ErrorObject),
    /// The op does not apply to the document as the client has it.
    #[error("op does not apply: {0}")]
    InvalidOp(String),
    /// The document does not exist (create it first).
    #[error("document {0} does not exist")]
    DocDoesNotExist(String),
    /// The document exists already.
    #[error("document {0} already exists")]
    DocAlreadyExists(String),
    /// The op was dropped because the document had to be reloaded from
    /// the server (an earlier op was rejected or a remote op conflicted).
    #[error("op discarded: {0}")]
    Discarded(String),
    /// The connection was closed for good.
    #[error("connection closed")]
    Closed,
}

impl ClientError {
    /// The server's error, if this is one.
    pub fn server_error(&self) -> Option<&ErrorObject> {
        match self {
            Self::Server(e) => Some(e),
            _ => None,
        }
    }
}
