# Shared by run-core.sh and run-echo.sh (sourced, not run): where the peer harness and its builds are,
# its shell library, its one-time setup, and the report each script prints and keeps.
#
# The caller sets SCRIPT (its name, for messages) before sourcing; afterwards it has HERE (Benchmarks/),
# ROOT (the repository), BENCH, BENCH_BUILD, BENCH_VENV, everything of ../shared/bench/lib/common.sh
# (log, die, kv, ratio, BIN, SERVER_CPU, ...), and the functions below.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BENCH="${BENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}"
export BENCH_BUILD="${BENCH_BUILD:-$HERE/.build-peers}"
export BENCH_VENV="${BENCH_VENV:-$BENCH_BUILD/venv}"

[ -d "$BENCH" ] || { echo "$SCRIPT: the peer harness is not at $BENCH; set BENCH=/path/to/shared/bench" >&2; exit 1; }
# shellcheck source=/dev/null
source "$BENCH/lib/common.sh"

# Progress: the caller sets STEPS (how many steps it will announce); step WHAT prints
# "[SCRIPT] (3/25, 1m05s) WHAT" on stderr before each one. The count lives in a file because steps are
# also announced from command substitutions (subshells).
STEPS="${STEPS:-0}"
STARTED_AT=$SECONDS
STEP_FILE="$(mktemp)"  # removed by report_end
step() {
    local n elapsed=$((SECONDS - STARTED_AT))
    n=$(($(wc -c <"$STEP_FILE") + 1))
    printf . >>"$STEP_FILE"
    log "[$SCRIPT] ($n/$STEPS, $((elapsed / 60))m$(printf '%02d' $((elapsed % 60)))s) $*"
}

# with_heartbeat WHAT COMMAND...: runs COMMAND and, while it runs, says every 30 s that WHAT is still
# going (a first build of the peers or of a release product takes minutes with no output of its own).
with_heartbeat() {
    local what="$1"; shift
    "$@" &
    local pid=$! waited=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        waited=$((waited + 1))
        if ((waited % 30 == 0)); then log "[$SCRIPT] ... still $what (${waited}s)"; fi
    done
    wait "$pid"
}

# peers_setup: the harness's one-time setup (apt + gevent's venv), unless done or SKIP_SETUP=1
peers_setup() {
    if [ "${SKIP_SETUP:-0}" != 1 ] && [ ! -x "$BENCH_VENV/bin/python" ]; then
        log "[$SCRIPT] installing the peers' toolchains and gevent (../shared/bench/setup.sh)"
        "$BENCH/setup.sh" || die "setup.sh failed"
    fi
}

# report_start KIND: RAW (Benchmarks/results/KIND-DATE.raw) for the raw lines, and out() to print a
# report line and keep it for report_end
report_start() {
    mkdir -p "$HERE/results"
    RAW="$HERE/results/$1-$(date -u +%Y%m%d-%H%M%S).raw"
    REPORT="$(mktemp)"
}
out() { printf '%s\n' "$*" | tee -a "$REPORT"; }

# report_end OUT_FILE: the closing line; the report is copied to OUT_FILE when one was given
report_end() {
    out ""
    out "_background CPU busy after: $(machine_busy_pct 1)% of all CPUs_"
    [ -n "$1" ] && cp "$REPORT" "$1" && log "[$SCRIPT] report written to $1"
    rm -f "$REPORT" "$STEP_FILE"
}
