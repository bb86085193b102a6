#!/usr/bin/env bash
# Runs swift-gevent's microbenchmarks and the peers of ../shared/bench in one run, on this machine, and
# prints a markdown table with the ratios (ours ÷ peer) that issues 2 and 3 ask for.
#
#   Benchmarks/run-core.sh                 # everything (~4 min once built)
#   Benchmarks/run-core.sh --million       # also 1,000,000 sleeping greenlets (stock settings on Linux 6.13+, INSTALL.md)
#   Benchmarks/run-core.sh -o FILE.md      # also write the report to FILE.md
#
# Environment: BENCH (the peer harness, default ../shared/bench beside the repository), BENCH_BUILD (where
# the peers are built, default Benchmarks/.build-peers), BENCH_VENV (gevent's venv, default
# $BENCH_BUILD/venv), REPS (5), SKIP_SETUP=1 (do not run the harness's setup.sh), SERVER_CPU (0).
# Every benchmark runs pinned to SERVER_CPU, Go with GOMAXPROCS=1, each in its own process.
set -uo pipefail

REPS="${REPS:-5}"
MILLION=0
OUT_FILE=""
while [ $# -gt 0 ]; do
    case "$1" in
    --million) MILLION=1 ;;
    -o) OUT_FILE="$2"; shift ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-core.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

SCRIPT=run-core.sh
# shellcheck source=lib/peers.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"
STEPS=$((2 + 23 + MILLION))
peers_setup
step "building the peers into $BENCH_BUILD (minutes the first time)"
with_heartbeat "building the peers" "$BENCH/build.sh" core c go micro >&2 || die "the peer build failed"
step "building GeventMicro (release; minutes the first time)"
(cd "$HERE" && with_heartbeat "building GeventMicro" swift build -c release --product GeventMicro >&2) ||
    die "swift build failed"
OURS="$HERE/.build/release/GeventMicro"
PY="$BENCH_VENV/bin/python"
GEVENT_MICRO="$HERE/peers/gevent_micro.py"

report_start core

# run EXE ARGS... -> the bench= line, pinned; a failure line when there is none
run() {
    local l
    step "$(basename "$1") ${*:2}"
    l=$(timeout -k 2 300 taskset -c "$SERVER_CPU" "$@" 2>/dev/null | grep '^bench=' | tail -n1)
    [ -n "$l" ] || l="bench=? impl=$(basename "$1") status=failed"
    echo "$l" >>"$RAW"
    log "  $l"
    echo "$l"
}

value() { # LINE -> its figure (whichever unit the benchmark reports)
    local k
    for k in ns_per_switch ns_per_task ns_per_call ns_per_item bytes_per_task; do
        local v; v=$(kv "$1" "$k")
        [ -n "$v" ] && { echo "$v"; return; }
    done
}

row() { # LABEL UNIT OURS_LINE PEER_LINE TARGET
    local ours peer r
    ours=$(value "$3"); peer=$(value "$4")
    r=$(ratio "$ours" "$peer")
    out "| $1 | $ours $2 | $(kv "$4" impl): $peer $2 | **$r** | $5 |"
}

log "[run-core] machine busy before: $(machine_busy_pct 1)% of all CPUs; raw lines: $RAW"
export GOMAXPROCS=1
BOOST=$(run "$BIN/ctx_boost" 10000000 "$REPS")
GREENLET=$(run "$PY" "$BENCH/micro/py_micro.py" switch 1000000 "$REPS")
GOCHAN=$(run "$BIN/go-micro" switch 2000000 "$REPS")
GOSPAWN=$(run "$BIN/go-micro" spawn 1000000 "$REPS")
GOMEM=$(run "$BIN/go-micro" mem 100000)
GEVSPAWN=$(run "$PY" "$BENCH/micro/py_micro.py" spawn 100000 "$REPS")
GEVMEM=$(run "$PY" "$BENCH/micro/py_micro.py" mem 100000)
GEVSLEEP=$(run "$PY" "$GEVENT_MICRO" pingpong 200000 "$REPS")
GEVQUEUE=$(run "$PY" "$GEVENT_MICRO" queue 200000 "$REPS")
GEVCHAN=$(run "$PY" "$GEVENT_MICRO" channel 200000 "$REPS")
GEVTP=$(run "$PY" "$GEVENT_MICRO" tpapply 5000 "$REPS")
GEVPOOL=$(run "$PY" "$GEVENT_MICRO" poolmap 100000 "$REPS")

