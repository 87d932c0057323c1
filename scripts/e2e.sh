#!/usr/bin/env bash
# Suites that run against the real demo app: builds it (server + WASM),
# serves it on a spare port, and runs the suites named (default: all):
#   interop   the npm sharedb client against /channel   (interop/sharedb)
#   browser   Playwright + Chromium against the pages    (end2end)
set -euo pipefail
cd "$(dirname "$0")/.."

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(interop browser)

bash scripts/build-site.sh
cargo build -p app --features ssr

addr="${E2E_ADDR:-127.0.0.1:3107}"
mkdir -p target/e2e
# In memory: a PELOTON_MONGO_URL in the caller's environment names the
# user's own database (the tests use it only to reach the server), which the
# suites must not write into.
env -u PELOTON_MONGO_URL -u PELOTON_REDIS_URL LEPTOS_SITE_ADDR="$addr" RUST_LOG="${RUST_LOG:-info}" \
  target/debug/app >target/e2e/server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://$addr/" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat target/e2e/server.log; exit 1; }
  sleep 0.2
done

for suite in "${suites[@]}"; do
  echo "==> $suite tests against http://$addr"
  case "$suite" in
    interop) (cd interop/sharedb && PELOTON_URL="ws://$addr/channel" npm test) ;;
    browser) (cd end2end && BASE_URL="http://$addr" npm test) ;;
    *) echo "unknown suite: $suite" >&2; exit 2 ;;
  esac
done

# Ctrl-C: the demo finishes what it serves and exits cleanly.
trap - EXIT
kill -INT "$server"
if ! wait "$server"; then
  echo "the demo did not exit cleanly on Ctrl-C (log: target/e2e/server.log)" >&2
  exit 1
fi
grep -q "shut down" target/e2e/server.log || {
  echo "the demo exited without shutting down (log: target/e2e/server.log)" >&2
  exit 1
}
echo "==> the demo shut down cleanly on Ctrl-C"
