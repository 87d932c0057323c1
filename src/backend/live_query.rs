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
//! Subscribers of the same query share the work: how an op changed the
//! results is worked out once per op (see `evaluations`), and each
//! subscriber only diffs its own results against it, in linear time.
//!
//! This module owns one query's current results and how ops change them; it
//! sends nothing and listens to nothing: the agent (`queries`, `delivery`)
//! subscribes to the collection and turns each update into messages.

use std::sync::Arc;

use serde_json::Value;

use super::access::{self, Reading};
use super::evaluations::{Diffs, Evaluation, Key, Members};
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
    /// The expression as JSON text, by which subscribers of the same query
    /// share its evaluations; `None` when the connection reads document by
    /// document (its answers are its own).
    pub shared_as: Option<Arc<str>>,
    /// The current results, in order: shared with the other subscribers
    /// of the query while they agree (see `evaluations`).
    pub ids: Arc<Vec<String>>,
    /// `ids` as a set (shared along with them), for [`LiveQuery::holds`].
    pub members: Members,
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
            self.poll_after(shared, agent, op).await
        }
    }

    /// Whether `id` is one of the results.
    pub fn holds(&self, id: &str) -> bool {
        // A short list is scanned; a long one is looked up, in a set the
        // subscribers holding the same list build once between them.
        if self.ids.len() <= 16 {
            return self.ids.iter().any(|r| r == id);
        }
        (self.members)
            .get_or_init(|| self.ids.iter().cloned().collect())
            .contains(id)
    }

    /// The shared answer's key for `op`, if this query shares.
    fn key(&self, op: &DocOp) -> Option<Key> {
        Some(Key {
            collection: self.collection.clone(),
            query: self.shared_as.clone()?,
            doc: op.d.clone(),
            version: op.v,
        })
    }

    /// Works out `run`, or takes another subscriber's answer for this op.
    async fn evaluate<F>(
        &self,
        shared: &Shared,
        op: &DocOp,
        run: impl FnOnce() -> F,
    ) -> Result<Evaluation, ErrorObject>
    where
        F: std::future::Future<Output = Result<Evaluation, ErrorObject>>,
    {
        match self.key(op) {
            Some(key) => shared.evaluations.get_or_run(key, run).await,
            None => run().await,
        }
    }

    /// Polls after `op`, with the answer shared by the query's subscribers.
    async fn poll_after(
        &mut self,
        shared: &Shared,
        agent: &AgentInfo,
        op: &DocOp,
    ) -> Result<Update, ErrorObject> {
        let evaluation = self
            .evaluate(shared, op, || async {
                let (ids, extra) = self.results(shared, agent).await?;
                Ok(Evaluation::results(ids, extra))
            })
            .await?;
        match evaluation {
            Evaluation::Results {
                ids,
                extra,
                diffs,
                members,
            } => {
                let update = self.apply_results(shared, ids, extra, Some(&diffs)).await?;
                self.members = members;
                Ok(update)
            }
            Evaluation::Doc { .. } => self.poll(shared, agent).await,
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
        let evaluation = self
            .evaluate(shared, op, || async {
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
                Ok(Evaluation::Doc {
                    snapshot: snapshot.map(Arc::new),
                    matches,
                })
            })
            .await?;
        let Evaluation::Doc { snapshot, matches } = evaluation else {
            return Ok(Update::default());
        };
        let position = self.ids.iter().position(|id| *id == op.d);
        let mut update = Update::default();
        match (position, snapshot) {
            (None, Some(snapshot)) if matches => {
                Arc::make_mut(&mut self.ids).push(op.d.clone());
                self.members = Members::default();
                update.diff.push(ArrayDiff::Insert {
                    index: self.ids.len() - 1,
                    values: vec![Arc::unwrap_or_clone(snapshot)],
                });
            }
            (Some(index), _) if !matches => {
                Arc::make_mut(&mut self.ids).remove(index);
                self.members = Members::default();
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
        self.apply_results(shared, Arc::new(ids), extra, None).await
    }

    /// Makes `ids` and `extra` the results; what changed. `diffs`: the
    /// diffs other subscribers already worked out to the same `ids`.
    async fn apply_results(
        &mut self,
        shared: &Shared,
        ids: Arc<Vec<String>>,
        extra: Option<Value>,
        diffs: Option<&Diffs>,
    ) -> Result<Update, ErrorObject> {
        let mut update = Update::default();
        if extra != self.extra {
            self.extra = extra.clone();
            update.extra = Some(extra);
        }
        if Arc::ptr_eq(&self.ids, &ids) {
            return Ok(update);
        }
        let steps = match diffs {
            Some(diffs) => diffs.from(&self.ids, &ids),
            None => Arc::new(list_diff::diff_hashed(&self.ids, &ids)),
        };
        self.members = Members::default();
        if steps.is_empty() {
            self.ids = ids;
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
            .iter()
            .map(|step| match step {
                ArrayDiff::Insert { index, values } => ArrayDiff::Insert {
                    index: *index,
                    values: values
                        .iter()
                        .map(|id| {
                            snapshots
                                .remove(id)
                                .unwrap_or_else(|| StoredSnapshot::never_created(id.as_str()))
                        })
                        .collect(),
                },
                ArrayDiff::Remove { index, how_many } => ArrayDiff::Remove {
                    index: *index,
                    how_many: *how_many,
                },
                ArrayDiff::Move { from, to, how_many } => ArrayDiff::Move {
                    from: *from,
                    to: *to,
                    how_many: *how_many,
                },
            })
            .collect();
        self.ids = ids;
        Ok(update)
    }
}
