#!/usr/bin/env bash
# Formatting and clippy, for the server (ssr) and the browser (hydrate)
# builds, and for every other feature set of the framework crate on its own.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features peloton/ssr,peloton/mongodb,peloton/redis,app/ssr -- -D warnings
cargo clippy -p peloton -p app --lib --target wasm32-unknown-unknown --features peloton/hydrate,app/hydrate -- -D warnings
# The hydrate feature set with all targets (tests, benches), built natively.
cargo clippy -p peloton -p app --all-targets --features peloton/hydrate,app/hydrate -- -D warnings
# Each feature of the framework on its own, and none: what a dependent
# crate may enable (the features above imply `native` and `ssr`).
for features in "" native ssr mongodb redis; do
  echo "==> peloton with features: ${features:-(none)}"
  cargo clippy -p peloton --lib --no-default-features ${features:+--features "$features"} -- -D warnings
done
# The API docs build without a broken link.
RUSTDOCFLAGS="-D warnings" cargo doc -p peloton --no-deps --features ssr,mongodb,redis
