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

mod connection;
mod doc;
mod error;
mod event;
mod presence;
mod query;
pub(crate) mod rt;
pub mod transport;

pub use connection::{Connection, ConnectionOptions, ConnectionState, ListenerHandle};
pub(crate) use doc::edited_value;
pub use doc::{Ack, Doc};
pub use error::ClientError;
pub use event::{ClientEvent, QueryChange};
pub use presence::{DocPresence, Presence};
pub use query::Query;
