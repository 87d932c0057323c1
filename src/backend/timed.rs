//! The database and pub/sub as the backend calls them: every call gives up
//! after its timeout ([`Limits::db_timeout`](super::Limits::db_timeout),
//! [`Limits::pubsub_timeout`](super::Limits::pubsub_timeout)), so one slow
//! call holds up one request, not the documents and connections behind it.
//!
//! This module owns the timeouts only; every call is passed through unchanged,
//! and retrying or telling the client is for the caller.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::StoredSnapshot;
use super::db::{Db, DbError, QueryResults};
use super::pubsub::{Mailbox, Message, PubSub, PubSubError, Subscription};
use super::query::ParsedQuery;
use crate::protocol::DocOp;

/// A [`Db`] whose calls time out.
pub(crate) struct TimedDb {
    pub db: Arc<dyn Db>,
    pub limit: Duration,
}

impl TimedDb {
    async fn within<T>(
        &self,
        call: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, DbError> {
        tokio::time::timeout(self.limit, call)
            .await
            .unwrap_or(Err(DbError::Timeout(self.limit)))
    }
}

#[async_trait]
impl Db for TimedDb {
    async fn commit(
        &self,
        collection: &str,
        id: &str,
        op: &Arc<DocOp>,
        snapshot: &mut StoredSnapshot,
    ) -> Result<bool, DbError> {
        self.within(self.db.commit(collection, id, op, snapshot))
            .await
    }

    async fn get_snapshot(&self, collection: &str, id: &str) -> Result<StoredSnapshot, DbError> {
        self.within(self.db.get_snapshot(collection, id)).await
    }

    async fn get_snapshot_bulk(
        &self,
        collection: &str,
        ids: &[String],
    ) -> Result<HashMap<String, StoredSnapshot>, DbError> {
        self.within(self.db.get_snapshot_bulk(collection, ids))
            .await
    }

    async fn get_ops(
        &self,
        collection: &str,
        id: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<DocOp>>, DbError> {
        self.within(self.db.get_ops(collection, id, from, to)).await
    }

    async fn committed_op_version(
        &self,
        collection: &str,
        id: &str,
        src: &str,
        seq: u64,
    ) -> Result<Option<u64>, DbError> {
        self.within(self.db.committed_op_version(collection, id, src, seq))
            .await
    }

    async fn query(&self, collection: &str, query: &ParsedQuery) -> Result<QueryResults, DbError> {
        self.within(self.db.query(collection, query)).await
    }

    async fn query_ids(
        &self,
        collection: &str,
        query: &ParsedQuery,
    ) -> Result<(Vec<String>, Option<Value>), DbError> {
        self.within(self.db.query_ids(collection, query)).await
    }

    async fn close(&self) {
        let _ = tokio::time::timeout(self.limit, self.db.close()).await;
    }
}

/// A [`PubSub`] whose calls time out.
pub(crate) struct TimedPubSub {
    pub pubsub: Arc<dyn PubSub>,
    pub limit: Duration,
}

impl TimedPubSub {
    async fn within<T>(
        &self,
        call: impl Future<Output = Result<T, PubSubError>>,
    ) -> Result<T, PubSubError> {
        tokio::time::timeout(self.limit, call)
            .await
            .unwrap_or_else(|_| {
                Err(PubSubError::new(format!(
                    "no answer within {:?}",
                    self.limit
                )))
            })
    }
}

#[async_trait]
impl PubSub for TimedPubSub {
    async fn subscribe(
        &self,
        channel: &str,
        mailbox: &Mailbox,
    ) -> Result<Subscription, PubSubError> {
        self.within(self.pubsub.subscribe(channel, mailbox)).await
    }

    async fn publish(&self, channels: &[String], message: Message) -> Result<(), PubSubError> {
        self.within(self.pubsub.publish(channels, message)).await
    }

    async fn close(&self) {
        let _ = tokio::time::timeout(self.limit, self.pubsub.close()).await;
    }
}
