//! The client: what ShareDB's client does, in Rust.
//!
//! A [`Connection`] talks ShareDB's protocol to a server through any
//! [`Connector`](crate::protocol::Connector): in-process to a
//! [`Backend`](crate::backend::Backend) (server-side models), or over a
//! WebSocket ([`transport::WebSocketConnector`]: natively with feature
//! `native`, and in the browser). It keeps [`Doc`]s and [`Query`]s up to
//! date, applies local edits at once, and resolves conflicts with json0.
//!
//! ```
//! # #[cfg(feature = "ssr")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), peloton::client::ClientError> {
//! use peloton::backend::Backend;
//! use peloton::client::Connection;
//! use peloton::ot::json0::{Component, Op};
//! use serde_json::json;
//!
//! let backend = Backend::new();
//! let alice = Connection::new(backend.clone());
//! let bob = Connection::new(backend);
//!
//! let note = alice.get("notes", "n1");
//! note.create(json!({"likes": 0}))?.await?;
//!
//! let same = bob.get("notes", "n1");
//! same.subscribe().await?;
//! note.submit_op(Op::from(Component::number_add(["likes"], 1.0)))?.await?;
//! bob.when_nothing_pending().await;
//! # Ok(()) }
//! # #[cfg(not(feature = "ssr"))]
//! # fn main() {}
//! ```
//!
//! Inside, a connection's task (`connection`) serves one transport at a
//! time and hands the server's messages to its state (`state`), which
//! routes them to the concern they are about, each owning its part: the
//! session with the server (`link`), the documents and their ops (`docs`),
//! the queries (`queries`) and the presence channels (`presences`). The
//! public handles ([`Doc`], [`Query`], [`Presence`]) read and change that
//! state under the connection's lock.
//!
//! Each concern keeps its own state and says at its top what it must not
//! touch; `state` carries what one's change means for another. The client as a
//! whole never touches the model (`crate::model`), which uses it only through
//! these handles, and reaches a server only through the protocol's messages.

mod ack;
mod connection;
mod doc;
mod docs;
mod error;
mod event;
mod history;
mod link;
pub mod offline;
mod past_reads;
mod presence;
mod presences;
mod queries;
mod query;
pub(crate) mod rt;
mod state;
pub mod transport;

pub use ack::Ack;
pub(crate) use connection::DocReader;
pub use connection::{Connection, ConnectionOptions, ListenerHandle};
pub use doc::Doc;
pub(crate) use docs::edited_value;
pub use error::ClientError;
pub use event::{ClientEvent, QueryChange};
pub use link::ConnectionState;
pub use presence::{DocPresence, Presence};
pub use query::Query;
