//! The queries of a connection: each one's request and its results (ids,
//! in order), kept up to date by the server's diffs.
//!
//! The documents a query returns are the connection's documents: the
//! caller puts their snapshots into [`Docs`] before handing the ids here.
//! This module reads the documents' versions to resume a query, and sends
//! through the [`Link`].
//!
//! While offline it also answers live queries from the documents the
//! connection holds (with the same matcher as the server, `crate::query`),
//! so what is created or edited offline joins or leaves their results.
//!
//! This module owns the queries' state and requests only; it never changes a
//! document.

use std::collections::HashMap;

use serde_json::Value;

use super::ack::{Waiter, resolve};
use super::docs::Docs;
use super::link::Link;
use super::offline::KeptQuery;
use super::{ClientError, ClientEvent, QueryChange};
use crate::protocol::{ClientMessage, QueryRequest};
use crate::query::ParsedQuery;

/// One query.
pub(crate) struct QueryState {
    collection: String,
    expression: Value,
    live: bool,
    /// Results the client had before subscribing (from a bundle).
    known: Option<Vec<(String, Option<u64>)>>,
    ids: Vec<String>,
    extra: Option<Value>,
    /// The first results arrived.
    ready: bool,
    /// The request went out on the current connection.
    sent: bool,
    /// The server refused the query: it is not pending, nor sent again.
    failed: Option<ClientError>,
    waiters: Vec<Waiter>,
}

impl QueryState {
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The ids of the results, in order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The extra result (`$count`, …).
    pub fn extra(&self) -> Option<&Value> {
        self.extra.as_ref()
    }

    /// Whether the first results arrived.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Answers `waiter` once the first results are in (at once if they
    /// are, or if the query failed).
    pub fn when_ready(&mut self, waiter: Waiter) {
        if self.ready {
            let _ = waiter.send(Ok(()));
        } else if let Some(error) = &self.failed {
            let _ = waiter.send(Err(error.clone()));
        } else {
            self.waiters.push(waiter);
        }
    }

    fn fail(&mut self, error: ClientError) {
        resolve(self.waiters.drain(..), Err(error.clone()));
        self.failed = Some(error);
    }

    /// Whether the query waits for its first results.
    fn is_pending(&self) -> bool {
        !self.ready && self.failed.is_none()
    }
}

/// A change to a query's results, its documents already taken in.
pub(crate) enum ResultsChange {
    Insert {
        index: usize,
        ids: Vec<String>,
    },
    Remove {
        index: usize,
        how_many: usize,
    },
    Move {
        from: usize,
        to: usize,
        how_many: usize,
    },
}

/// A connection's queries, by the id it gave them.
pub(crate) struct Queries {
    queries: HashMap<u64, QueryState>,
    next_id: u64,
}

impl Default for Queries {
    fn default() -> Self {
        Self {
            queries: HashMap::new(),
            next_id: 1,
        }
    }
}

impl Queries {
    pub fn get_mut(&mut self, id: u64) -> Option<&mut QueryState> {
        self.queries.get_mut(&id)
    }

    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// Whether any query waits for its first results.
    pub fn has_pending(&self) -> bool {
        self.queries.values().any(QueryState::is_pending)
    }

    /// Adds a query and sends it; its id.
    pub fn add(
        &mut self,
        collection: &str,
        expression: Value,
        live: bool,
        known: Option<Vec<(String, Option<u64>)>>,
        docs: &Docs,
        link: &Link,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let ids = known
            .as_ref()
            .map(|k| k.iter().map(|(id, _)| id.clone()).collect())
            .unwrap_or_default();
        self.queries.insert(
            id,
            QueryState {
                collection: collection.to_owned(),
                expression,
                live,
                known,
                ids,
                extra: None,
                ready: false,
                sent: false,
                failed: None,
                waiters: Vec::new(),
            },
        );
        self.send(id, docs, link);
        id
    }

    /// Drops a query, telling the server if it was live.
    pub fn remove(&mut self, id: u64, link: &Link) {
        if let Some(query) = self.queries.remove(&id)
            && query.live
        {
            link.send(ClientMessage::QueryUnsubscribe { id });
        }
    }

    /// After a handshake: sends every query again.
    pub fn resume(&mut self, docs: &Docs, link: &Link) {
        let ids: Vec<u64> = self.queries.keys().copied().collect();
        for id in ids {
            self.send(id, docs, link);
        }
    }

    /// The transport went away (or, with `closed`, the connection closed
    /// for good: every waiter fails).
    pub fn on_disconnect(&mut self, closed: bool) {
        for query in self.queries.values_mut() {
            query.sent = false;
            if closed {
                query.fail(ClientError::Closed);
            }
        }
    }

    /// Sends (or after a reconnect, resends) a query request.
    fn send(&mut self, id: u64, docs: &Docs, link: &Link) {
        let Some(query) = self.queries.get_mut(&id) else {
            return;
        };
        if query.sent || query.failed.is_some() || (!query.live && query.ready) {
            return;
        }
        // A live query resumes from the results it has: from its bundle
        // first, then from what the server sent.
        let results = if query.ready {
            Some(
                query
                    .ids
                    .iter()
                    .map(|doc| {
                        let v = docs.get(&query.collection, doc).and_then(|d| d.version());
                        (doc.clone(), v)
                    })
                    .collect(),
            )
        } else {
            query.known.clone()
        };
        let request = QueryRequest {
            id,
            c: query.collection.clone(),
            q: query.expression.clone(),
            options: None,
            results: results.filter(|_| query.live),
        };
        let message = if query.live {
            ClientMessage::QuerySubscribe(request)
        } else {
            ClientMessage::QueryFetch(request)
        };
        if link.send(message) {
            query.sent = true;
        }
    }

