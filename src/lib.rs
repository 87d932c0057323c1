//! peloton: realtime web apps in Rust.
//!
//! peloton does for Rust what ShareDB, Racer and DerbyJS do for Node: a
//! backend that keeps versioned JSON documents and resolves concurrent edits
//! with Operational Transformation, a synchronous path-based model over the
//! documents an app has loaded, and server-side rendering that goes live in
//! the browser.
//!
//! Modules, from the core outwards:
//! - [`ot`]: OT types as pure functions (json0 and its text0 subtype).
//! - [`protocol`]: ShareDB's wire messages and the transport between client
//!   and server.
//! - [`client`]: ShareDB's client: connections, documents, queries, over an
//!   in-process channel or a WebSocket.
//! - [`model`]: Racer's model: paths, getters, mutators, events, refs,
//!   queries, loading, bundles.
//! - [`backend`] (feature `ssr`): ShareDB's server: documents, ops, queries,
//!   pub/sub, middleware.
//! - [`axum`] (feature `ssr`): the HTTP side: the `/channel` WebSocket route
//!   and the model middleware.
//! - [`leptos`] (features `ssr`, `hydrate`): the view side: the model in
//!   context, signals, loading during server rendering, hydration.
//!
//! This file owns only the module tree and its feature gates. The client side
//! (`ot`, `protocol`, `client`, `model`) uses nothing of the server side, so it
//! builds without `ssr`.

pub mod client;
pub mod model;
pub mod ot;
pub mod protocol;
pub mod query;

mod list_diff;
mod random;

#[cfg(feature = "ssr")]
pub mod axum;
#[cfg(feature = "ssr")]
pub mod backend;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod leptos;
