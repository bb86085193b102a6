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

# order_stats "v1 v2 ..." -> "median lowest highest count" of the values, or nothing for an empty list
order_stats() {
    LC_ALL=C awk -v list="$1" 'BEGIN {
        n = split(list, v, " "); if (n == 0) exit
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        print ((n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2), v[1], v[n], n
    }'
}
# spread "r1 r2 ..." -> "median (lowest-highest)" of the ratios, formatted as ratio() does
spread() {
    local median lowest highest count
    read -r median lowest highest count <<<"$(order_stats "$1")"
    if [ -z "$median" ]; then echo "-"
    elif [ "$count" = 1 ]; then LC_ALL=C printf '%.2fx\n' "$median"
    else LC_ALL=C printf '%.2fx (%.2f-%.2f)\n' "$median" "$lowest" "$highest"; fi
}
# ratio_value OURS PEER -> the bare ratio, or nothing when either is missing
ratio_value() { LC_ALL=C awk -v a="$1" -v b="$2" 'BEGIN{ if (a != "" && b != "" && b + 0 != 0) printf "%.4f\n", a / b }'; }

log "[run-echo] machine busy before: $(machine_busy_pct 1)% of all CPUs; raw lines: $RAW"
out "# Echo, ${SIZE}-byte ping-pong: swift-gevent against the peers, ${ROUNDS} interleaved round(s)"
out ""
out "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); ${WARMUP} s warm-up + ${DURATION} s per case; servers on CPU $SERVER_CPU, load generator on CPU $LOAD_CPU"
out "- command: \`ROUNDS=$ROUNDS Benchmarks/run-echo.sh ${CONNS_LIST[*]}\`; raw lines: \`Benchmarks/results/$(basename "$RAW")\`"
declare -A RATIOS=() OURS_PER_CPU=()
for ((round = 1; round <= ROUNDS; round++)); do
    out ""
    out "Round $round of $ROUNDS:"
    out ""
    out "$ECHO_HEADER"
    out "$ECHO_RULE"
    for c in "${CONNS_LIST[@]}"; do
        declare -A PER_CPU=()
        rows=()
        for name in "${ORDER[@]}"; do
            step "round $round: $name, $c connection(s), ${WARMUP} s warm-up + ${DURATION} s"
            echo_case "$name" "$SERVER_CPU" "$(command_for "$name")" "$c"
            echo "round=$round $CASE_LINE" >>"$RAW"
            rows+=("$CASE_LINE")
            PER_CPU[$name]=$(per_cpu "$(kv "$CASE_LINE" rt_per_s)" "$(kv "$CASE_LINE" srv_cpu_pct)")
            log "[run-echo] round $round, $name @ $c: $(kv "$CASE_LINE" rt_per_s)/s, ${PER_CPU[$name]} per server CPU-s ($(kv "$CASE_LINE" status))"
        done
        base=$(mean "$(kv "${rows[0]}" rt_per_s)" "$(kv "${rows[${#rows[@]}-1]}" rt_per_s)")
        for l in "${rows[@]}"; do out "$(echo_row "$l" "$base")"; done
        ours=${PER_CPU[swift-gevent]}
        OURS_PER_CPU[$c]+="$ours "
        epoll=$(mean "${PER_CPU[c-epoll]}" "${PER_CPU[c-epoll#2]}")
        RATIOS[$c,epoll]+="$(ratio_value "$ours" "$epoll") "
        RATIOS[$c,nio]+="$(ratio_value "$ours" "${PER_CPU[nio-1loop]}") "
        RATIOS[$c,go]+="$(ratio_value "$ours" "${PER_CPU[go-gomaxprocs1]}") "
        RATIOS[$c,gevent]+="$(ratio_value "$ours" "${PER_CPU[gevent]}") "
        unset PER_CPU
    done
done
out ""
out "Round trips per server CPU-second, swift-gevent ÷ peer, median of $ROUNDS round(s) (lowest-highest);"
out "targets: ≥ 0.9× C epoll, ≥ 1.3× NIO, ≥ 1.2× Go, ≥ 2.5× gevent:"
out ""
out "| conns | swift-gevent per CPU-s (median) | vs C epoll (mean of 2 per round) | vs NIO 1 loop | vs Go GOMAXPROCS=1 | vs gevent |"
out "|---:|---:|---:|---:|---:|---:|"
for c in "${CONNS_LIST[@]}"; do
    read -r median_ours _ <<<"$(order_stats "${OURS_PER_CPU[$c]}")"
    out "| $c | $(fmt_num "$median_ours") | $(spread "${RATIOS[$c,epoll]}") | $(spread "${RATIOS[$c,nio]}") | $(spread "${RATIOS[$c,go]}") | $(spread "${RATIOS[$c,gevent]}") |"
done
report_end "$OUT_FILE"
