#!/usr/bin/env bash
# Subprocess costs against their limits, in one run on this machine:
#   spawn + wait of /bin/true, one after another from one thread: swift-gevent's Subprocess vs
#   posix_spawn + waitpid in C (the limit), Python's subprocess.run and, when BENCH_VENV has gevent,
#   gevent.subprocess;
#   100 `sleep 0.2` children at once from 100 greenlets (C: 100 posix_spawn then 100 waitpid): wall time.
#
#   Benchmarks/process/run-process.sh        # N=2000 spawns, REPS=3 (about a minute once built)
#
# Environment: N (2000), CHILDREN (100), REPS (3), BENCH_VENV (a venv with gevent; default
# Benchmarks/.build-peers/venv, skipped when absent), CPU (pin everything to this CPU; default unpinned).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCHMARKS="$(dirname "$HERE")"
N="${N:-2000}"
CHILDREN="${CHILDREN:-100}"
REPS="${REPS:-3}"
VENV="${BENCH_VENV:-$BENCHMARKS/.build-peers/venv}"
PIN=()
if [ -n "${CPU:-}" ]; then PIN=(taskset -c "$CPU"); fi
export PATH="/opt/swift/usr/bin:$PATH"

(cd "$BENCHMARKS" && swift build -c release --product GeventMicro >&2)
OURS="$BENCHMARKS/.build/release/GeventMicro"
C_BIN="$BENCHMARKS/.build/spawn_wait"
cc -O2 -o "$C_BIN" "$HERE/spawn_wait.c"

lines=()
lines+=("$("${PIN[@]}" "$OURS" subprocess "$N" "$REPS")")
lines+=("$("${PIN[@]}" "$C_BIN" serial "$N" "$REPS")")
lines+=("$("${PIN[@]}" python3 "$HERE/spawn_wait.py" serial "$N" "$REPS" stdlib)")
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import gevent' 2>/dev/null; then
    lines+=("$("${PIN[@]}" "$VENV/bin/python" "$HERE/spawn_wait.py" serial "$N" "$REPS" gevent)")
fi
lines+=("$("${PIN[@]}" "$OURS" children "$CHILDREN" "$REPS")")
lines+=("$("${PIN[@]}" "$C_BIN" children "$CHILDREN" "$REPS")")
lines+=("$("${PIN[@]}" python3 "$HERE/spawn_wait.py" children "$CHILDREN" "$REPS" stdlib)")
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import gevent' 2>/dev/null; then
    lines+=("$("${PIN[@]}" "$VENV/bin/python" "$HERE/spawn_wait.py" children "$CHILDREN" "$REPS" gevent)")
fi

printf '%s\n' "${lines[@]}"
echo
# The table: spawns per second (from the median) and the ratio to swift-gevent; wall times for children.
printf '%s\n' "${lines[@]}" | awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      if (f["bench"] == "spawn_wait_true") { per[f["impl"]] = 1e9 / f["ns_per_spawn"]; order[++n] = f["impl"] }
      else { wall[f["impl"]] = f["wall_ms"]; worder[++m] = f["impl"] } }
    END {
      print "| spawn + wait of /bin/true | per second | ÷ swift-gevent |"; print "|---|---|---|"
      for (i = 1; i <= n; i++) printf "| %s | %.0f | %.2f |\n", order[i], per[order[i]], per[order[i]] / per["swift-gevent"]
      print ""; print "| 100 × `sleep 0.2` at once | wall ms |"; print "|---|---|"
      for (i = 1; i <= m; i++) printf "| %s | %s |\n", worder[i], wall[worder[i]]
    }'
