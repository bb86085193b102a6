#!/usr/bin/env bash
# Builds the preload library (libGeventPreload.so) with the Swift runtime linked in, so it runs where no
# Swift toolchain is installed, into its own scratch path (flags differ from the normal build's):
#   scripts/build-preload.sh   -> .build-preload/release/{libGeventPreload.so, gevent-run, gevent.pc}
# `--static-swift-stdlib` is ignored for dynamic libraries; `-Xswiftc -static-stdlib` works (see
# ../shared/reference/swift-ecosystem-notes.md §4.2).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scratch=.build-preload
products=(GeventPreload gevent-run)
for product in "${products[@]}"; do
    swift build -c release --product "$product" -Xswiftc -static-stdlib --scratch-path "$scratch" "$@"
done
library="$scratch/release/libGeventPreload.so"
if ldd "$library" | grep -q libswift; then
    echo "error: $library still needs the Swift runtime:" >&2
    ldd "$library" >&2
    exit 1
fi
# The pkg-config file for C programs that link the library (gevent.h's API) instead of preloading it.
root="$(pwd)"
sed -e "s|@INCLUDEDIR@|$root/preload/include|" -e "s|@LIBDIR@|$root/$scratch/release|" preload/gevent.pc.in \
    >"$scratch/release/gevent.pc"
echo "built $library, $scratch/release/gevent-run and $scratch/release/gevent.pc"
