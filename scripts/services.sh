#!/usr/bin/env bash
# Starts or stops the services the tests talk to, on loopback:
#   redis-server                       on $PELOTON_TEST_REDIS_PORT (6390)
#   SecantusDB, a MongoDB-wire server  on $PELOTON_TEST_MONGO_PORT (27090)
# A user with a real mongod sets PELOTON_MONGO_URL and none is started; a
# database that URL names (like the README's .../todos) is not used by tests,
# which make their own databases and drop them after.
#   scripts/services.sh start | stop | env | url DATABASE
set -euo pipefail
cd "$(dirname "$0")/.."

dir=.services
redis_port="${PELOTON_TEST_REDIS_PORT:-6390}"
mongo_port="${PELOTON_TEST_MONGO_PORT:-27090}"

wait_port() { # port name
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$2 did not start on port $1 (log: $dir/$2.log)" >&2
  return 1
}

# mongo_url_for DATABASE: the test server's URL naming DATABASE, its
# options kept. A database the URL named was also the one to authenticate
# against: it stays so, as authSource.
mongo_url_for() {
  local url="${PELOTON_MONGO_URL:-mongodb://127.0.0.1:$mongo_port}"
  local scheme="${url%%://*}" rest="${url#*://}" options="" path=""
  if [[ "$rest" == *"?"* ]]; then options="${rest#*\?}"; rest="${rest%%\?*}"; fi
  if [[ "$rest" == */* ]]; then path="${rest#*/}"; rest="${rest%%/*}"; fi
  if [ -n "$path" ] && [[ "${options,,}" != *authsource=* ]]; then
    options="${options:+$options&}authSource=$path"
  fi
  echo "$scheme://$rest/$1${options:+?$options}"
}

stop_pid() { # name
  local f="$dir/$1.pid"
  if [ -f "$f" ]; then
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  fi
}

case "${1:-}" in
  start)
    mkdir -p "$dir"
    if [ ! -f "$dir/redis.pid" ] || ! kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
      redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$PWD/$dir/redis.pid" --logfile "$PWD/$dir/redis.log"
      wait_port "$redis_port" redis
    fi
    if [ -z "${PELOTON_MONGO_URL:-}" ]; then
      if [ ! -f "$dir/mongo.pid" ] || ! kill -0 "$(cat "$dir/mongo.pid")" 2>/dev/null; then
        nohup python3 -m secantus --host 127.0.0.1 --port "$mongo_port" --storage-path "$PWD/$dir/mongo-data" \
          --log-level WARNING >"$dir/mongo.log" 2>&1 &
        echo $! >"$dir/mongo.pid"
        wait_port "$mongo_port" mongo
      fi
    fi
    ;;
  stop)
    stop_pid redis
    stop_pid mongo
    rm -rf "$dir/mongo-data"
    ;;
  env)
    echo "export PELOTON_TEST_REDIS_URL=redis://127.0.0.1:$redis_port"
    echo "export PELOTON_TEST_MONGO_URL=${PELOTON_MONGO_URL:-mongodb://127.0.0.1:$mongo_port}"
    ;;
  url)
    mongo_url_for "${2:?usage: $0 url DATABASE}"
    ;;
  *)
    echo "usage: $0 start|stop|env|url DATABASE" >&2
    exit 2
    ;;
esac
