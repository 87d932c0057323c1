//! Errors as they travel on the wire: ShareDB's `{code, message}` objects.
//!
//! This module owns the codes, their wire form and `ErrorObject` only; which
//! code fits a failure is decided where the failure is found (the backend,
//! its middleware and databases, the client).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// ShareDB's error codes, as strings on the wire (`"ERR_DOC_DOES_NOT_EXIST"`).
///
/// Clients branch on these codes (the npm client rolls back on some and
/// ignores `ERR_OP_ALREADY_SUBMITTED`), so peloton uses ShareDB's codes for
/// the same situations. Codes peloton never sends are not listed; an unknown
/// code received from a peer is kept as [`ErrorCode::Other`]. Database
/// adapters answer with numbers instead (sharedb-mongo's `4103` for a
/// refused `$where`): those travel as JSON numbers, [`ErrorCode::Numeric`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A request is not a well-formed message, or its action is unknown.
    MessageBadlyFormed,
    /// An op's body is not a valid op of the document's type.
    OtOpBadlyFormed,
    /// An op does not apply to the document (wrong path, wrong type, ...).
    OtOpNotApplied,
    /// A submit carried none of `op`, `create` and `del`.
    OtOpNotProvided,
    /// A create for a document that exists.
    DocAlreadyCreated,
    /// An edit or delete of a document that does not exist.
    DocDoesNotExist,
    /// A document was deleted by an op the submitted op was made before.
    DocWasDeleted,
    /// A document or create names a type the server does not know.
    DocTypeNotRecognized,
    /// An op claims a version the document has not reached yet.
    OpVersionNewerThanCurrentSnapshot,
    /// The same op (src and seq) was already committed; the client is acked.
    OpAlreadySubmitted,
    /// The ops between an op's version and the snapshot are missing.
    SubmitTransformOpsNotFound,
    /// A commit kept losing races with concurrent commits.
    MaxSubmitRetriesExceeded,
    /// A middleware rejected the submit.
    OpSubmitRejected,
    /// The op became a no-op; nothing was committed.
    NoOp,
    /// A middleware rejected reading some snapshots.
    SnapshotReadsRejected,
    /// A middleware rejected reading a snapshot, silently for the user.
    SnapshotReadSilentRejection,
    /// The peer speaks a protocol version this side does not.
    ProtocolVersionNotSupported,
    /// The server's default type is not json0.
    DefaultTypeMismatch,
    /// The handshake's client id is not a string.
    ClientIdBadlyFormed,
    /// The type does not support presence.
    TypeDoesNotSupportPresence,
    /// A presence could not be transformed to the latest version.
    PresenceTransformFailed,
    /// The database cannot run what was asked (a query operator it does
    /// not evaluate).
    DatabaseMethodNotImplemented,
    /// An op would nest a document deeper than the server allows.
    DocTooDeep,
    /// An op would make a document larger than the server allows.
    DocTooLarge,
    /// A connection asked for more document subscriptions than allowed.
    TooManySubscriptions,
    /// A connection asked for more live queries than allowed.
    TooManyQueries,
    /// A connection asked for more presence channels than allowed.
    TooManyPresenceChannels,
    /// A connection sent ops or messages faster than allowed; retry later.
    RateLimited,
    /// A snapshot at a past version or time would replay more ops than
    /// allowed.
    HistoryTooLong,
    /// The database or pub/sub did not answer in time.
    Timeout,
    /// A middleware hook submitted to the document its own submit is for.
    NestedSubmit,
    /// A database or other internal failure.
    Unknown,
    /// Any other code, kept as received.
    Other(String),
    /// A numeric code, as database adapters send them (sharedb-mongo's
    /// `4102`-`4110` for refused collections and queries); a JSON number
    /// on the wire, so a Node client's `err.code === 4103` holds.
    Numeric(i64),
}

