//! Queries in a Mongo-style language (being built).
