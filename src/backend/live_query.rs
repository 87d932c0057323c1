//! Live queries: a subscribed query's results kept up to date as ops are
//! committed (ShareDB's query emitter).
//!
//! Every op committed in the query's collection reaches the subscription.
//! When the op cannot change the results (it touches no field the query
//! looks at) nothing is done. When the changed document alone decides
//! whether it matches (no sort, skip, limit or count), the document is
//! matched in memory. Otherwise the query is polled again and the new id
//! list diffed against the old one.
//!
//! In a collection the connection reads document by document (see
//! `access`), the query runs without its paging, the results it may not
//! read are dropped, and then it is paged: documents it may not read take
//! no place in its results, its positions or its counts.
//!
//! This module owns one query's current results and how ops change them; it
//! sends nothing and listens to nothing: the agent (`queries`, `delivery`)
//! subscribes to the collection and turns each update into messages.

use serde_json::Value;

use super::access::{self, Reading};
use super::middleware::AgentInfo;
use super::query::ParsedQuery;
use super::{Shared, StoredSnapshot};
use crate::list_diff::{self, ArrayDiff};
use crate::protocol::{DocOp, ErrorObject, OpKind};

/// One subscribed query of a connection.
#[derive(Debug)]
pub(crate) struct LiveQuery {
    pub collection: String,
    /// The query as the client asked it.
    pub query: ParsedQuery,
    /// How the connection reads the collection.
    pub reading: Reading,
    /// The current results, in order.
    pub ids: Vec<String>,
    pub extra: Option<Value>,
}

/// What an op changed in a query's results.
#[derive(Debug, Default)]
pub(crate) struct Update {
    /// Changes to the result list; inserted documents come with snapshots.
    pub diff: Vec<ArrayDiff<StoredSnapshot>>,
    /// The new extra, when it changed.
    pub extra: Option<Option<Value>>,
}

impl LiveQuery {
    /// Brings the results up to date after `op`. An op on a document the
    /// connection may not read changes nothing it sees.
    pub async fn update(
        &mut self,
        shared: &Shared,
        agent: &AgentInfo,
        op: &DocOp,
    ) -> Result<Update, ErrorObject> {
        if self.query.skip_poll(&op.kind) {
            return Ok(Update::default());
        }
        if self.reading == Reading::PerDocument
            && !access::doc_in(shared, agent, &self.collection, &op.d).await
        {
            return Ok(Update::default());
        }
        if self.query.can_poll_doc() {
            self.update_doc(shared, op).await
        } else {
            self.poll(shared, agent).await
        }
    }

    /// The query's results now: ids in order, and the extra.
    pub async fn results(
        &self,
        shared: &Shared,
        agent: &AgentInfo,
    ) -> Result<(Vec<String>, Option<Value>), ErrorObject> {
        if self.reading == Reading::All {
            return shared
                .db
                .query_ids(&self.collection, &self.query)
                .await
                .map_err(|e| e.to_client("query poll"));
        }
        let (ids, _) = shared
            .db
            .query_ids(&self.collection, &self.query.unpaged())
            .await
            .map_err(|e| e.to_client("query poll"))?;
        let ids = access::readable(shared, agent, &self.collection, ids).await;
        Ok(self.query.page(ids))
    }

    async fn update_doc(&mut self, shared: &Shared, op: &DocOp) -> Result<Update, ErrorObject> {
        let position = self.ids.iter().position(|id| *id == op.d);
        let snapshot = if matches!(op.kind, OpKind::Delete) {
            None
        } else {
            Some(
                shared
                    .db
                    .get_snapshot(&self.collection, &op.d)
                    .await
                    .map_err(|e| e.to_client("query update"))?,
            )
        };
        let matches = snapshot.as_ref().is_some_and(|s| {
            s.exists()
                && s.data
                    .as_ref()
                    .is_some_and(|data| self.query.matches(&s.id, data))
        });
        let mut update = Update::default();
        match (position, snapshot) {
            (None, Some(snapshot)) if matches => {
                self.ids.push(op.d.clone());
                update.diff.push(ArrayDiff::Insert {
                    index: self.ids.len() - 1,
                    values: vec![snapshot],
                });
            }
            (Some(index), _) if !matches => {
                self.ids.remove(index);
                update.diff.push(ArrayDiff::Remove { index, how_many: 1 });
            }
            _ => {}
        }
        Ok(update)
    }

    /// Runs the query again and diffs the results.
    pub async fn poll(
        &mut self,
        shared: &Shared,
        agent: &AgentInfo,
    ) -> Result<Update, ErrorObject> {
        let (ids, extra) = self.results(shared, agent).await?;
        let mut update = Update::default();
        if extra != self.extra {
            self.extra = extra.clone();
            update.extra = Some(extra);
        }
        let steps = list_diff::diff(&self.ids, &ids, |a, b| a == b);
        if steps.is_empty() {
            return Ok(update);
        }
        let inserted: Vec<String> = steps
            .iter()
            .filter_map(|step| match step {
                ArrayDiff::Insert { values, .. } => Some(values.iter().cloned()),
                _ => None,
            })
            .flatten()
            .collect();
        let mut snapshots = if inserted.is_empty() {
            Default::default()
        } else {
            shared
                .db
                .get_snapshot_bulk(&self.collection, &inserted)
                .await
                .map_err(|e| e.to_client("query poll"))?
        };
        update.diff = steps
            .into_iter()
            .map(|step| match step {
                ArrayDiff::Insert { index, values } => ArrayDiff::Insert {
                    index,
                    values: values
                        .iter()
                        .map(|id| {
                            snapshots
                                .remove(id)
                                .unwrap_or_else(|| StoredSnapshot::never_created(id.as_str()))
                        })
                        .collect(),
                },
                ArrayDiff::Remove { index, how_many } => ArrayDiff::Remove { index, how_many },
                ArrayDiff::Move { from, to, how_many } => ArrayDiff::Move { from, to, how_many },
            })
            .collect();
        self.ids = ids;
        Ok(update)
    }
}
