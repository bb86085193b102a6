#!/usr/bin/env bash
# The HTTP benchmark: Examples/HTTPHello (GeventHTTP's HTTPServer) against the C epoll server's HTTP
# mode, SwiftNIO's NIOHTTP1 on one EventLoop, Go's net/http with GOMAXPROCS=1 and gevent's pywsgi, in one
# run, with the harness of ../shared/bench (wrk, one thread, GET / keep-alive, servers pinned to CPU 0,
# wrk to CPU 1). Rounds are interleaved as in run-echo.sh; prints each round's rows, then requests per
# server CPU-second (ours ÷ peer): the median over the rounds with the lowest and highest, and our p99.
#
#   Benchmarks/run-http.sh               # 100 and 1000 connections, 3 rounds (~5 min once built)
#   ROUNDS=5 Benchmarks/run-http.sh 100  # only 100, five rounds
#   Benchmarks/run-http.sh -o FILE.md 100 1000
#
# Environment: ROUNDS (3); BENCH, BENCH_BUILD, BENCH_VENV, SKIP_SETUP as for run-core.sh; the harness's
# DURATION, WARMUP, SERVER_CPU, LOAD_CPU.
set -uo pipefail

OUT_FILE=""
if [ "${1:-}" = -o ]; then OUT_FILE="$2"; shift 2; fi
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0; fi
CONNS_LIST=("$@"); [ ${#CONNS_LIST[@]} -gt 0 ] || CONNS_LIST=(100 1000)
ROUNDS="${ROUNDS:-3}"
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "run-http.sh: ROUNDS=$ROUNDS is not a whole number of at least 1" >&2; exit 2 ;; esac

SCRIPT=run-http.sh
# shellcheck source=lib/peers.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"
ORDER=(c-epoll swift-gevent nio-1loop go-gomaxprocs1 gevent c-epoll#2)
STEPS=$((2 + ROUNDS * ${#CONNS_LIST[@]} * ${#ORDER[@]}))
peers_setup
step "building the peers into $BENCH_BUILD (the first NIO build takes minutes)"
with_heartbeat "building the peers" "$BENCH/build.sh" core go nio >&2 || die "the peer build failed"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk, or ../shared/bench/setup.sh)"
step "building HTTPHello (release)"
(cd "$ROOT" && with_heartbeat "building HTTPHello" swift build -c release --product HTTPHello >&2) ||
    die "swift build failed"
OURS="$ROOT/.build/release/HTTPHello"

report_start http

command_for() { # NAME -> the server command ({port} is replaced by the harness)
    case "$1" in
    c-epoll | c-epoll#2) echo "$(printf '%q' "$BIN/epoll_server") {port} http" ;;
    swift-gevent) echo "$(printf '%q' "$OURS") --port {port}" ;;
    nio-1loop) echo "$(printf '%q' "$BIN/nio-echo") {port} http" ;;
    go-gomaxprocs1) echo "env GOMAXPROCS=1 $(printf '%q' "$BIN/go-server") {port} http" ;;
    gevent) echo "$(printf '%q' "$BENCH_VENV/bin/python") $(printf '%q' "$BENCH/peers/gevent/server.py") {port} http" ;;
    esac
}

log "[run-http] machine busy before: $(machine_busy_pct 1)% of all CPUs; raw lines: $RAW"
out "# HTTP, wrk GET / keep-alive: swift-gevent's HTTPHello against the peers, ${ROUNDS} interleaved round(s)"
out ""
out "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); ${WARMUP} s warm-up + ${DURATION} s per case; servers on CPU $SERVER_CPU, wrk (one thread) on CPU $LOAD_CPU"
out "- command: \`ROUNDS=$ROUNDS Benchmarks/run-http.sh ${CONNS_LIST[*]}\`; raw lines: \`Benchmarks/results/$(basename "$RAW")\`"
peer_rounds http rps
out ""
out "Requests per server CPU-second, swift-gevent ÷ peer, median of $ROUNDS round(s) (lowest-highest);"
out "targets: ≥ 0.6× C epoll, ≥ 1.3× NIO, ≥ 1.3× Go net/http, ≥ 8× gevent's pywsgi:"
out ""
ratio_table
report_end "$OUT_FILE"
