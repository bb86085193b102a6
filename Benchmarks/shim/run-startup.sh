#!/usr/bin/env bash
# Process start with and without LD_PRELOAD=libGeventPreload.so: N runs of an empty C program each way,
# interleaved, reporting the mean milliseconds per exec.   Usage: run-startup.sh [N]   (default 300)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
library="${GEVENT_PRELOAD_PATH:-$here/../../.build-preload/release/libGeventPreload.so}"
[[ -f "$library" ]] || { echo "build the library first: scripts/build-preload.sh" >&2; exit 1; }
runs="${1:-300}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/empty" "$here/startup.c"
time_runs() { # prints ms per run of: env "$@" empty
    local start end
    start=$(date +%s%N)
    for ((i = 0; i < runs; i++)); do env "$@" "$work/empty"; done
    end=$(date +%s%N)
    awk -v ns="$((end - start))" -v runs="$runs" 'BEGIN { printf "%.3f", ns / runs / 1000000 }'
}
for round in 1 2 3; do
    plain=$(time_runs GEVENT_PATCH=all)
    preloaded=$(time_runs GEVENT_PATCH=all LD_PRELOAD="$library")
    echo "round $round: plain ${plain} ms, LD_PRELOAD ${preloaded} ms, extra $(awk -v a="$preloaded" -v b="$plain" 'BEGIN { printf "%.3f", a - b }') ms per exec"
done
