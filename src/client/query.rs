//! `Query`: a query's results as a client has them.

use futures::channel::oneshot;
use serde_json::Value;

use super::connection::{Connection, State};
use super::doc::Ack;
use super::{ClientError, ClientEvent, QueryChange};
use crate::protocol::{ClientMessage, ErrorObject, QueryData, QueryDiff, QueryReply, QueryRequest};

/// A query of a [`Connection`]: ShareDB's client `Query`.
///
/// Its results are document ids; the documents themselves are loaded into
/// the connection (see [`Connection::get`]). A subscribed query's results
/// change as documents start or stop matching, with a
/// [`ClientEvent::Query`] for each change.
#[derive(Clone)]
pub struct Query {
    connection: Connection,
    id: u64,
}

pub(crate) struct QueryState {
    collection: String,
    expression: Value,
    live: bool,
    /// Results the client had before subscribing (from a bundle).
    known: Option<Vec<(String, Option<u64>)>>,
    pub ids: Vec<String>,
    pub extra: Option<Value>,
    /// The first results arrived.
    pub ready: bool,
    /// The request went out on the current connection.
    pub sent: bool,
    /// The server refused the query: it is not pending, nor sent again.
    failed: Option<ClientError>,
    waiters: Vec<oneshot::Sender<Result<(), ClientError>>>,
}

impl QueryState {
    pub fn fail(&mut self, error: ClientError) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Err(error.clone()));
        }
        self.failed = Some(error);
    }

    /// Whether the query waits for its first results.
    pub fn is_pending(&self) -> bool {
        !self.ready && self.failed.is_none()
    }
}

impl State {
    pub fn add_query(
        &mut self,
        collection: &str,
        expression: Value,
        live: bool,
        known: Option<Vec<(String, Option<u64>)>>,
    ) -> u64 {
        let id = self.next_query_id;
        self.next_query_id += 1;
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
        self.send_query(id);
        id
    }

    /// Sends (or after a reconnect, resends) a query request.
    pub fn send_query(&mut self, id: u64) {
        let Some(query) = self.queries.get(&id) else {
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
                        let v = self
                            .docs
                            .get(&(query.collection.clone(), doc.clone()))
                            .and_then(|d| d.version);
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
        if self.send(message)
            && let Some(query) = self.queries.get_mut(&id)
        {
            query.sent = true;
        }
    }

    pub fn on_query_reply(&mut self, reply: QueryReply) {
        let Some(query) = self.queries.get(&reply.id) else {
            return;
        };
        let collection = query.collection.clone();
        let ids = match reply.data {
            QueryData::Results(results) => {
                let ids: Vec<String> = results.iter().map(|r| r.id.clone()).collect();
                for result in results {
                    self.ingest(&collection, &result.id, result.snapshot);
                }
                Some(ids)
            }
            QueryData::Snapshots(snapshots) => {
                for (id, snapshot) in snapshots {
                    self.ingest(&collection, &id, snapshot);
                }
                None
            }
            QueryData::None => None,
        };
        let Some(query) = self.queries.get_mut(&reply.id) else {
            return;
        };
        if let Some(ids) = ids {
            query.ids = ids.clone();
            query.extra = reply.extra;
            self.events.push(ClientEvent::Query {
                query: reply.id,
                change: QueryChange::Results { ids },
            });
        }
        let Some(query) = self.queries.get_mut(&reply.id) else {
            return;
        };
        query.ready = true;
        query.known = None;
        for waiter in query.waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
    }

    pub fn on_query_update(&mut self, id: u64, diff: Option<Vec<QueryDiff>>, extra: Option<Value>) {
        let Some(query) = self.queries.get(&id) else {
            return;
        };
        let collection = query.collection.clone();
        for step in diff.into_iter().flatten() {
            let change = match step {
                QueryDiff::Insert { index, values } => {
                    let ids: Vec<String> = values.iter().map(|r| r.id.clone()).collect();
                    for result in values {
                        self.ingest(&collection, &result.id, result.snapshot);
                    }
                    let Some(query) = self.queries.get_mut(&id) else {
                        return;
                    };
                    let at = index.min(query.ids.len());
                    query.ids.splice(at..at, ids.iter().cloned());
                    QueryChange::Insert { index: at, ids }
                }
                QueryDiff::Remove { index, how_many } => {
                    let Some(query) = self.queries.get_mut(&id) else {
                        return;
                    };
                    let start = index.min(query.ids.len());
                    let end = (start + how_many).min(query.ids.len());
                    let ids = query.ids.drain(start..end).collect();
                    QueryChange::Remove { index: start, ids }
                }
                QueryDiff::Move { from, to, how_many } => {
                    let Some(query) = self.queries.get_mut(&id) else {
                        return;
                    };
                    let start = from.min(query.ids.len());
                    let end = (start + how_many).min(query.ids.len());
                    let moved: Vec<String> = query.ids.drain(start..end).collect();
                    let at = to.min(query.ids.len());
                    query.ids.splice(at..at, moved);
                    QueryChange::Move { from, to, how_many }
                }
            };
            self.events.push(ClientEvent::Query { query: id, change });
        }
        if let Some(extra) = extra {
            let extra = (!extra.is_null()).then_some(extra);
            if let Some(query) = self.queries.get_mut(&id) {
                query.extra = extra.clone();
            }
            self.events.push(ClientEvent::Query {
                query: id,
                change: QueryChange::Extra(extra),
            });
        }
    }

    pub fn on_query_error(&mut self, id: u64, error: ErrorObject) {
        if let Some(query) = self.queries.get_mut(&id) {
            query.fail(ClientError::Server(error));
        }
    }
}

impl Query {
    pub(crate) fn new(connection: Connection, id: u64) -> Self {
        Self { connection, id }
    }

    /// The query's id on its connection (as in [`ClientEvent::Query`]).
    pub fn id(&self) -> u64 {
        self.id
    }

    fn with<R>(&self, f: impl FnOnce(Option<&mut QueryState>) -> R) -> R {
        self.connection
            .shared
            .with_state(|s| f(s.queries.get_mut(&self.id)))
    }

    /// The ids of the results, in order.
    pub fn ids(&self) -> Vec<String> {
        self.with(|q| q.map(|q| q.ids.clone()).unwrap_or_default())
    }

    /// The query's extra result (`$count`, …).
    pub fn extra(&self) -> Option<Value> {
        self.with(|q| q.and_then(|q| q.extra.clone()))
    }

    /// Whether the first results arrived.
    pub fn is_ready(&self) -> bool {
        self.with(|q| q.is_some_and(|q| q.ready))
    }

    /// Resolves when the first results have arrived.
    pub async fn ready(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.with(|q| match q {
            Some(q) if q.ready => {
                let _ = tx.send(Ok(()));
            }
            Some(q) => match &q.failed {
                Some(error) => {
                    let _ = tx.send(Err(error.clone()));
                }
                None => q.waiters.push(tx),
            },
            None => {
                let _ = tx.send(Err(ClientError::Closed));
            }
        });
        Ack::from_receiver(rx).await
    }

    /// Stops the subscription; the documents stay loaded.
    pub fn unsubscribe(&self) {
        self.connection.shared.with_state(|s| {
            if let Some(query) = s.queries.remove(&self.id)
                && query.live
            {
                s.send(ClientMessage::QueryUnsubscribe { id: self.id });
            }
        });
    }
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("id", &self.id)
            .field("ids", &self.ids())
            .finish()
    }
}