impl ErrorCode {
    /// The code's wire form (a numeric code in decimal).
    pub fn as_str(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            Self::MessageBadlyFormed => "ERR_MESSAGE_BADLY_FORMED",
            Self::OtOpBadlyFormed => "ERR_OT_OP_BADLY_FORMED",
            Self::OtOpNotApplied => "ERR_OT_OP_NOT_APPLIED",
            Self::OtOpNotProvided => "ERR_OT_OP_NOT_PROVIDED",
            Self::DocAlreadyCreated => "ERR_DOC_ALREADY_CREATED",
            Self::DocDoesNotExist => "ERR_DOC_DOES_NOT_EXIST",
            Self::DocWasDeleted => "ERR_DOC_WAS_DELETED",
            Self::DocTypeNotRecognized => "ERR_DOC_TYPE_NOT_RECOGNIZED",
            Self::OpVersionNewerThanCurrentSnapshot => "ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT",
            Self::OpAlreadySubmitted => "ERR_OP_ALREADY_SUBMITTED",
            Self::SubmitTransformOpsNotFound => "ERR_SUBMIT_TRANSFORM_OPS_NOT_FOUND",
            Self::MaxSubmitRetriesExceeded => "ERR_MAX_SUBMIT_RETRIES_EXCEEDED",
            Self::OpSubmitRejected => "ERR_OP_SUBMIT_REJECTED",
            Self::NoOp => "ERR_NO_OP",
            Self::SnapshotReadsRejected => "ERR_SNAPSHOT_READS_REJECTED",
            Self::SnapshotReadSilentRejection => "ERR_SNAPSHOT_READ_SILENT_REJECTION",
            Self::ProtocolVersionNotSupported => "ERR_PROTOCOL_VERSION_NOT_SUPPORTED",
            Self::DefaultTypeMismatch => "ERR_DEFAULT_TYPE_MISMATCH",
            Self::ClientIdBadlyFormed => "ERR_CLIENT_ID_BADLY_FORMED",
            Self::TypeDoesNotSupportPresence => "ERR_TYPE_DOES_NOT_SUPPORT_PRESENCE",
            Self::PresenceTransformFailed => "ERR_PRESENCE_TRANSFORM_FAILED",
            Self::DatabaseMethodNotImplemented => "ERR_DATABASE_METHOD_NOT_IMPLEMENTED",
            Self::DocTooDeep => "ERR_DOC_TOO_DEEP",
            Self::DocTooLarge => "ERR_DOC_TOO_LARGE",
            Self::TooManySubscriptions => "ERR_TOO_MANY_SUBSCRIPTIONS",
            Self::TooManyQueries => "ERR_TOO_MANY_QUERIES",
            Self::TooManyPresenceChannels => "ERR_TOO_MANY_PRESENCE_CHANNELS",
            Self::RateLimited => "ERR_RATE_LIMITED",
            Self::HistoryTooLong => "ERR_HISTORY_TOO_LONG",
            Self::Timeout => "ERR_TIMEOUT",
            Self::NestedSubmit => "ERR_NESTED_SUBMIT",
            Self::Unknown => "ERR_UNKNOWN_ERROR",
            Self::Other(code) => code,
            Self::Numeric(code) => return Cow::Owned(code.to_string()),
        })
    }

    /// Parses a wire code; unknown codes become [`ErrorCode::Other`].
    pub fn parse(code: &str) -> Self {
        const KNOWN: [ErrorCode; 32] = [
            ErrorCode::MessageBadlyFormed,
            ErrorCode::OtOpBadlyFormed,
            ErrorCode::OtOpNotApplied,
            ErrorCode::OtOpNotProvided,
            ErrorCode::DocAlreadyCreated,
            ErrorCode::DocDoesNotExist,
            ErrorCode::DocWasDeleted,
            ErrorCode::DocTypeNotRecognized,
            ErrorCode::OpVersionNewerThanCurrentSnapshot,
            ErrorCode::OpAlreadySubmitted,
            ErrorCode::SubmitTransformOpsNotFound,
            ErrorCode::MaxSubmitRetriesExceeded,
            ErrorCode::OpSubmitRejected,
            ErrorCode::NoOp,
            ErrorCode::SnapshotReadsRejected,
            ErrorCode::SnapshotReadSilentRejection,
            ErrorCode::ProtocolVersionNotSupported,
            ErrorCode::DefaultTypeMismatch,
            ErrorCode::ClientIdBadlyFormed,
            ErrorCode::TypeDoesNotSupportPresence,
            ErrorCode::PresenceTransformFailed,
            ErrorCode::DatabaseMethodNotImplemented,
            ErrorCode::DocTooDeep,
            ErrorCode::DocTooLarge,
            ErrorCode::TooManySubscriptions,
            ErrorCode::TooManyQueries,
            ErrorCode::TooManyPresenceChannels,
            ErrorCode::RateLimited,
            ErrorCode::HistoryTooLong,
            ErrorCode::Timeout,
            ErrorCode::NestedSubmit,
            ErrorCode::Unknown,
        ];
        KNOWN
            .into_iter()
            .find(|known| known.as_str() == code)
            .unwrap_or_else(|| Self::Other(code.to_owned()))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Numeric(code) => serializer.serialize_i64(*code),
            other => serializer.serialize_str(&other.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// A string code or a numeric one.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Number(i64),
            Text(String),
        }
        Ok(match Wire::deserialize(deserializer)? {
            Wire::Number(code) => Self::Numeric(code),
            Wire::Text(code) => Self::parse(&code),
        })
    }
}

/// An error as sent to a client: `{"code": "ERR_…", "message": "…"}`.
///
/// This is also the error type of everything in peloton that answers a
/// client request, so middleware can reject with exactly what the client
/// will see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ErrorObject {
    /// What kind of error, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl ErrorObject {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A malformed or unknown request.
    pub fn badly_formed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MessageBadlyFormed, message)
    }

    /// An internal failure (database, pub/sub), reported without details
    /// the client could abuse.
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unknown, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in ["ERR_DOC_WAS_DELETED", "ERR_NO_OP", "ERR_SOMETHING_NEW"] {
            assert_eq!(ErrorCode::parse(code).as_str(), code);
        }
        assert_eq!(
            ErrorCode::parse("ERR_SOMETHING_NEW"),
            ErrorCode::Other("ERR_SOMETHING_NEW".into())
        );
    }

    #[test]
    fn error_object_json() {
        let e = ErrorObject::new(ErrorCode::DocDoesNotExist, "Document does not exist");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"code":"ERR_DOC_DOES_NOT_EXIST","message":"Document does not exist"}"#
        );
        assert_eq!(serde_json::from_str::<ErrorObject>(&json).unwrap(), e);
    }

    #[test]
    fn numeric_codes_stay_numbers() {
        let json = r#"{"code":4103,"message":"$where queries disabled"}"#;
        let e: ErrorObject = serde_json::from_str(json).unwrap();
        assert_eq!(e.code, ErrorCode::Numeric(4103));
        assert_eq!(e.code.as_str(), "4103");
        assert_eq!(serde_json::to_string(&e).unwrap(), json);
    }
}
