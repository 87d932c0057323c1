#!/usr/bin/env bash
# Builds what the browser loads into target/site: the demo's hydrate WASM and
# its JS glue (wasm-bindgen), the stylesheet, and the static assets.
#   PROFILE=release scripts/build-site.sh   for an optimized build (the
#   `wasm-release` profile, then `wasm-opt -Oz` when binaryen's wasm-opt 132+
#   is on PATH; scripts/setup.sh installs it)
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
if [ "$profile" = wasm-release ]; then
  # wasm-opt 132 or later (scripts/setup.sh installs npm's binaryen): older
  # ones, such as Debian bookworm's 108, break wasm-bindgen's externref table.
  wasm_opt_version=$(wasm-opt --version 2>/dev/null | awk '{ print $3 }' || true)
  if [ "${wasm_opt_version:-0}" -ge 132 ] 2>/dev/null; then
    # The post-MVP features rustc's WASM uses (`wasm-opt --print-features`
    # lists them). Cargo.toml's wasm-opt-features give cargo-leptos the same.
    wasm-opt -Oz --enable-mutable-globals --enable-nontrapping-float-to-int \
      --enable-bulk-memory --enable-sign-ext --enable-reference-types --enable-multivalue \
      "$site/pkg/app_bg.wasm" -o "$site/pkg/app_bg.wasm"
  else
    echo "build-site: no wasm-opt 132+ on PATH (have: ${wasm_opt_version:-none}; scripts/setup.sh installs it): the WASM is not optimized further" >&2
  fi
fi
cp style/main.css "$site/pkg/app.css"
cp -r assets/. "$site/"
