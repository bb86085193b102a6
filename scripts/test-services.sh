#!/usr/bin/env bash
# Starts or stops the servers the shim's integration tests talk to: PostgreSQL and Redis, on 127.0.0.1
# only, with their data in a temporary directory. Idempotent; the tests call `start` themselves, and
# .ci/run calls `stop` at the end.
#   scripts/test-services.sh start   start both (already running: nothing to do)
#   scripts/test-services.sh stop    stop both and remove their data
#   scripts/test-services.sh env     print the connection settings (KEY=VALUE lines)
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user that Debian's
# package creates. Packages: postgresql, redis-server (scripts/install-deps.sh --tests installs them).
set -euo pipefail

directory="${GEVENT_SERVICES_DIR:-/tmp/swift-gevent-services-$(id -u)}"
pg_port="${GEVENT_TEST_PGPORT:-54329}"
redis_port="${GEVENT_TEST_REDIS_PORT:-63799}"
log() { printf -- "** test-services: %s\n" "$*" >&2; }

pg_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n "$bin" ]] || { log "PostgreSQL is not installed (apt package postgresql)"; exit 1; }
    echo "$bin"
}

as_pg_user() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_postgres() {
    local bin data="$directory/postgres"
    bin=$(pg_bin)
    if [[ -f "$data/postmaster.pid" ]] && as_pg_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        return
    fi
    mkdir -p "$directory"
    if [[ ! -f "$data/PG_VERSION" ]]; then
        rm -rf "$data"  # what an interrupted initdb left behind
        mkdir -p "$data"
        [[ $(id -u) -eq 0 ]] && chown postgres: "$data" && chmod 755 "$directory"
        as_pg_user "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$directory/initdb.log" 2>&1 ||
            { log "initdb failed:"; cat "$directory/initdb.log" >&2; exit 1; }
    fi
    as_pg_user "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $pg_port -c unix_socket_directories=$data -c max_connections=120 -c fsync=off" \
        start >/dev/null ||
        { log "PostgreSQL did not start:"; tail -n 20 "$data/server.log" >&2; exit 1; }
}

start_redis() {
    if redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
        return
    fi
    command -v redis-server >/dev/null || { log "Redis is not installed (apt package redis-server)"; exit 1; }
    mkdir -p "$directory/redis"
    redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes --dir "$directory/redis" \
        --pidfile "$directory/redis/redis.pid" --logfile "$directory/redis/redis.log" --save "" --appendonly no
    for _ in $(seq 1 100); do
        redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && return
        sleep 0.1
    done
    log "Redis did not start:"
    tail -n 20 "$directory/redis/redis.log" >&2
    exit 1
}

# Test suites that run in parallel may call `start` at the same moment: one at a time, or two initdb runs
# race in the same directory.
# flock -o keeps the lock in the flock process only: the servers started below must not inherit it.
if [[ ("${1:-}" == start || "${1:-}" == stop) && -z "${GEVENT_SERVICES_LOCKED:-}" ]]; then
    GEVENT_SERVICES_LOCKED=1 exec flock -o "$directory.lock" "$0" "$@"
fi

case "${1:-}" in
start)
    log "PostgreSQL on 127.0.0.1:$pg_port (data in $directory/postgres; the first start runs initdb)"
    start_postgres
    log "Redis on 127.0.0.1:$redis_port"
    start_redis
    log "both answer"
    ;;
stop)
    log "stopping PostgreSQL and Redis, removing $directory"
    if [[ -d "$directory/postgres" ]]; then
        as_pg_user "$(pg_bin)/pg_ctl" -D "$directory/postgres" -m fast -w stop >/dev/null 2>&1 || true
    fi
    redis-cli -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$directory"
    ;;
env)
    echo "PGHOST=127.0.0.1"
    echo "PGPORT=$pg_port"
    echo "PGUSER=postgres"
    echo "PGDATABASE=postgres"
    echo "REDIS_PORT=$redis_port"
    ;;
*)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
