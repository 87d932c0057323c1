#!/usr/bin/env bash
# The load benchmark: peloton beside Node ShareDB (npm sharedb 7), same
# workload, same machine, runs alternating. Prints one table of medians and
# writes it to target/bench/results.md.
#   BENCH_ROUNDS=3 BENCH_SECONDS=10 scripts/bench.sh
#   PELOTON_BENCH_SERVICES=1 adds the MongoDB + Redis rows (starting them);
#   they are also added when the test services are already running.
#   BENCH_ONLY=load, ssr, scale, history, json0 or hostile runs only those
#   rows (load includes ssr).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${BENCH_ROUNDS:-3}"
seconds="${BENCH_SECONDS:-10}"
clients="${BENCH_CLIENTS:-50}"
docs="${BENCH_DOCS:-10}"
out=target/bench
mkdir -p "$out"
: >"$out/runs.jsonl"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null; then
  echo "==> installing wrk (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "==> building release binaries"
cargo build --release -p app -p loadgen --features app/ssr
PROFILE=release bash scripts/build-site.sh >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

# url_open <scheme://[user@]host:port[/path]>: whether something listens there.
url_open() {
  local hostport=${1#*://}
  hostport=${hostport##*@}
  hostport=${hostport%%/*}
  port_open "${hostport##*:}" "${hostport%:*}"
}

wait_port() {
  for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.1; done
  echo "nothing listens on port $1" >&2; return 1
}

# start <server> <port> <backing>: starts a server, sets $server_pid.
start() {
  local server=$1 port=$2 backing=$3 env=()
  if [ "$backing" = mongo-redis ]; then
    local url
    url=$(bash scripts/services.sh url "bench_$(date +%s%N)")
    env=(MONGO_URL="$url" REDIS_URL="$PELOTON_TEST_REDIS_URL"
         PELOTON_MONGO_URL="$url" PELOTON_REDIS_URL="$PELOTON_TEST_REDIS_URL")
  fi
  if [ "$server" = sharedb ]; then
    (cd interop/bench-sharedb && exec env "${env[@]}" PORT="$port" node server.js) >"$out/$server.$port.log" 2>&1 &
  else
    env "${env[@]}" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site RUST_LOG=warn \
      target/release/app >"$out/$server.$port.log" 2>&1 &
  fi
  server_pid=$!
  pids+=("$server_pid")
  wait_port "$port"
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# load <server> <backing>: one closed-loop run on a fresh server.
load() {
  local server=$1 backing=$2 port=3310
  start "$server" "$port" "$backing"
  echo "==> $server ($backing): $clients clients × $docs docs, ${seconds}s" >&2
  local result metrics=()
  # peloton reports its own CPU time and queues (ShareDB is read from /proc).
  [ "$server" = peloton ] && metrics=(--metrics "http://127.0.0.1:$port/metrics")
  result=$(target/release/loadgen --url "ws://127.0.0.1:$port/channel" --clients "$clients" --docs "$docs" \
    --seconds "$seconds" --warmup 2 --pid "$server_pid" "${metrics[@]}" --json)
  echo "$result" >&2
  echo "{\"kind\":\"load\",\"server\":\"$server\",\"backing\":\"$backing\",\"result\":$result}" >>"$out/runs.jsonl"
  stop "$server_pid"
}

# idle <server> <n>: memory per idle subscribed client.
idle() {
  local server=$1 n=$2 port=3311
  start "$server" "$port" memory
  local result
  result=$(target/release/loadgen --url "ws://127.0.0.1:$port/channel" --idle "$n" --docs 100 --pid "$server_pid" --json)
  echo "==> $server: $result" >&2
  echo "{\"kind\":\"idle\",\"server\":\"$server\",\"n\":$n,\"result\":$result}" >>"$out/runs.jsonl"
  stop "$server_pid"
}

# idle_fleet <server> <n> <procs>: memory per idle subscribed client, n
# clients spread over <procs> server processes, each with its own load
# generator (this container allows a process 20,000 open files, so 100,000
# clients cannot share one): the servers' RSS growth summed, over n.
idle_fleet() {
  local server=$1 n=$2 procs=$3 base=3340 i
  local per=$(((n + procs - 1) / procs)) fleet=() loaders=()
  for i in $(seq 0 $((procs - 1))); do
    start "$server" $((base + i)) memory
    fleet+=("$server_pid")
  done
  for i in $(seq 0 $((procs - 1))); do
    target/release/loadgen --url "ws://127.0.0.1:$((base + i))/channel" --idle "$per" --docs 100 \
      --pid "${fleet[$i]}" --json >"$out/fleet.$i.json" &
    loaders+=($!)
  done
  local failed=0 result=""
  for i in "${loaders[@]}"; do wait "$i" || failed=1; done
  for i in "${fleet[@]}"; do stop "$i"; done
  if [ "$failed" = 0 ]; then
    result=$(python3 - "$procs" "$out"/fleet.*.json <<'PY'
import json, sys
procs, files = int(sys.argv[1]), sys.argv[2:]
runs = [json.load(open(f)) for f in files]
if len(runs) != procs or any(r.get("rss_before_kib") is None or r.get("rss_after_kib") is None for r in runs):
    sys.exit(1)
clients = sum(r["idle_clients"] for r in runs)
grown = sum(r["rss_after_kib"] - r["rss_before_kib"] for r in runs)
print(json.dumps({"idle_clients": clients, "processes": procs, "kib_per_client": grown / clients}))
PY
) || result=""
  fi
  rm -f "$out"/fleet.*.json
  if [ -z "$result" ]; then
    echo "==> $server: $n idle clients over $procs processes failed; no row" >&2
    return 0
  fi
  echo "==> $server: $result" >&2
  echo "{\"kind\":\"idle\",\"server\":\"$server\",\"n\":$n,\"result\":$result}" >>"$out/runs.jsonl"
}

# ssr: requests/s and server CPU per page of the demo's home page rendering
# a 100-document query, and of the same lists from a plain Vec (no model):
# through <For> and row components as the home page is, and written out.
ssr() {
  local port=3312
  start peloton "$port" memory
  target/release/loadgen --url "ws://127.0.0.1:$port/channel" --seed 100 --collection lists >&2
  ssr_page model / "$port"
  ssr_page for /bench/for "$port"
  ssr_page plain /bench/plain "$port"
  stop "$server_pid"
}

# ssr_page <label> <path> <port>: one wrk run against the server started.
ssr_page() {
  local label=$1 path=$2 port=$3 report rps requests cpu0 cpu1
  cpu0=$(cpu_ticks "$server_pid")
  report=$(wrk -t1 -c16 -d"${seconds}s" "http://127.0.0.1:$port$path")
  cpu1=$(cpu_ticks "$server_pid")
  if grep -q "Non-2xx" <<<"$report"; then
    echo "SSR ($label): some pages failed to render:" >&2
    echo "$report" >&2
    exit 1
  fi
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$report")
  requests=$(awk '/requests in/ {print $1}' <<<"$report")
  [ -n "$rps" ] && [ -n "$requests" ] || { echo "SSR: wrk reported no rate:" >&2; echo "$report" >&2; exit 1; }
  local cpu_us
  cpu_us=$(python3 -c "print(round(($cpu1 - $cpu0) * 1e6 / $(getconf CLK_TCK) / $requests, 1))")
  echo "==> SSR ($label) of the 100-list home page: $rps requests/s, $cpu_us µs server CPU/page" >&2
  echo "{\"kind\":\"ssr\",\"server\":\"peloton\",\"label\":\"$label\",\"result\":{\"rps\":$rps,\"cpu_us_per_page\":$cpu_us}}" >>"$out/runs.jsonl"
}

# cpu_ticks <pid>: user + system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# median_row <kind> <server> <label> <ms>: a median in milliseconds, to
# runs.jsonl.
median_row() {
  echo "==> $1 $3 ($2): $4 ms" >&2
  echo "{\"kind\":\"$1\",\"server\":\"$2\",\"label\":\"$3\",\"result\":{\"median_ms\":$4}}" >>"$out/runs.jsonl"
}

# criterion_row <kind> <label> <bench dir>: criterion's median of a bench
# (under target/criterion), as peloton's row.
criterion_row() {
  local ms
  ms=$(python3 -c "import json, sys; e = json.load(open(sys.argv[1])); print(round(e['median']['point_estimate'] / 1e6, 4))" \
    "target/criterion/$3/new/estimates.json")
  median_row "$1" peloton "$2" "$ms"
}

# page_model: the model's part of the SSR page, in process (criterion):
# load a 100-document query, read its documents, write the bundle.
page_model() {
  cargo bench --features ssr --bench page_model -- --noplot >&2
  local name
  for name in load load_read load_read_bundle; do
    criterion_row page_model "$name" "page_model/$name"
  done
}

# history: a snapshot at a random version of a 100,000-op document, with
# milestones and without (criterion, in-process; medians in runs.jsonl).
history() {
  cargo bench --features ssr --bench history -- --noplot >&2
  local name
  for name in milestones_every_1000 no_milestones; do
    criterion_row history "$name" "history/snapshot_at_random_version/$name"
  done
}

# json0: apply and transform over the editing trace, peloton (criterion)
# beside ot-json0, ShareDB's OT type, on Node (the same trace: the Rust
# bench writes it, bench.js checks both sides agree before timing).
json0() {
  if ! cargo bench --bench json0 -- --noplot >&2; then
    echo "==> json0: the Rust bench failed; no row" >&2
    return 0
  fi
  local name line
  for name in apply_trace apply_trace_unindexed transform_trace; do
    criterion_row json0 "$name" "json0/$name"
  done
  # ot-json0's side is best effort: without it the rows show peloton's.
  (cd interop/ot-json0 && node bench.js || echo "==> json0: ot-json0's bench failed" >&2) | while read -r line; do
    echo "$line" >&2
    # "json0/apply_trace          median 11.531 ms per trace, …"
    if [[ $line =~ ^json0/([a-z_]+)\ +median\ ([0-9.]+)\ ms ]]; then
      median_row json0 sharedb "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    fi
  done
}

# scenario <kind> <server> <scenario> <label> <args...>: one loadgen scenario
# on a fresh server; its figures go to runs.jsonl as <kind>.
scenario() {
  local kind=$1 server=$2 scenario=$3 label=$4 port=3313
  shift 4
  start "$server" "$port" memory
  local result
  if ! result=$(target/release/loadgen --url "ws://127.0.0.1:$port/channel" --scenario "$scenario" \
    --pid "$server_pid" --seconds "$seconds" --json "$@"); then
    echo "==> $kind $scenario ($server, $label): the run failed; no row" >&2
    stop "$server_pid"
    return 0
  fi
  echo "==> $kind $scenario ($server, $label): $result" >&2
  echo "{\"kind\":\"$kind\",\"server\":\"$server\",\"scenario\":\"$scenario\",\"label\":\"$label\",\"result\":$result}" >>"$out/runs.jsonl"
  stop "$server_pid"
}

# hostile <scenario> <label> <args...>: what bad clients cost the others (peloton).
hostile() { scenario hostile peloton "$@"; }

# MongoDB + Redis rows: when asked for (starting the services), or when the
# test services are already running (`cargo make services-start`).
backings=(memory)
if [ "${PELOTON_BENCH_SERVICES:-}" = 1 ]; then
  bash scripts/services.sh start
fi
eval "$(bash scripts/services.sh env)"
if url_open "$PELOTON_TEST_REDIS_URL" && url_open "$PELOTON_TEST_MONGO_URL"; then
  backings+=(mongo-redis)
elif [ "${PELOTON_BENCH_SERVICES:-}" = 1 ]; then
  echo "MongoDB or Redis did not answer: no MongoDB + Redis rows" >&2
fi

only="${BENCH_ONLY:-all}"
if [ "$only" = all ] || [ "$only" = load ]; then
  for backing in "${backings[@]}"; do
    for _ in $(seq 1 "$rounds"); do
      load sharedb "$backing"
      load peloton "$backing"
    done
  done
  for _ in $(seq 1 "$rounds"); do
    for n in 1000 10000; do
      idle sharedb "$n"
      idle peloton "$n"
    done
    idle_fleet sharedb 100000 6
    idle_fleet peloton 100000 6
    ssr
  done
fi
if [ "$only" = ssr ]; then
  for _ in $(seq 1 "$rounds"); do ssr; done
fi
if [ "$only" = all ] || [ "$only" = load ] || [ "$only" = ssr ]; then
  page_model
fi
if [ "$only" = all ] || [ "$only" = scale ]; then
  for _ in $(seq 1 "$rounds"); do
    # One live query, 1,000 subscribers (ShareDB's in-memory database does
    # not run MongoDB queries with $gte and $sort: peloton only).
    scenario scale peloton query query --clients 1000 --docs 1000 --rate 50
    # One hot document, 10,000 subscribers.
    scenario scale sharedb fanout hot --clients 10000 --docs 1 --rate 20
    scenario scale peloton fanout hot --clients 10000 --docs 1 --rate 20
  done
fi
if [ "$only" = all ] || [ "$only" = history ]; then
  history
fi
if [ "$only" = all ] || [ "$only" = json0 ]; then
  json0
fi
if [ "$only" = all ] || [ "$only" = hostile ]; then
  for _ in $(seq 1 "$rounds"); do
    hostile fanout none --clients 10000 --docs 100 --stalled 0
    hostile fanout stalled --clients 10000 --docs 100 --stalled 1
    hostile backlog stalled --clients 100
    hostile flood none --clients 50 --docs 10 --flooders 0
    hostile flood flooding --clients 50 --docs 10 --flooders 1
  done
fi

python3 scripts/bench_table.py "$out/runs.jsonl" "$clients" "$docs" "$seconds" "$rounds" | tee "$out/results.md"
