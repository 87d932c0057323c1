//! The backend: ShareDB's server (being built).

pub mod query;
