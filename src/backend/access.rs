//! The read policy, asked once and enforced everywhere: what the
//! `authorize_*` hooks of [`Middleware`](super::Middleware) allow a
//! connection to read.
//!
//! Every answer comes from the connection and the names (collection,
//! document id, presence channel) alone, never from what is stored, and
//! every request asks before it looks at anything stored: so what a
//! connection may not read cannot shape what it is sent (an error, a
//! version, a query's results, positions or counts, presence).

use super::Shared;
use super::middleware::{AgentInfo, CollectionAccess};
use crate::protocol::ErrorObject;

/// How a connection reads a collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// All of it.
    All,
    /// Only the documents each hook allows: queries are filtered.
    PerDocument,
}

/// How `agent` may read `collection`; an error if not at all.
pub(crate) async fn collection(
    shared: &Shared,
    agent: &AgentInfo,
    collection: &str,
) -> Result<Reading, ErrorObject> {
    let mut reading = Reading::All;
    for m in &shared.middleware {
        match m.authorize_collection(agent, collection).await {
            CollectionAccess::All => {}
            CollectionAccess::PerDocument => reading = Reading::PerDocument,
            CollectionAccess::Refused(error) => return Err(error),
        }
    }
    Ok(reading)
}

/// Whether `agent` may read `collection.id`.
pub(crate) async fn doc(
    shared: &Shared,
    agent: &AgentInfo,
    collection: &str,
    id: &str,
) -> Result<(), ErrorObject> {
    if self::collection(shared, agent, collection).await? == Reading::PerDocument {
        for m in &shared.middleware {
            m.authorize_doc(agent, collection, id).await?;
        }
    }
    Ok(())
}

/// Whether `agent` may read the document `id` of a collection it reads
/// [`Reading::PerDocument`].
pub(crate) async fn doc_in(shared: &Shared, agent: &AgentInfo, collection: &str, id: &str) -> bool {
    for m in &shared.middleware {
        if m.authorize_doc(agent, collection, id).await.is_err() {
            return false;
        }
    }
    true
}

/// Keeps the ids `agent` may read, in order.
pub(crate) async fn readable(
    shared: &Shared,
    agent: &AgentInfo,
    collection: &str,
    ids: Vec<String>,
) -> Vec<String> {
    let mut kept = Vec::with_capacity(ids.len());
    for id in ids {
        if doc_in(shared, agent, collection, &id).await {
            kept.push(id);
        }
    }
    kept
}

/// Whether `agent` may follow (or, `publish`, publish on) a presence
/// channel.
pub(crate) async fn presence(
    shared: &Shared,
    agent: &AgentInfo,
    channel: &str,
    publish: bool,
) -> Result<(), ErrorObject> {
    for m in &shared.middleware {
        m.authorize_presence(agent, channel, publish).await?;
    }
    Ok(())
}
