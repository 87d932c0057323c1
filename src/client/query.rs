//! `Query`: a handle on one query of a connection (ShareDB's client
//! `Query`). Its state lives in the connection (see `queries`).
//!
//! This module owns the handle only: it keeps nothing but the query's id, and
//! leaves the results and the wire to `queries`.

use serde_json::Value;

use super::ClientError;
use super::ack::Ack;
use super::connection::Connection;
use super::queries::QueryState;

/// A query of a [`Connection`]: ShareDB's client `Query`.
///
/// Its results are document ids; the documents themselves are loaded into
/// the connection (see [`Connection::get`]). A subscribed query's results
/// change as documents start or stop matching, with a
/// [`ClientEvent::Query`](super::ClientEvent::Query) for each change.
#[derive(Clone)]
pub struct Query {
    connection: Connection,
    id: u64,
}

impl Query {
    pub(crate) fn new(connection: Connection, id: u64) -> Self {
        Self { connection, id }
    }

    /// The query's id on its connection (as in [`ClientEvent::Query`](super::ClientEvent::Query)).
    pub fn id(&self) -> u64 {
        self.id
    }

    fn with<R>(&self, f: impl FnOnce(Option<&mut QueryState>) -> R) -> R {
        self.connection.shared.with_state(|s| f(s.query(self.id)))
    }

    /// The ids of the results, in order.
    pub fn ids(&self) -> Vec<String> {
        self.with(|q| q.map(|q| q.ids().to_vec()).unwrap_or_default())
    }

    /// The query's extra result (`$count`, …).
    pub fn extra(&self) -> Option<Value> {
        self.with(|q| q.and_then(|q| q.extra().cloned()))
    }

    /// Whether the first results arrived.
    pub fn is_ready(&self) -> bool {
        self.with(|q| q.is_some_and(|q| q.is_ready()))
    }

    /// Resolves when the first results have arrived.
    pub async fn ready(&self) -> Result<(), ClientError> {
        let (waiter, ack) = Ack::new();
        self.with(|q| match q {
            Some(q) => q.when_ready(waiter),
            None => {
                let _ = waiter.send(Err(ClientError::Closed));
            }
        });
        ack.await
    }

    /// Stops the subscription; the documents stay loaded.
    pub fn unsubscribe(&self) {
        self.connection
            .shared
            .with_state(|s| s.remove_query(self.id));
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
