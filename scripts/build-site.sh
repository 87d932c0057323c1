#!/usr/bin/env bash
# Builds what the browser loads into target/site: the demo's hydrate WASM and
# its JS glue (wasm-bindgen), the stylesheet, and the static assets.
#   PROFILE=release scripts/build-site.sh   for an optimized build
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${PROFILE:-dev}"
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
[ "$profile" = release ] && profile=wasm-release && dir=wasm-release
site=target/site

cargo build -p app --lib --target wasm32-unknown-unknown \
  --no-default-features --features hydrate --profile "$profile"
mkdir -p "$site/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name app \
  "target/wasm32-unknown-unknown/$dir/app.wasm"
cp style/main.css "$site/pkg/app.css"
cp -r assets/. "$site/"
