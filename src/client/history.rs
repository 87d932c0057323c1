//! A document's past, read through a connection: its versions, and its
//! snapshot at any of them or at a time.
//!
//! The server rebuilds past snapshots from its nearest milestone (see
//! `peloton::backend::milestones`); these reads never change the documents
//! the connection holds. This module owns only the public calls; waiting
//! for replies is `past_reads`'.
//!
//! ```
//! # #[cfg(feature = "ssr")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), peloton::client::ClientError> {
//! use peloton::backend::Backend;
//! use peloton::client::Connection;
//! use peloton::ot::json0::{Component, Op};
//! use serde_json::json;
//!
//! let connection = Connection::new(Backend::new());
//! let note = connection.get("notes", "n1");
//! note.create(json!({"likes": 0}))?.await?;
//! note.submit_op(Op::from(Component::number_add(["likes"], 1.0)))?.await?;
//!
//! let versions = connection.versions("notes", "n1", 1, None).await?;
//! assert_eq!(versions.iter().map(|v| v.v).collect::<Vec<_>>(), [1, 2]);
//! let first = connection.fetch_snapshot("notes", "n1", Some(1)).await?;
//! assert_eq!(first.value(), Some(&json!({"likes": 0})));
//! # Ok(()) }
//! # #[cfg(not(feature = "ssr"))]
//! # fn main() {}
//! ```

use super::{ClientError, Connection};
use crate::protocol::{ClientMessage, ServerMessage, Snapshot, VersionInfo};

impl Connection {
    /// The document `collection.id` as it was at `version` (`None`: as it
    /// is now), as ShareDB's `connection.fetchSnapshot`. A version after
    /// the current one is an error (`ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT`).
    pub async fn fetch_snapshot(
        &self,
        collection: &str,
        id: &str,
        version: Option<u64>,
    ) -> Result<Snapshot, ClientError> {
        let reply = self
            .read_past(|request| ClientMessage::SnapshotFetch {
                id: request,
                c: collection.to_owned(),
                d: id.to_owned(),
                v: version,
            })
            .await?;
        snapshot_of(reply)
    }

    /// The document `collection.id` as it was at `ts` (ms since the Unix
    /// epoch; `None`: now), as ShareDB's
    /// `connection.fetchSnapshotByTimestamp`.
    pub async fn fetch_snapshot_by_timestamp(
        &self,
        collection: &str,
        id: &str,
        ts: Option<f64>,
    ) -> Result<Snapshot, ClientError> {
        let reply = self
            .read_past(|request| ClientMessage::SnapshotFetchByTimestamp {
                id: request,
                c: collection.to_owned(),
                d: id.to_owned(),
                ts,
            })
            .await?;
        snapshot_of(reply)
    }

    /// The versions of `collection.id` from `from` (version 1 is its
    /// creation) up to `to` (exclusive; `None`: the latest): when each was
    /// made, by which connection (`src`), and whether it created, edited or
    /// deleted the document. At most
    /// [`MAX_HISTORY_VERSIONS`](crate::protocol::MAX_HISTORY_VERSIONS) come
    /// back at once: ask again from the version after the last.
    pub async fn versions(
        &self,
        collection: &str,
        id: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<VersionInfo>, ClientError> {
        let reply = self
            .read_past(|request| ClientMessage::History {
                id: request,
                c: collection.to_owned(),
                d: id.to_owned(),
                from,
                to,
            })
            .await?;
        match reply {
            ServerMessage::History { versions, .. } => Ok(versions),
            other => Err(unexpected(&other)),
        }
    }
}

fn snapshot_of(reply: ServerMessage) -> Result<Snapshot, ClientError> {
    match reply {
        ServerMessage::SnapshotFetch(reply) => Ok(reply.snapshot),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(reply: &ServerMessage) -> ClientError {
    ClientError::Server(crate::protocol::ErrorObject::new(
        crate::protocol::ErrorCode::MessageBadlyFormed,
        format!(
            "the server answered a history read with {:?}",
            reply.action()
        ),
    ))
}
