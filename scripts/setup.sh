#!/usr/bin/env bash
# Installs everything the demo and the tests need, skipping what is already
# there, so a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Formatting and lint checks (a minimal rustup profile lacks them).
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    say "adding the $component component"
    rustup component add "$component"
  fi
done

# The WebAssembly target for the browser build.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen's CLI must match the wasm-bindgen crate in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$want" != "$have" ]; then
  say "installing wasm-bindgen-cli $want (have: ${have:-none})"
  cargo install wasm-bindgen-cli --version "=$want"
fi

# Debian packages: Chromium for the browser tests, Redis for pub/sub tests,
# curl to wait for the demo to come up.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# wasm-opt for the release site build (scripts/build-site.sh, cargo-leptos),
# from npm's binaryen: Debian bookworm's binaryen 108 writes wasm-bindgen's
# externref table export as the function table, and the page dies on load.
wasm_opt_version=$(wasm-opt --version 2>/dev/null | awk '{ print $3 }' || true)
if [ "${wasm_opt_version:-0}" -lt 132 ] 2>/dev/null; then
  say "installing wasm-opt (npm binaryen 132; have: ${wasm_opt_version:-none})"
  as_root npm install -g --no-audit --no-fund --loglevel=error binaryen@132.0.0
fi

# A MongoDB-wire server for the storage tests (SecantusDB, from PyPI).
# Debian's own Python refuses pip installs outside a venv (PEP 668): then
# install for this user, which that Python reads, past the guard.
if ! python3 -c 'import secantus' 2>/dev/null; then
  say "installing SecantusDB"
  python3 -m pip install -q SecantusDB 2>/dev/null ||
    python3 -m pip install -q --user --break-system-packages SecantusDB
fi

# Node packages of the browser and interop tests, pinned by their lock files.
for dir in end2end interop/*/; do
  dir="${dir%/}"
  [ -f "$dir/package-lock.json" ] || continue
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
