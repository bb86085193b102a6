#!/usr/bin/env bash
# Installs the Debian packages swift-gevent needs; installs only what is missing.
#   scripts/install-deps.sh          what building and running programs needs
#   scripts/install-deps.sh --tests  plus what the test suite and CI need
# The Swift toolchain itself is not a Debian package: see INSTALL.md.
set -euo pipefail

log() { printf -- "** %s\n" "$*" >&2; }

# Build and run: libev (the event loop), c-ares (DNS), pkg-config to find c-ares, libpq, libcurl and OpenSSL;
# libpq-dev, libhiredis-dev and libcurl4-openssl-dev are the unaware C client libraries the shim's
# examples (IntroExample among them) and tests use; libssl-dev is OpenSSL 3 for GeventTLS, and
# ca-certificates is the system trust store its clients verify servers with.
packages=(libev-dev libc-ares-dev pkgconf libpq-dev libhiredis-dev libcurl4-openssl-dev libssl-dev ca-certificates)
if [[ "${1:-}" == "--tests" ]]; then
    # The aarch64 context-switch check cross-compiles and runs under user-mode QEMU.
    packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
    # Networking tests start a real DNS server on 127.0.0.1.
    packages+=(dnsmasq-base)
    # The shim's tests: real servers for libpq and hiredis (scripts/test-services.sh), the clients and
    # programs run under gevent-run (psql comes with postgresql), C and C++ compilers (a fixture uses C++
    # static locals) with a static libc.
    packages+=(postgresql redis-server redis-tools curl python3 gcc g++ libc6-dev)
    # Programs with event and DNS libraries of their own, run under gevent-run: libevent's C API, and
    # Python gevent and pycares from PyPI in a virtual environment (scripts/test-venv.sh);
    # the HTTP parser's differential run installs h11 into one too (scripts/fuzz-http.sh).
    packages+=(libevent-dev python3-venv)
    # A threaded program nobody here wrote, run with its threads as greenlets: tinyproxy, without the
    # package that starts it as a service.
    packages+=(tinyproxy-bin)
    # The TLS tests make their certificates with openssl(1) and use s_client/s_server as peers.
    packages+=(openssl)
    # CI checks the C sources against the checked-in .clang-format.
    packages+=(clang-format)
    # CPython's own socket/select/signal/subprocess/ssl suites run plain and under gevent-run
    # (scripts/cpython-under-shim.sh); bookworm's python3 is 3.11.
    packages+=(libpython3.11-testsuite)
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
