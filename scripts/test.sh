#!/usr/bin/env bash
# The whole test suite: lint, unit + integration tests (with the services
# they need started here), then the suites against the running demo app:
# the npm sharedb client (interop) and the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# A second set-up finds everything there: it installs nothing.
again=$(bash scripts/setup.sh 2>&1) || { echo "$again" >&2; exit 1; }
if grep -q '^==>' <<<"$again"; then
  echo "a second set-up installed again:" >&2
  echo "$again" >&2
  exit 1
fi

# The trap first: a start that fails half-way (redis up, the MongoDB
# server not) must not leave what did start running.
trap 'bash scripts/services.sh stop' EXIT
bash scripts/services.sh start
set -a
eval "$(bash scripts/services.sh env)"
set +a

# CI builds once from nothing: incremental caches would only double what
# the build writes to its disk.
if [[ "${CI:-}" == true ]]; then
  export CARGO_INCREMENTAL=0
fi

bash scripts/lint.sh
cargo test --workspace --features peloton/ssr,peloton/mongodb,peloton/redis,app/ssr
bash scripts/e2e.sh interop browser
