# Shared by run-core.sh, run-echo.sh and run-http.sh (sourced, not run): where the peer harness and its builds are,
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

# Statistics over the rounds of run-echo.sh and run-http.sh.
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

# peer_rounds KIND RATE_KEY: ROUNDS interleaved rounds of KIND (echo or http: the harness's KIND_case and
# KIND_row) over CONNS_LIST and ORDER, with the caller's command_for NAME; prints each round's table and
# keeps, per connection count, swift-gevent's rate per server CPU-second, its p99, and its ratio to each
# peer in OURS_PER_CPU, OURS_P99 and RATIOS (c-epoll against the mean of its two runs in the round).
peer_rounds() {
    local kind="$1" key="$2" header rule round c name l base ours epoll
    header="${kind^^}_HEADER"; rule="${kind^^}_RULE"
    declare -gA RATIOS=() OURS_PER_CPU=() OURS_P99=()
    for ((round = 1; round <= ROUNDS; round++)); do
        out ""
        out "Round $round of $ROUNDS:"
        out ""
        out "${!header}"
        out "${!rule}"
        for c in "${CONNS_LIST[@]}"; do
            local -A per=()
            local rows=()
            for name in "${ORDER[@]}"; do
                step "round $round: $name, $c connection(s), ${WARMUP} s warm-up + ${DURATION} s"
                "${kind}_case" "$name" "$SERVER_CPU" "$(command_for "$name")" "$c"
                echo "round=$round $CASE_LINE" >>"$RAW"
                rows+=("$CASE_LINE")
                per[$name]=$(per_cpu "$(kv "$CASE_LINE" "$key")" "$(kv "$CASE_LINE" srv_cpu_pct)")
                [ "$name" = swift-gevent ] && OURS_P99[$c]+="$(kv "$CASE_LINE" p99_us) "
                log "[$SCRIPT] round $round, $name @ $c: $(kv "$CASE_LINE" "$key")/s, ${per[$name]} per server CPU-s ($(kv "$CASE_LINE" status))"
            done
            base=$(mean "$(kv "${rows[0]}" "$key")" "$(kv "${rows[${#rows[@]}-1]}" "$key")")
            for l in "${rows[@]}"; do out "$("${kind}_row" "$l" "$base")"; done
            ours=${per[swift-gevent]}
            OURS_PER_CPU[$c]+="$ours "
            epoll=$(mean "${per[c-epoll]}" "${per[c-epoll#2]}")
            RATIOS[$c,epoll]+="$(ratio_value "$ours" "$epoll") "
            RATIOS[$c,nio]+="$(ratio_value "$ours" "${per[nio-1loop]}") "
            RATIOS[$c,go]+="$(ratio_value "$ours" "${per[go-gomaxprocs1]}") "
            RATIOS[$c,gevent]+="$(ratio_value "$ours" "${per[gevent]}") "
            unset per
        done
    done
}

# ratio_table: the medians (lowest-highest) peer_rounds kept, one row per connection count
ratio_table() {
    local c median_ours p99
    out "| conns | swift-gevent per CPU-s (median) | its p99 µs (median) | vs C epoll (mean of 2 per round) | vs NIO 1 loop | vs Go GOMAXPROCS=1 | vs gevent |"
    out "|---:|---:|---:|---:|---:|---:|---:|"
    for c in "${CONNS_LIST[@]}"; do
        read -r median_ours _ <<<"$(order_stats "${OURS_PER_CPU[$c]}")"
        read -r p99 _ <<<"$(order_stats "${OURS_P99[$c]}")"
        out "| $c | $(fmt_num "$median_ours") | $(fmt_us "$p99") | $(spread "${RATIOS[$c,epoll]}") | $(spread "${RATIOS[$c,nio]}") | $(spread "${RATIOS[$c,go]}") | $(spread "${RATIOS[$c,gevent]}") |"
    done
}
