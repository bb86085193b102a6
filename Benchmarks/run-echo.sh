#!/usr/bin/env bash
# The echo benchmark of issue 4: swift-gevent's EchoServer against the C epoll server, SwiftNIO on one
# EventLoop, Go with GOMAXPROCS=1 and gevent, in one run, with the harness of ../shared/bench (64-byte
# ping-pong, servers pinned to CPU 0, load generator to CPU 1). Every case runs ROUNDS times (default 3),
# interleaved: each round runs every server at every connection count once, so a burst of other work on
# the machine hits one round of every server rather than every round of one. Prints the harness's rows
# per round, then the ratios of round trips per server CPU-second (ours ÷ peer): the median over the
# rounds with the lowest and highest, so that one noisy run cannot decide.
#
#   Benchmarks/run-echo.sh               # 1, 100 and 1000 connections, 3 rounds (~7 min once built)
#   ROUNDS=5 Benchmarks/run-echo.sh 100  # only 100, five rounds
#   Benchmarks/run-echo.sh 100           # only 100
#   Benchmarks/run-echo.sh -o FILE.md 1 100 1000
#
# Environment: ROUNDS (3); BENCH, BENCH_BUILD, BENCH_VENV, SKIP_SETUP as for run-core.sh; the harness's
# DURATION, WARMUP, SIZE, SERVER_CPU, LOAD_CPU, BUSY_POLL.
set -uo pipefail

OUT_FILE=""
if [ "${1:-}" = -o ]; then OUT_FILE="$2"; shift 2; fi
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0; fi
CONNS_LIST=("$@"); [ ${#CONNS_LIST[@]} -gt 0 ] || CONNS_LIST=(1 100 1000)
ROUNDS="${ROUNDS:-3}"
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "run-echo.sh: ROUNDS=$ROUNDS is not a whole number of at least 1" >&2; exit 2 ;; esac

SCRIPT=run-echo.sh
# shellcheck source=lib/peers.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"
ORDER=(c-epoll swift-gevent nio-1loop go-gomaxprocs1 gevent c-epoll#2)
STEPS=$((2 + ROUNDS * ${#CONNS_LIST[@]} * ${#ORDER[@]}))
peers_setup
step "building the peers into $BENCH_BUILD (the first NIO build takes minutes)"
with_heartbeat "building the peers" "$BENCH/build.sh" core go nio >&2 || die "the peer build failed"
step "building EchoServer (release)"
(cd "$ROOT" && with_heartbeat "building EchoServer" swift build -c release --product EchoServer >&2) ||
    die "swift build failed"
OURS="$ROOT/.build/release/EchoServer"

report_start echo

command_for() { # NAME -> the server command ({port} is replaced by the harness)
    case "$1" in
    c-epoll | c-epoll#2) echo "$(printf '%q' "$BIN/epoll_server") {port} echo" ;;
    swift-gevent) echo "$(printf '%q' "$OURS") {port}" ;;
    nio-1loop) echo "$(printf '%q' "$BIN/nio-echo") {port} echo" ;;
    go-gomaxprocs1) echo "env GOMAXPROCS=1 $(printf '%q' "$BIN/go-server") {port} echo" ;;
    gevent) echo "$(printf '%q' "$BENCH_VENV/bin/python") $(printf '%q' "$BENCH/peers/gevent/server.py") {port} echo" ;;
    esac
}

log "[run-echo] machine busy before: $(machine_busy_pct 1)% of all CPUs; raw lines: $RAW"
out "# Echo, ${SIZE}-byte ping-pong: swift-gevent against the peers, ${ROUNDS} interleaved round(s)"
out ""
out "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); ${WARMUP} s warm-up + ${DURATION} s per case; servers on CPU $SERVER_CPU, load generator on CPU $LOAD_CPU"
out "- command: \`ROUNDS=$ROUNDS Benchmarks/run-echo.sh ${CONNS_LIST[*]}\`; raw lines: \`Benchmarks/results/$(basename "$RAW")\`"
peer_rounds echo rt_per_s
out ""
out "Round trips per server CPU-second, swift-gevent ÷ peer, median of $ROUNDS round(s) (lowest-highest);"
out "targets: ≥ 0.9× C epoll, ≥ 1.3× NIO, ≥ 1.2× Go, ≥ 2.5× gevent:"
out ""
ratio_table
report_end "$OUT_FILE"
