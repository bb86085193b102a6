#!/usr/bin/env bash
# TLS benchmark, once: full handshakes per server CPU-second (ECDSA P-256 and RSA-2048) and bulk transfer
# over one connection, swift-gevent's TLSEchoServer against `openssl s_server` and nginx (one worker, no
# master) on the same certificate, all on the system's OpenSSL 3. The load is `openssl s_time -new` (a new
# full handshake per connection, TLS 1.3) and `openssl s_client` reading SIZE_MB of zeros from stdin. Servers
# run on CPU 0, clients on CPU 1; server CPU time is read from /proc/PID/stat before and after.
#
#   Benchmarks/run-tls.sh            # ~1 min once built
#
# Environment: SECONDS_PER_CASE (10), SIZE_MB (1024), SERVER_CPU (0), LOAD_CPU (1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_CASE="${SECONDS_PER_CASE:-10}"
SIZE_MB="${SIZE_MB:-1024}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
TICKS=$(getconf CLK_TCK)

log() { printf -- "** %s\n" "$*" >&2; }
(cd "$ROOT" && swift build -c release --product TLSEchoServer >&2)
OURS="$ROOT/.build/release/TLSEchoServer"
WORK=$(mktemp -d /tmp/gevent-tls-bench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -keyout ec.key -out ec.pem \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout rsa.key -out rsa.pem \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# start_server NAME KEYTYPE PORT MODE: starts the server in the background, sets SERVER_PID.
start_server() {
    local name=$1 key=$2 port=$3 mode=$4
    case $name in
    swift-gevent)
        taskset -c "$SERVER_CPU" "$OURS" "$key.pem" "$key.key" "$port" "$mode" >/dev/null 2>"$name.log" &
        ;;
    openssl-s_server)
        # s_server serves one connection at a time, as the sequential clients here need. It ends a
        # connection when its own stdin ends, so stdin is a pipe that stays open.
        taskset -c "$SERVER_CPU" openssl s_server -accept "$port" -cert "$key.pem" -key "$key.key" -quiet \
            < <(sleep 300) >/dev/null 2>"$name.log" &
        ;;
    nginx)
        mkdir -p nginx
        cat >nginx/nginx.conf <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $WORK/$key.pem;
        ssl_certificate_key $WORK/$key.key;
        location / { return 200 "ok"; }
    }
}
CONF
        taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" 2>"$name.log" &
        ;;
    esac
    SERVER_PID=$!
    wait_port "$port" || { log "$name did not start: $(cat "$name.log")"; return 1; }
}

printf '| case | server | result | server CPU-s | per server CPU-second |\n|---|---|---|---|---|\n'
for key in ec rsa; do
    for name in swift-gevent openssl-s_server nginx; do
        command -v nginx >/dev/null || [ $name != nginx ] || continue
        port=$(free_port)
        start_server $name $key "$port" echo
        before=$(cpu_ticks "$SERVER_PID")
        out=$(taskset -c "$LOAD_CPU" openssl s_time -connect "127.0.0.1:$port" -new -time "$SECONDS_PER_CASE" 2>&1)
        after=$(cpu_ticks "$SERVER_PID")
        kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
        connections=$(printf '%s\n' "$out" | awk '/connections in [0-9.]+s/ && /new/ {print $1; exit}')
        [ -n "$connections" ] || connections=$(printf '%s\n' "$out" | awk '/connections in/ {print $1; exit}')
        cpu=$(awk -v t=$((after - before)) -v hz="$TICKS" 'BEGIN {printf "%.2f", t / hz}')
        rate=$(awk -v n="$connections" -v c="$cpu" 'BEGIN {printf "%.0f", (c > 0 ? n / c : 0)}')
        printf '| handshakes %s TLS 1.3, %s s | %s | %s handshakes | %s | %s |\n' \
            "$key" "$SECONDS_PER_CASE" "$name" "$connections" "$cpu" "$rate"
    done
done
for name in swift-gevent openssl-s_server; do
    port=$(free_port)
    start_server $name ec "$port" discard
    before=$(cpu_ticks "$SERVER_PID")
    start=$(date +%s.%N)
    head -c "$((SIZE_MB * 1048576))" /dev/zero |
        taskset -c "$LOAD_CPU" openssl s_client -connect "127.0.0.1:$port" -brief >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    after=$(cpu_ticks "$SERVER_PID")
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    cpu=$(awk -v t=$((after - before)) -v hz="$TICKS" 'BEGIN {printf "%.2f", t / hz}')
    mbps=$(awk -v m="$SIZE_MB" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", m / (e - s)}')
    per=$(awk -v m="$SIZE_MB" -v c="$cpu" 'BEGIN {printf "%.0f", (c > 0 ? m / c : 0)}')
    printf '| bulk %s MiB client→server, one connection | %s | %s MiB/s | %s | %s MiB |\n' \
        "$SIZE_MB" "$name" "$mbps" "$cpu" "$per"
done
