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
# c-ares and the C++ runtime the Swift runtime needs go into the library (Debian's libcares.a and
# libstdc++.a are position-independent): a libcares.pc, found first, puts a directory that holds only
# those archives at the head of the search path, so -lcares and -lstdc++ link them statically. Every
# process under gevent-run then loads glibc's libraries and libgcc_s, nothing more. --exclude-libs and the
# version script keep every name but the interposers and gevent.h's local (preload/libGeventPreload.map).
static="$(pwd)/$scratch/static-libs"
mkdir -p "$static"
ln -sf "$(pkg-config --variable=libdir libcares)/libcares.a" "$static/libcares.a"
ln -sf "$(c++ -print-file-name=libstdc++.a)" "$static/libstdc++.a"
printf 'Name: c-ares\nDescription: c-ares, static\nVersion: %s\nCflags: %s\nLibs: -L%s -lcares\n' \
    "$(pkg-config --modversion libcares)" "$(pkg-config --cflags libcares)" "$static" >"$static/libcares.pc"
# The toolchain's lld, not gold: gold leaves the names the version script made local in .dynsym (local
# binding, harmless, but `nm -D` lists them); lld turns their relocations into relative ones. Both
# products get the same Swift flags, so neither build invalidates the other's.
swift_flags=(-Xswiftc -static-stdlib -Xswiftc -use-ld=lld)
PKG_CONFIG_PATH="$static${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
    swift build -c release --product GeventPreload "${swift_flags[@]}" --scratch-path "$scratch" \
    -Xlinker --exclude-libs=ALL -Xlinker --version-script="$(pwd)/preload/libGeventPreload.map" "$@"
swift build -c release --product gevent-run "${swift_flags[@]}" --scratch-path "$scratch" "$@"
library="$scratch/release/libGeventPreload.so"
# What every process under gevent-run loads: no Swift runtime, no libev or c-ares of the system.
needed=$(readelf -d "$library" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for forbidden in libswift libev.so libcares.so libdispatch libFoundation libstdc++; do
    if grep -q "$forbidden" <<<"$needed"; then
        echo "error: $library needs $forbidden:" >&2
        echo "$needed" >&2
        exit 1
    fi
done
# The pkg-config file for C programs that link the library (gevent.h's API) instead of preloading it.
root="$(pwd)"
sed -e "s|@INCLUDEDIR@|$root/preload/include|" -e "s|@LIBDIR@|$root/$scratch/release|" preload/gevent.pc.in \
    >"$scratch/release/gevent.pc"
echo "built $library, $scratch/release/gevent-run and $scratch/release/gevent.pc"
