//! Fails a `cargo test` that left tests out, naming them and the command
//! that runs them.
//!
//! Most integration tests need the server (`--features ssr`), and the
//! storage ones MongoDB and Redis too. Cargo skips a test whose features
//! are off without a word, so a plain `cargo test` would pass having run a
//! fraction of the suite; this runs in every `cargo test` (it needs no
//! feature) and fails it instead.

fn main() {
    let mut skipped = Vec::new();
    if cfg!(not(feature = "ssr")) {
        skipped.push(
            "backend, client, model, racer, presence, undo, hostile, telemetry, axum and leptos \
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
    eprintln!("\nerror: this `cargo test` skipped the integration tests of:");
    for what in skipped {
        eprintln!("  - {what}");
    }
    eprintln!(
        "`./run test` runs the whole suite (lint, every test, the npm interop and \
         browser tests), with the services it needs. With MongoDB and Redis \
         running (`bash scripts/services.sh start`, then \
         `eval \"$(bash scripts/services.sh env)\"`), \
         `cargo test --workspace --features peloton/ssr,peloton/mongodb,peloton/redis,app/ssr` \
         runs every Rust test.\n"
    );
    std::process::exit(1);
}