SWITCH=$(run "$OURS" switch 10000000 "$REPS")
JUMP=$(run "$OURS" jump 10000000 "$REPS")
NOEX=$(run "$OURS" switch-noex 10000000 "$REPS")
SLEEP0=$(run "$OURS" pingpong 2000000 "$REPS")
SPAWN=$(run "$OURS" spawn 1000000 "$REPS")
SPAWN1=$(run "$OURS" spawn1 1000000 "$REPS")
MEM=$(run "$OURS" mem 100000)
QUEUE=$(run "$OURS" queue 1000000 "$REPS")
CHANNEL=$(run "$OURS" channel 1000000 "$REPS")
TP=$(run "$OURS" tpapply 20000 "$REPS")
POOL=$(run "$OURS" poolmap 100000 "$REPS")
if [ "$MILLION" = 1 ]; then
    MILLION_LINE=$(run "$OURS" mem 1000000)
fi

out "# swift-gevent core microbenchmarks against the peers, one run"
out ""
out "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs ($(LC_ALL=C lscpu | sed -n 's/^Model name: *//p' | head -n1)), $(uname -r)"
out "- everything pinned to CPU $SERVER_CPU (taskset), Go with GOMAXPROCS=1; median of $REPS repetitions"
out "- command: \`Benchmarks/run-core.sh$([ "$MILLION" = 1 ] && echo " --million")\`; raw lines: \`Benchmarks/results/$(basename "$RAW")\`"
out ""
out "| benchmark | swift-gevent | peer | ratio (ours ÷ peer) | target |"
out "|---|---:|---|---:|---|"
row "raw switch (cgreenlet_switch: errno, exclusivity swap, current)" ns "$SWITCH" "$BOOST" "≤ 1.5×"
row "… without the exclusivity swap" ns "$NOEX" "$BOOST" "-"
row "… the bare assembly jump" ns "$JUMP" "$BOOST" "-"
row "sleep(.zero) hand-over between two greenlets" ns "$SLEEP0" "$GOCHAN" "≤ 0.5×"
row "sleep(.zero) hand-over" ns "$SLEEP0" "$GREENLET" "far below"
row "sleep(.zero) hand-over" ns "$SLEEP0" "$GEVSLEEP" "-"
row "spawn + run + joinAll, per greenlet" ns "$SPAWN" "$GOSPAWN" "≤ 1×"
row "spawn + run + joinAll, per greenlet" ns "$SPAWN" "$GEVSPAWN" "-"
row "spawn + join, one at a time" ns "$SPAWN1" "$GOSPAWN" "-"
row "idle memory per sleeping greenlet (100,000)" B "$MEM" "$GOMEM" "≤ 4.8 KB"
row "idle memory per sleeping greenlet (100,000)" B "$MEM" "$GEVMEM" "-"
row "Queue ping-pong, per hand-over" ns "$QUEUE" "$GOCHAN" "≤ 0.7×"
row "Queue ping-pong, per hand-over" ns "$QUEUE" "$GEVQUEUE" "-"
row "Channel ping-pong, per hand-over" ns "$CHANNEL" "$GOCHAN" "-"
row "Channel ping-pong, per hand-over" ns "$CHANNEL" "$GEVCHAN" "-"
row "ThreadPool.apply round trip" ns "$TP" "$GEVTP" "≤ 0.33× (3× faster)"
row "Pool(size: 100).map, per item" ns "$POOL" "$GEVPOOL" "-"
if [ "$MILLION" = 1 ]; then
    out ""
    out "1,000,000 sleeping greenlets: \`$MILLION_LINE\`"
fi
report_end "$OUT_FILE"
