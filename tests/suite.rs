//! Says which tests a `cargo test` left out, and which command runs them.
//!
//! Most integration tests need the server (`--features ssr`), and the
//! storage ones MongoDB and Redis too. Cargo skips a test whose features
//! are off without a word; this runs in every `cargo test` (it needs no
//! feature) and prints what was skipped.

fn main() {
    let mut skipped = Vec::new();
    if cfg!(not(feature = "ssr")) {
        skipped.push(
            "backend, client, model, racer, presence, undo, hostile, axum and leptos \
             (`cargo test --features ssr`)",
        );
    }
    if cfg!(not(all(feature = "mongodb", feature = "redis"))) {
        skipped.push(
            "storage, db_conformance and mongo_interop, which need MongoDB and Redis \
             (`./run test` starts them)",
        );
    }
    if skipped.is_empty() {
        return;
    }
    println!("\nnote: this `cargo test` skipped the integration tests of:");
    for what in skipped {
        println!("  - {what}");
    }
    println!(
        "`./run test` runs the whole suite (lint, every test, the npm interop and \
         browser tests), with the services it needs.\n"
    );
}
