#!/usr/bin/env bash
# Cost of a pass-through read() with libGeventPreload.so in front of it. A stand-in libc read without a
# syscall (fakeread.c) is preloaded after the shim, so the difference is the shim's own work:
#   fake only            program -> fake read
#   shim, GEVENT_PATCH=all   program -> shim (patched, but this thread has no hub) -> fake read
#   shim, GEVENT_PATCH=none  program -> shim (nothing patched) -> fake read
# It also times read(fd, buf, 0) on a real pipe with and without the shim (syscall included, noisier), and
# from a greenlet, where the shim takes its cooperative path (a ready fd: one preadv2(RWF_NOWAIT), no wait).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
library="${GEVENT_PRELOAD_PATH:-$here/../../.build-preload/release/libGeventPreload.so}"
[[ -f "$library" ]] || { echo "build the library first: scripts/build-preload.sh" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/passthrough" "$here/passthrough.c"
cc -O2 -shared -fPIC -o "$work/libfakeread.so" "$here/fakeread.c"
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
for round in 1 2 3 4 5; do
    fake=$(LD_PRELOAD="$work/libfakeread.so" "${pin[@]}" "$work/passthrough" 20000000 3)
    all=$(GEVENT_PATCH=all LD_PRELOAD="$library $work/libfakeread.so" "${pin[@]}" "$work/passthrough" 20000000 3)
    none=$(GEVENT_PATCH=none LD_PRELOAD="$library $work/libfakeread.so" "${pin[@]}" "$work/passthrough" 20000000 3)
    plain=$("${pin[@]}" "$work/passthrough" 1000000 5)
    shim=$(GEVENT_PATCH=all LD_PRELOAD="$library" "${pin[@]}" "$work/passthrough" 1000000 5)
    greenlet=$(GEVENT_PATCH=all LD_PRELOAD="$library" "${pin[@]}" "$work/passthrough" 1000000 5 greenlet)
    echo "round $round: no-syscall read ${fake} ns; +shim(all) ${all} ns; +shim(none) ${none} ns |" \
        "pipe read ${plain} ns, with shim ${shim} ns, cooperative path in a greenlet ${greenlet} ns"
done
