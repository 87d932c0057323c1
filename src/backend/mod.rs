//! The backend: ShareDB's server in Rust (being built).

pub mod db;
pub mod pubsub;
pub mod query;
mod snapshot;

pub use db::{Db, DbError, MemoryDb, QueryResults};
pub use pubsub::{MemoryPubSub, PubSub, PubSubError};
pub use snapshot::Snapshot;
