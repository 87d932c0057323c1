//! Queries: fetched once, or live (subscribed), filtered by the read policy
//! in collections read document by document.
//!
//! This module owns the connection's query requests and the messages they send;
//! keeping a live query's results current is `live_query`'s, and matching and
//! paging are `query`'s.

use serde_json::Value;

use crate::backend::StoredSnapshot;
use crate::backend::access::{self, Reading};
use crate::backend::live_query::{LiveQuery, Update};
use crate::backend::middleware::{QueryContext, SnapshotKind};
use crate::backend::pubsub::{self};
use crate::backend::query::ParsedQuery;
use crate::list_diff::ArrayDiff;
use crate::protocol::{
    ErrorCode, ErrorObject, QueryData, QueryDiff, QueryReply, QueryRequest, QueryResult,
    ServerMessage,
};

use super::Agent;

/// What a query subscription starts with: its reply, and the messages to
/// send before it.
pub(super) struct QueryStart {
    pub(super) live: LiveQuery,
    pub(super) before: Vec<ServerMessage>,
    pub(super) reply: QueryReply,
}

/// The echo of a query update error: `{a: "q", id}`.
pub(super) fn query_echo(id: u64) -> serde_json::Map<String, Value> {
    let mut echo = serde_json::Map::new();
    echo.insert("a".into(), Value::from("q"));
    echo.insert("id".into(), Value::from(id));
    echo
}

impl Agent {
    /// Runs the `query` middleware and parses the (possibly rewritten) query.
    pub(super) async fn prepare_query(&self, r: &QueryRequest) -> Result<ParsedQuery, ErrorObject> {
        let mut expression = r.q.clone();
        for m in &self.shared.middleware {
            let mut ctx = QueryContext {
                agent: &self.info,
                collection: &r.c,
                query: &mut expression,
                options: r.options.as_ref(),
            };
            m.query(&mut ctx).await?;
        }
        ParsedQuery::parse(&expression)
            .map_err(|e| ErrorObject::new(e.code(), format!("Invalid query: {e}")))
    }

    /// Query results as sent to the client, through `read_snapshots`.
    pub(super) async fn results(
        &self,
        collection: &str,
        mut snapshots: Vec<StoredSnapshot>,
    ) -> Result<Vec<QueryResult>, ErrorObject> {
        let rejected = self
            .read_snapshots(collection, &mut snapshots, SnapshotKind::Current)
            .await?;
        if let Some((_, error)) = rejected.into_iter().next() {
            return Err(ErrorObject::new(
                ErrorCode::SnapshotReadsRejected,
                format!("Reading some results was rejected: {}", error.message),
            ));
        }
        Ok(snapshots
            .into_iter()
            .map(|s| QueryResult {
                id: s.id,
                snapshot: s.wire,
            })
            .collect())
    }

    pub(super) async fn query_fetch(&self, r: &QueryRequest) -> Result<QueryReply, ErrorObject> {
        let query = self.prepare_query(r).await?;
        let reading = self.query_reading(&r.c, &query).await?;
        let (data, extra) = self.run_query(&r.c, &query, reading).await?;
        Ok(QueryReply {
            id: r.id,
            data: QueryData::Results(data),
            extra,
        })
    }

    /// Runs a query on the database: the results as this client may see
    /// them, and the extra result.
    pub(super) async fn run_query(
        &self,
        collection: &str,
        query: &ParsedQuery,
        reading: Reading,
    ) -> Result<(Vec<QueryResult>, Option<Value>), ErrorObject> {
        let (snapshots, extra) = match reading {
            Reading::All => {
                let results = self
                    .shared
                    .db
                    .query(collection, query)
                    .await
                    .map_err(|e| e.to_client("query"))?;
                (results.snapshots, results.extra)
            }
            // Only what the connection may read, then paged: the others
            // take no place and count for nothing.
            Reading::PerDocument => {
                let results = self
                    .shared
                    .db
                    .query(collection, &query.unpaged())
                    .await
                    .map_err(|e| e.to_client("query"))?;
                let mut readable = Vec::with_capacity(results.snapshots.len());
                for snapshot in results.snapshots {
                    if access::doc_in(&self.shared, &self.info, collection, &snapshot.id).await {
                        readable.push(snapshot);
                    }
                }
                query.page(readable)
            }
        };
        Ok((self.results(collection, snapshots).await?, extra))
    }

    /// How this connection reads a queried collection; an error if the
    /// query cannot run as it may read it.
    pub(super) async fn query_reading(
        &self,
        collection: &str,
        query: &ParsedQuery,
    ) -> Result<Reading, ErrorObject> {
        let reading = access::collection(&self.shared, &self.info, collection).await?;
        if reading == Reading::PerDocument && query.has_result_options() {
            return Err(ErrorObject::new(
                ErrorCode::SnapshotReadsRejected,
                format!(
                    "This connection reads {collection} document by document: a query of it may \
                     filter, sort, skip, limit and $count, but not use other options"
                ),
            ));
        }
        Ok(reading)
    }

