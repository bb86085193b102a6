#!/usr/bin/env bash
# Installs the Debian packages swift-gevent needs; installs only what is missing.
#   scripts/install-deps.sh          what building and running programs needs
#   scripts/install-deps.sh --tests  plus what the test suite and CI need
# The Swift toolchain itself is not a Debian package: see INSTALL.md.
set -euo pipefail

log() { printf -- "** %s\n" "$*" >&2; }

# Build and run: libev (the event loop), c-ares (DNS), pkg-config to find c-ares and libpq; libpq-dev and
# libhiredis-dev are the unaware C client libraries the shim's examples and tests use.
packages=(libev-dev libc-ares-dev pkgconf libpq-dev libhiredis-dev)
if [[ "${1:-}" == "--tests" ]]; then
    # The aarch64 context-switch check cross-compiles and runs under user-mode QEMU.
    packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
    # Networking tests start a real DNS server on 127.0.0.1.
    packages+=(dnsmasq-base)
    # The shim's tests: real servers for libpq and hiredis (scripts/test-services.sh), the clients and
    # programs run under gevent-run (psql comes with postgresql), a C compiler with a static libc.
    packages+=(postgresql redis-server redis-tools curl python3 gcc libc6-dev)
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    log "all packages present: ${packages[*]}"
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
    sudo=(sudo)
fi
log "installing: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
