//! Storage: the [`Db`] trait and its implementations.
//!
//! A `Db` keeps, per document, the latest [`StoredSnapshot`] and the journal of
//! every op that led to it. The backend reads snapshots and ops from it and
//! commits each op together with the snapshot it produces; the commit is
//! version-checked, so several servers sharing one database never both
//! commit version N of a document.

mod memory;
#[cfg(feature = "mongodb")]
mod mongo;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

pub use memory::MemoryDb;
#[cfg(feature = "mongodb")]
pub use mongo::{MongoDb, MongoDbOptions, MongoMilestoneDb};

use super::StoredSnapshot;
use super::query::{ParsedQuery, QueryError};
use crate::protocol::{DocOp, ErrorCode, ErrorObject};

/// An error from below (a database driver, a network), kept as the source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The database could not be reached or refused the request.
    #[error("database error: {context}: {source}")]
    Backend {
        /// What was being done (`"MongoDB find"`).
        context: String,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// What is stored cannot be read back (a corrupt or foreign record).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The request cannot be served as configured (e.g. a malformed
    /// connection URL).
    #[error("{0}")]
    Invalid(String),
    /// The collection name is one the database keeps for itself.
    #[error(
        "collection name {0:?} is reserved: MongoDB keeps `system` and ShareDB's op \
         journals are named `o_<collection>`; use another name"
    )]
    ReservedCollection(String),
    /// A query this database refuses or cannot evaluate; the client is
    /// told why.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The database did not answer in time
    /// ([`Limits::db_timeout`](crate::backend::Limits::db_timeout)).
    #[error("the database did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

impl DbError {
    /// A driver's error, with what was being done.
    pub fn backend(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            context: context.into(),
            source: source.into(),
        }
    }

    /// The error as the client sees it: the request's own mistakes (a
    /// reserved collection, a refused query) with their codes and reasons,
    /// anything else as a brief internal error (details are logged, never
    /// sent).
    pub fn to_client(&self, during: &str) -> ErrorObject {
        match self {
            // sharedb-mongo's code for an invalid collection name.
            Self::ReservedCollection(_) => {
                ErrorObject::new(ErrorCode::Numeric(4102), self.to_string())
            }
            Self::Query(e) => ErrorObject::new(e.code(), e.to_string()),
            Self::Timeout(_) => {
                tracing::warn!("{during} failed: {self}");
                ErrorObject::new(ErrorCode::Timeout, format!("{self} (during {during})"))
            }
            Self::Backend { .. } | Self::Corrupt(_) | Self::Invalid(_) => {
                tracing::error!("{during} failed: {self}");
                ErrorObject::unknown(format!("Internal error during {during}"))
            }
        }
    }
}

/// The results of a query: documents in result order, and any extra
/// value the query computes (`$count`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryResults {
    /// Matching documents, in order.
    pub snapshots: Vec<StoredSnapshot>,
    /// The query's extra result, e.g. the number of matches for `$count`.
    pub extra: Option<Value>,
}

/// Storage of snapshots and op journals.
///
/// Methods take a collection name and document ids. Reads of a document
/// that was never created return a [`StoredSnapshot::never_created`].
#[async_trait]
pub trait Db: Send + Sync + 'static {
    /// Stores `op` (which applies at version `op.v`) and `snapshot` (at
    /// version `op.v + 1`), atomically with respect to other commits, but
    /// only if the stored document is still at version `op.v`. Returns
    /// `Ok(false)` when another commit got there first.
    ///
    /// On success `snapshot` must be what the database now holds: a
    /// database that manages fields of its own updates them (sharedb-mongo's
    /// link to the newest op, [`StoredSnapshot::op_link`]). The backend keeps that
    /// copy for the document's next submit instead of reading it back.
    async fn commit(
        &self,
        collection: &str,
        id: &str,
        op: &Arc<DocOp>,
        snapshot: &mut StoredSnapshot,
    ) -> Result<bool, DbError>;

    /// The latest snapshot of a document, with its metadata.
    async fn get_snapshot(&self, collection: &str, id: &str) -> Result<StoredSnapshot, DbError>;

    /// The latest snapshots of several documents, by id.
    async fn get_snapshot_bulk(
        &self,
        collection: &str,
        ids: &[String],
    ) -> Result<HashMap<String, StoredSnapshot>, DbError> {
        let mut map = HashMap::with_capacity(ids.len());
        for id in ids {
            map.insert(id.clone(), self.get_snapshot(collection, id).await?);
        }
        Ok(map)
    }

    /// The committed ops with versions in `from..to` (`to: None`: up to the
    /// latest), in version order.
    async fn get_ops(
        &self,
        collection: &str,
        id: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<DocOp>>, DbError>;

    /// The version at which the op with this `src` and `seq` was committed
    /// to the document, or `None` if it never was. The submit pipeline asks
    /// when a create arrives for a document that exists without `_create`
    /// metadata (written by older ShareDB or other tools), to tell a
    /// resent create from a second one. The default searches the journal.
    async fn committed_op_version(
        &self,
        collection: &str,
        id: &str,
        src: &str,
        seq: u64,
    ) -> Result<Option<u64>, DbError> {
        Ok(self
            .get_ops(collection, id, 0, None)
            .await?
            .iter()
            .find(|op| op.src.as_deref() == Some(src) && op.seq == Some(seq))
            .map(|op| op.v))
    }

    /// Runs a query; deleted documents never match.
    ///
    /// The results carry the documents' ids and wire snapshots only: no
    /// metadata (`m`) and no op link, as sharedb-mongo's default projection
    /// (`{_m: 0, _o: 0}`) leaves them out. Clients never see either, and a
    /// page's query skips copying them.
    async fn query(&self, collection: &str, query: &ParsedQuery) -> Result<QueryResults, DbError>;

    /// The ids a query matches, in order, and its extra value. Live queries
    /// call this to see what changed; databases can answer without loading
    /// whole documents.
    async fn query_ids(
        &self,
        collection: &str,
        query: &ParsedQuery,
    ) -> Result<(Vec<String>, Option<Value>), DbError> {
        let results = self.query(collection, query).await?;
        Ok((
            results.snapshots.into_iter().map(|s| s.id).collect(),
            results.extra,
        ))
    }

    /// Releases connections. The default does nothing.
    async fn close(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn errors_keep_their_sources() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let db = DbError::backend("MongoDB find", io);
        assert_eq!(db.to_string(), "database error: MongoDB find: refused");
        assert_eq!(db.source().unwrap().to_string(), "refused");
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let pubsub = crate::backend::PubSubError::with_source("Redis publish", io);
        assert_eq!(pubsub.source().unwrap().to_string(), "reset");
        assert!(
            crate::backend::PubSubError::new("closed")
                .source()
                .is_none()
        );
    }
}