    /// A query subscribe: listen to the collection first, then read, so no
    /// op is missed. A read that fails subscribes to nothing.
    pub(super) async fn query_subscribe(
        &mut self,
        r: &QueryRequest,
    ) -> Result<QueryReply, ErrorObject> {
        let max = self.shared.options.limits.max_queries;
        if !self.queries.contains_key(&r.id) && self.queries.len() >= max {
            return Err(ErrorObject::new(
                ErrorCode::TooManyQueries,
                format!("A connection may have {max} live queries at most; unsubscribe some first"),
            ));
        }
        let query = self.prepare_query(r).await?;
        let reading = self.query_reading(&r.c, &query).await?;
        if let Some(previous) = self.queries.remove(&r.id) {
            self.shared.telemetry.live_queries.decrement(1);
            self.channels
                .release(&pubsub::collection_channel(&previous.collection));
        }
        let channel = pubsub::collection_channel(&r.c);
        self.retain(&channel).await?;
        let start = match &r.results {
            None => self.first_results(r, query, reading).await,
            Some(known) => self.resume_query(r, query, reading, known).await,
        };
        match start {
            Ok(start) => {
                self.queries.insert(r.id, start.live);
                self.shared.telemetry.live_queries.increment(1);
                self.outbox
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(start.before);
                Ok(start.reply)
            }
            Err(error) => {
                self.channels.release(&channel);
                Err(error)
            }
        }
    }

    /// A new query subscription's results.
    pub(super) async fn first_results(
        &self,
        r: &QueryRequest,
        query: ParsedQuery,
        reading: Reading,
    ) -> Result<QueryStart, ErrorObject> {
        let (data, extra) = self.run_query(&r.c, &query, reading).await?;
        let ids: Vec<String> = data.iter().map(|r| r.id.clone()).collect();
        Ok(QueryStart {
            live: LiveQuery {
                collection: r.c.clone(),
                query,
                reading,
                shared_as: shared_as(&r.q, reading),
                ids: ids.into(),
                members: Default::default(),
                extra: extra.clone(),
            },
            before: Vec::new(),
            reply: QueryReply {
                id: r.id,
                data: QueryData::Results(data),
                extra,
            },
        })
    }

    /// A query subscribe from a client that has results already (after a
    /// reconnect, or from a server-rendered page): catch its documents up,
    /// then send only the changes.
    pub(super) async fn resume_query(
        &self,
        r: &QueryRequest,
        query: ParsedQuery,
        reading: Reading,
        known: &[(String, Option<u64>)],
    ) -> Result<QueryStart, ErrorObject> {
        let mut before = Vec::new();
        let mut to_fetch = Vec::new();
        for (id, v) in known {
            // A result the client claims but may not read is not caught
            // up: the poll below takes it out, whatever it holds.
            if reading == Reading::PerDocument
                && !access::doc_in(&self.shared, &self.info, &r.c, id).await
            {
                continue;
            }
            match v {
                Some(v) => {
                    let doc = self.read_doc(&r.c, id, Some(*v)).await?;
                    before.extend(doc.ops.into_iter().map(ServerMessage::Op));
                }
                None => to_fetch.push(id.clone()),
            }
        }
        let data = if to_fetch.is_empty() {
            QueryData::None
        } else {
            let mut map = self
                .shared
                .db
                .get_snapshot_bulk(&r.c, &to_fetch)
                .await
                .map_err(|e| e.to_client("query"))?;
            let snapshots = to_fetch
                .iter()
                .map(|id| {
                    map.remove(id)
                        .unwrap_or_else(|| StoredSnapshot::never_created(id.as_str()))
                })
                .collect();
            QueryData::Snapshots(
                self.results(&r.c, snapshots)
                    .await?
                    .into_iter()
                    .map(|r| (r.id, r.snapshot))
                    .collect(),
            )
        };
        let mut live = LiveQuery {
            collection: r.c.clone(),
            query,
            reading,
            shared_as: shared_as(&r.q, reading),
            ids: std::sync::Arc::new(known.iter().map(|(id, _)| id.clone()).collect()),
            members: Default::default(),
            extra: None,
        };
        let update = live.poll(&self.shared, &self.info).await?;
        before.extend(self.update_messages(r.id, &r.c, update).await?);
        Ok(QueryStart {
            live,
            before,
            reply: QueryReply {
                id: r.id,
                data,
                extra: None,
            },
        })
    }

    /// The messages that tell the client of a live query's changes.
    pub(super) async fn update_messages(
        &self,
        id: u64,
        collection: &str,
        update: Update,
    ) -> Result<Vec<ServerMessage>, ErrorObject> {
        let mut messages = Vec::new();
        if !update.diff.is_empty() {
            let mut diff = Vec::with_capacity(update.diff.len());
            for step in update.diff {
                diff.push(match step {
                    ArrayDiff::Insert { index, values } => QueryDiff::Insert {
                        index,
                        values: self.results(collection, values).await?,
                    },
                    ArrayDiff::Remove { index, how_many } => QueryDiff::Remove { index, how_many },
                    ArrayDiff::Move { from, to, how_many } => {
                        QueryDiff::Move { from, to, how_many }
                    }
                });
            }
            messages.push(ServerMessage::QueryUpdate {
                id,
                diff: Some(diff),
                extra: None,
            });
        }
        if let Some(extra) = update.extra {
            messages.push(ServerMessage::QueryUpdate {
                id,
                diff: None,
                extra: Some(extra.unwrap_or(Value::Null)),
            });
        }
        Ok(messages)
    }
}

/// How subscribers of the same query find each other's evaluations: by
/// the expression's JSON text, unless the connection reads the collection
/// document by document.
fn shared_as(expression: &serde_json::Value, reading: Reading) -> Option<std::sync::Arc<str>> {
    (reading == Reading::All).then(|| std::sync::Arc::from(expression.to_string()))
}
