#!/usr/bin/env bash
# Regular-file reads under the shim (preload/shim_file.c): a cached 4 KiB pread plain and from a greenlet
# (preadv2 RWF_NOWAIT first), and the hub's longest stall while a greenlet reads a 256 MiB file cold, with
# the offload (GEVENT_PATCH=all) and without it (GEVENT_PATCH=none: the read blocks the hub).
#   Benchmarks/shim/run-fileread.sh [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
library="${GEVENT_PRELOAD_PATH:-$here/../../.build-preload/release/libGeventPreload.so}"
[[ -f "$library" ]] || { echo "build the library first: scripts/build-preload.sh" >&2; exit 1; }
rounds=${1:-3}
# Not under /tmp, which may be a tmpfs (never cold, never offloaded).
work="$(mktemp -d "$here/../../.build-preload/fileread-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/fileread" "$here/fileread.c"
head -c $((256 << 20)) /dev/urandom > "$work/data"
sync
for round in $(seq "$rounds"); do
    plain=$("$work/fileread" cached "$work/data" 200000)
    shim=$(GEVENT_PATCH=all LD_PRELOAD="$library" "$work/fileread" cached "$work/data" 200000)
    offloaded=$(GEVENT_PATCH=all LD_PRELOAD="$library" "$work/fileread" stall "$work/data")
    blocking=$(GEVENT_PATCH=none LD_PRELOAD="$library" "$work/fileread" stall "$work/data")
    echo "round $round: cached 4 KiB pread ${plain} ns plain, ${shim} ns from a greenlet |" \
        "cold 256 MiB, offloaded: ${offloaded}; not patched: ${blocking}"
done
