//! What a connection tells its listeners.
//!
//! This module owns the event types only; the concerns that change state decide
//! which events to raise, and `connection` hands them to the listeners once its
//! lock is released.

use serde_json::Value;

use super::ConnectionState;
use crate::ot::json0;

/// Something that happened on a connection: a remote change to a document,
/// a change to a subscribed query's results, a change of state.
///
/// Events of documents are only those that came from elsewhere (other
/// clients, the server, a rollback): local edits are known to whoever made
/// them.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// One component of a remote op was applied. Remote ops are applied one
    /// component at a time, and an event follows each.
    Op {
        /// The document's collection.
        collection: String,
        /// The document's id.
        id: String,
        /// The component, as applied.
        component: json0::Component,
        /// For string, number and subtype edits: the value at the edited
        /// path after the component (for a legacy `si`/`sd`, the string).
        value: Option<Value>,
    },
    /// A remote create.
    Created {
        /// The document's collection.
        collection: String,
        /// The document's id.
        id: String,
        /// The new data.
        data: Value,
    },
    /// A remote delete.
    Deleted {
        /// The document's collection.
        collection: String,
        /// The document's id.
        id: String,
        /// The data before.
        previous: Option<Value>,
    },
    /// The document's data was replaced by a snapshot from the server (a
    /// first load, or a reload after a rollback).
    Loaded {
        /// The document's collection.
        collection: String,
        /// The document's id.
        id: String,
        /// The data before, if the client had any.
        previous: Option<Value>,
    },
    /// A subscribed query's results changed.
    Query {
        /// The query's id on this connection.
        query: u64,
        /// What changed.
        change: QueryChange,
    },
    /// Someone's presence on a subscribed channel changed; `value` is
    /// `None` when they left.
    Presence {
        /// The presence channel.
        channel: String,
        /// The presence's id.
        id: String,
        /// The new value.
        value: Option<Value>,
    },
    /// A local edit of a document was refused (by the server, or because
    /// it no longer applies) and taken back: undone by its inverse, or the
    /// document reloaded. Apps tell their users: the edit is gone.
    Rejected {
        /// The document's collection.
        collection: String,
        /// The document's id.
        id: String,
        /// Why.
        error: super::ClientError,
    },
    /// The connection's state changed.
    State(ConnectionState),
    /// An error that belongs to no request (a rejected op whose submitter
    /// did not wait for its ack, a failed reload).
    Error(super::ClientError),
}

/// A change to a query's results (document ids).
#[derive(Clone, Debug, PartialEq)]
pub enum QueryChange {
    /// The whole result list (first results, or after a reconnect).
    Results {
        /// The ids, in order.
        ids: Vec<String>,
    },
    /// Ids inserted at `index`.
    Insert {
        /// Where.
        index: usize,
        /// The ids.
        ids: Vec<String>,
    },
    /// Ids removed at `index`.
    Remove {
        /// Where.
        index: usize,
        /// The ids.
        ids: Vec<String>,
    },
    /// Ids moved.
    Move {
        /// From where.
        from: usize,
        /// To where.
        to: usize,
        /// How many.
        how_many: usize,
    },
    /// The query's extra result (`$count`) changed.
    Extra(Option<Value>),
}
