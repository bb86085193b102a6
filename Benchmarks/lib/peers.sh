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

# The servers of run-echo.sh and run-http.sh, in the order each round runs them: the C baseline first and
# last, so that drift within a round shows.
ORDER=(c-epoll swift-gevent nio-1loop go-gomaxprocs1 gevent c-epoll#2)

# build_peers: the harness's setup and the peers' builds (C, Go, NIO)
build_peers() {
    peers_setup
    step "building the peers into $BENCH_BUILD (the first NIO build takes minutes)"
    with_heartbeat "building the peers" "$BENCH/build.sh" core go nio >&2 || die "the peer build failed"
}

# peer_command NAME MODE -> the server command of NAME in MODE (echo or http; {port} is replaced by the
# harness); swift-gevent's is the caller's OURS_COMMAND
peer_command() {
    case "$1" in
    c-epoll | c-epoll#2) echo "$(printf '%q' "$BIN/epoll_server") {port} $2" ;;
    swift-gevent) echo "$OURS_COMMAND" ;;
    nio-1loop) echo "$(printf '%q' "$BIN/nio-echo") {port} $2" ;;
    go-gomaxprocs1) echo "env GOMAXPROCS=1 $(printf '%q' "$BIN/go-server") {port} $2" ;;
    gevent) echo "$(printf '%q' "$BENCH_VENV/bin/python") $(printf '%q' "$BENCH/peers/gevent/server.py") {port} $2" ;;
    esac
}

# peer_rounds KIND RATE_KEY: ROUNDS interleaved rounds of KIND (echo or http: the harness's KIND_case and
# KIND_row) over CONNS_LIST and ORDER, with peer_command; prints each round's table and
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
                "${kind}_case" "$name" "$SERVER_CPU" "$(peer_command "$name" "$kind")" "$c"
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

# round_arguments SCRIPT_FILE HELP_LINES DEFAULT_CONNS... -- ARGS...: reads "[-o FILE.md] [CONNS...]" and
# ROUNDS into OUT_FILE, CONNS_LIST and ROUNDS; -h prints lines 2..HELP_LINES of the script's header
round_arguments() {
    local file="$1" help_lines="$2"; shift 2
    local defaults=()
    while [ "$1" != -- ]; do defaults+=("$1"); shift; done
    shift
    OUT_FILE=""
    if [ "${1:-}" = -o ]; then OUT_FILE="$2"; shift 2; fi
    if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then sed -n "2,${help_lines}p" "$file" | sed 's/^# \{0,1\}//'; exit 0; fi
    CONNS_LIST=("$@"); [ ${#CONNS_LIST[@]} -gt 0 ] || CONNS_LIST=("${defaults[@]}")
    ROUNDS="${ROUNDS:-3}"
    case "$ROUNDS" in '' | *[!0-9]* | 0) echo "$SCRIPT: ROUNDS=$ROUNDS is not a whole number of at least 1" >&2; exit 2 ;; esac
    STEPS=$((2 + ROUNDS * ${#CONNS_LIST[@]} * ${#ORDER[@]}))
}

# peer_benchmark KIND RATE_KEY PRODUCT ARGS TITLE LOAD RATE_TEXT TARGETS: builds the peers and our PRODUCT
# (release; its command is PRODUCT ARGS, {port} replaced by the harness), runs peer_rounds, and prints the
# report: TITLE, the setup with LOAD (what drives the servers), each round, and the ratio table of
# RATE_TEXT per server CPU-second against TARGETS.
peer_benchmark() {
    local kind="$1" key="$2" product="$3" args="$4" title="$5" load="$6" rate_text="$7" targets="$8"
    build_peers
    step "building $product (release)"
    (cd "$ROOT" && with_heartbeat "building $product" swift build -c release --product "$product" >&2) ||
        die "swift build failed"
    OURS_COMMAND="$(printf '%q' "$ROOT/.build/release/$product") $args"
    report_start "$kind"
    log "[$SCRIPT] machine busy before: $(machine_busy_pct 1)% of all CPUs; raw lines: $RAW"
    out "# $title: swift-gevent against the peers, ${ROUNDS} interleaved round(s)"
    out ""
    out "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); ${WARMUP} s warm-up + ${DURATION} s per case; servers on CPU $SERVER_CPU, $load on CPU $LOAD_CPU"
    out "- command: \`ROUNDS=$ROUNDS Benchmarks/$SCRIPT ${CONNS_LIST[*]}\`; raw lines: \`Benchmarks/results/$(basename "$RAW")\`"
    peer_rounds "$kind" "$key"
    out ""
    out "$rate_text per server CPU-second, swift-gevent ÷ peer, median of $ROUNDS round(s) (lowest-highest);"
    out "targets: $targets:"
    out ""
    ratio_table
    report_end "$OUT_FILE"
}