    /// A query's results arrived (`ids`: `None` when the reply only
    /// brought snapshots): it is ready.
    pub fn on_results(
        &mut self,
        id: u64,
        ids: Option<Vec<String>>,
        extra: Option<Value>,
        events: &mut Vec<ClientEvent>,
    ) {
        let Some(query) = self.queries.get_mut(&id) else {
            return;
        };
        if let Some(ids) = ids {
            query.ids = ids.clone();
            query.extra = extra;
            events.push(ClientEvent::Query {
                query: id,
                change: QueryChange::Results { ids },
            });
        }
        query.ready = true;
        query.known = None;
        resolve(query.waiters.drain(..), Ok(()));
    }

    /// Applies one step of a live query's diff; `false` if the query is
    /// gone.
    pub fn on_change(
        &mut self,
        id: u64,
        change: ResultsChange,
        events: &mut Vec<ClientEvent>,
    ) -> bool {
        let Some(query) = self.queries.get_mut(&id) else {
            return false;
        };
        let change = match change {
            ResultsChange::Insert { index, ids } => {
                let at = index.min(query.ids.len());
                query.ids.splice(at..at, ids.iter().cloned());
                QueryChange::Insert { index: at, ids }
            }
            ResultsChange::Remove { index, how_many } => {
                let start = index.min(query.ids.len());
                let end = (start + how_many).min(query.ids.len());
                let ids = query.ids.drain(start..end).collect();
                QueryChange::Remove { index: start, ids }
            }
            ResultsChange::Move { from, to, how_many } => {
                let start = from.min(query.ids.len());
                let end = (start + how_many).min(query.ids.len());
                let moved: Vec<String> = query.ids.drain(start..end).collect();
                let at = to.min(query.ids.len());
                query.ids.splice(at..at, moved);
                QueryChange::Move { from, to, how_many }
            }
        };
        events.push(ClientEvent::Query { query: id, change });
        true
    }

    /// A live query's extra result changed (`null`: it has none now).
    pub fn on_extra(&mut self, id: u64, extra: Value, events: &mut Vec<ClientEvent>) {
        let extra = (!extra.is_null()).then_some(extra);
        if let Some(query) = self.queries.get_mut(&id) {
            query.extra = extra.clone();
        }
        events.push(ClientEvent::Query {
            query: id,
            change: QueryChange::Extra(extra),
        });
    }

    /// While offline: answers the live queries on `collection` from the
    /// documents the connection holds, as the server would. A query that
    /// pages (`$skip`/`$limit`: the client may not hold the pages before)
    /// or that only the database can run keeps its results until the
    /// server answers again.
    pub fn answer_offline(&mut self, collection: &str, docs: &Docs, events: &mut Vec<ClientEvent>) {
        let mut held = None;
        for (id, query) in self.queries.iter_mut() {
            // Answered before, or known from the page's bundle.
            let has_results = query.ready || query.known.is_some();
            if !query.live || !has_results || query.collection != collection {
                continue;
            }
            let Ok(parsed) = ParsedQuery::parse(&query.expression) else {
                continue;
            };
            let paged = parsed.skip().is_some() || parsed.limit().is_some();
            if !parsed.is_portable() || paged {
                continue;
            }
            let held = held.get_or_insert_with(|| docs.collection(collection));
            let outcome = parsed.run(held.iter().map(|(id, data)| (id.as_str(), data)));
            if parsed.is_count() {
                if outcome.extra != query.extra {
                    query.extra.clone_from(&outcome.extra);
                    let change = QueryChange::Extra(outcome.extra);
                    events.push(ClientEvent::Query { query: *id, change });
                }
            } else if outcome.ids != query.ids {
                query.ids.clone_from(&outcome.ids);
                let change = QueryChange::Results { ids: outcome.ids };
                events.push(ClientEvent::Query { query: *id, change });
            }
        }
    }

    /// The live queries' results, for an offline store.
    pub fn kept(&self) -> Vec<KeptQuery> {
        let mut kept: Vec<KeptQuery> = (self.queries.values())
            .filter(|q| q.live && (q.ready || q.known.is_some()))
            .map(|q| KeptQuery {
                c: q.collection.clone(),
                q: q.expression.clone(),
                ids: q.ids.clone(),
                extra: q.extra.clone(),
            })
            .collect();
        kept.sort_by_cached_key(|k| (k.c.clone(), k.q.to_string()));
        kept
    }

    /// Takes results a closed page kept for a query this connection has
    /// but the server has not answered yet (a page opened offline).
    pub fn take_kept(&mut self, kept: KeptQuery, events: &mut Vec<ClientEvent>) {
        let found = (self.queries.iter_mut())
            .find(|(_, q)| q.live && !q.ready && q.collection == kept.c && q.expression == kept.q);
        let Some((id, query)) = found else {
            return;
        };
        if query.ids != kept.ids {
            query.ids.clone_from(&kept.ids);
            let change = QueryChange::Results { ids: kept.ids };
            events.push(ClientEvent::Query { query: *id, change });
        }
        if query.extra != kept.extra {
            query.extra.clone_from(&kept.extra);
            let change = QueryChange::Extra(kept.extra);
            events.push(ClientEvent::Query { query: *id, change });
        }
    }

    /// The server refused a query.
    pub fn on_error(&mut self, id: u64, error: ClientError) {
        if let Some(query) = self.queries.get_mut(&id) {
            query.fail(error);
        }
    }
}
