//! ShareDB's wire protocol as typed messages.
//!
//! One JSON object per WebSocket text frame, told apart by its action `a`.
//! [`ClientMessage`] is what clients send, [`ServerMessage`] what servers
//! send; both serialize to exactly the JSON the npm `sharedb` 7 client and
//! server exchange, so either side can be ShareDB.
//!
//! ```
//! use peloton::protocol::{ClientMessage, ServerMessage, Snapshot};
//!
//! let request = ClientMessage::parse(r#"{"a":"f","c":"notes","d":"n1"}"#).unwrap();
//! assert_eq!(request.action(), "f");
//!
//! let reply = ServerMessage::Fetch {
//!     c: "notes".into(),
//!     d: "n1".into(),
//!     data: Some(Snapshot::json0(3, serde_json::json!({"text": "hi"}))),
//! };
//! assert_eq!(reply.to_json(), r#"{"a":"f","c":"notes","d":"n1","data":{"v":3,"data":{"text":"hi"}}}"#);
//! ```
//!
//! This module owns the messages, their JSON form and the transport seam; it
//! keeps no connection state and serves no request: that is `backend`'s and
//! `client`'s.

mod client_message;
mod doc_data;
mod error;
mod server_message;
mod snapshot;
pub mod transport;
mod wire;

pub use client_message::{
    BulkRequest, ClientMessage, DocRequest, MAX_HISTORY_VERSIONS, OpRequest, PresenceUpdate,
    QueryRequest, Rejected, is_safe_key,
};
pub use doc_data::DocData;
pub use error::{ErrorCode, ErrorObject};
pub use server_message::{
    BulkReply, Hello, QueryData, QueryDiff, QueryReply, QueryResult, ServerMessage, SnapshotReply,
};
pub(crate) use snapshot::SnapshotRef;
pub use snapshot::{
    CreateData, DocOp, OpKind, OpMeta, Snapshot, VersionInfo, VersionKind, is_json0, normalize_type,
};
pub use transport::{
    ClientEnd, ConnectFuture, Connector, Incoming, ServerEnd, ServerTask, ServerTransport,
    TransportError,
};
pub use wire::Bulk;

/// The protocol's major version: ShareDB's 1.
pub const PROTOCOL_MAJOR: u64 = 1;
/// The protocol's minor version: ShareDB 7's 2.
pub const PROTOCOL_MINOR: u64 = 2;
