//! The database and pub/sub as the backend calls them: every call gives up
//! after its timeout ([`Limits::db_timeout`](super::Limits::db_timeout),
//! [`Limits::pubsub_timeout`](super::Limits::pubsub_timeout)), so one slow
//! call holds up one request, not the documents and connections behind it.
//!
//! Every call is also a `debug` span (`db` or `pubsub`, with the call's
//! name and collection) and counts in the metrics (`telemetry`): its latency
//! and whether it failed.
//!
//! This module owns the timeouts and that observation only; every call is
//! passed through unchanged, and retrying or telling the client is for the
//! caller.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::FutureExt;
use serde_json::Value;
use tracing::Instrument;

use super::db::{Db, DbError, QueryResults};
use super::pubsub::{Mailbox, Message, PubSub, PubSubError, Subscription};
use super::query::ParsedQuery;
use super::{StoredSnapshot, telemetry};
use crate::protocol::DocOp;

/// A [`Db`] whose calls time out.
pub(crate) struct TimedDb {
    pub db: Arc<dyn Db>,
    pub limit: Duration,
}

impl TimedDb {
    async fn within<T>(
        &self,
        name: &'static str,
        collection: &str,
        call: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, DbError> {
        let span = tracing::debug_span!("db", call = name, %collection);
        let call = tokio::time::timeout(self.limit, call)
            .map(|r| r.unwrap_or(Err(DbError::Timeout(self.limit))));
        observed(telemetry::DB_SECONDS, telemetry::DB_ERRORS, name, call)
            .instrument(span)
            .await
    }
}

/// Runs `call`, recording its latency and whether it failed.
async fn observed<T, E: std::fmt::Display>(
    seconds: &'static str,
    errors: &'static str,
    name: &'static str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = call.await;
    let took = started.elapsed();
    telemetry::called(seconds, errors, name, took, result.is_ok());
    match &result {
        Ok(_) => tracing::trace!(?took, "done"),
        Err(e) => tracing::debug!(?took, "failed: {e}"),
    }
    result
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
        self.within(
            "commit",
            collection,
            self.db.commit(collection, id, op, snapshot),
        )
        .await
    }

    async fn get_snapshot(&self, collection: &str, id: &str) -> Result<StoredSnapshot, DbError> {
        self.within(
            "get_snapshot",
            collection,
            self.db.get_snapshot(collection, id),
        )
        .await
    }

    async fn get_snapshot_bulk(
        &self,
        collection: &str,
        ids: &[String],
    ) -> Result<HashMap<String, StoredSnapshot>, DbError> {
        self.within(
            "get_snapshot_bulk",
            collection,
            self.db.get_snapshot_bulk(collection, ids),
        )
        .await
    }

    async fn get_ops(
        &self,
        collection: &str,
        id: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<DocOp>>, DbError> {
        self.within(
            "get_ops",
            collection,
            self.db.get_ops(collection, id, from, to),
        )
        .await
    }

    async fn committed_op_version(
        &self,
        collection: &str,
        id: &str,
        src: &str,
        seq: u64,
    ) -> Result<Option<u64>, DbError> {
        self.within(
            "committed_op_version",
            collection,
            self.db.committed_op_version(collection, id, src, seq),
        )
        .await
    }

    async fn query(&self, collection: &str, query: &ParsedQuery) -> Result<QueryResults, DbError> {
        self.within("query", collection, self.db.query(collection, query))
            .await
    }

    async fn query_ids(
        &self,
        collection: &str,
        query: &ParsedQuery,
    ) -> Result<(Vec<String>, Option<Value>), DbError> {
        self.within(
            "query_ids",
            collection,
            self.db.query_ids(collection, query),
        )
        .await
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
        name: &'static str,
        call: impl Future<Output = Result<T, PubSubError>>,
    ) -> Result<T, PubSubError> {
        let limit = self.limit;
        let call = tokio::time::timeout(limit, call).map(move |r| {
            r.unwrap_or_else(|_| Err(PubSubError::new(format!("no answer within {limit:?}"))))
        });
        let span = tracing::debug_span!("pubsub", call = name);
        observed(
            telemetry::PUBSUB_SECONDS,
            telemetry::PUBSUB_ERRORS,
            name,
            call,
        )
        .instrument(span)
        .await
    }
}

#[async_trait]
impl PubSub for TimedPubSub {
    async fn subscribe(
        &self,
        channel: &str,
        mailbox: &Mailbox,
    ) -> Result<Subscription, PubSubError> {
        self.within("subscribe", self.pubsub.subscribe(channel, mailbox))
            .await
    }

    async fn publish(&self, channels: &[String], message: Message) -> Result<(), PubSubError> {
        self.within("publish", self.pubsub.publish(channels, message))
            .await
    }

    async fn close(&self) {
        let _ = tokio::time::timeout(self.limit, self.pubsub.close()).await;
    }
}
