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
    rm -f "$REPORT"
}
