#!/usr/bin/env bash
# Checks the raw context switch (Sources/CGreenlet/switch_*.S + context.c) with a C ping-pong test that
# verifies callee-saved registers and FP control state survive switches (Tests/ContextSwitch/):
#   - natively (gcc, the host's architecture), and
#   - for aarch64, cross-compiled with aarch64-linux-gnu-gcc -static and run under qemu-aarch64
#     (on an aarch64 host the native run covers it).
# Needs gcc, and for the aarch64 run gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user
# (scripts/install-deps.sh --tests installs them). Takes a few seconds.
#   scripts/check-context-switch.sh [ROUNDS]      ROUNDS of the register ring (default 100000 native,
#                                                 20000 under qemu)
# Exit status 0 when every run passed; the last line is "N passed, N failed" (one per architecture).
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf -- "** %s\n" "$*" >&2; }

sources=(
    Tests/ContextSwitch/context_switch_test.c
    Tests/ContextSwitch/probe.S
    Sources/CGreenlet/context.c
    Sources/CGreenlet/switch_x86_64.S
    Sources/CGreenlet/switch_aarch64.S
)
cflags=(-O2 -g -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
run_one() { # NAME ARGS... : runs a built test, counts the result
    local name="$1"
    shift
    log "$name: $*"
    if timeout 120 "$@"; then
        passed=$((passed + 1))
    else
        log "$name: FAILED (exit status $?)"
        failed=$((failed + 1))
    fi
}

host=$(uname -m)
if gcc "${cflags[@]}" -o "$work/native" "${sources[@]}"; then
    run_one "native $host" "$work/native" "${1:-100000}" 2000000
else
    log "native $host: the test did not compile"
    failed=$((failed + 1))
fi

if [[ "$host" != aarch64 ]]; then
    if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
        log "aarch64: aarch64-linux-gnu-gcc or qemu-aarch64 missing; install them with scripts/install-deps.sh --tests"
        failed=$((failed + 1))
    elif aarch64-linux-gnu-gcc "${cflags[@]}" -static -o "$work/aarch64" "${sources[@]}"; then
        run_one "aarch64 (qemu)" qemu-aarch64 "$work/aarch64" "${1:-20000}" 200000
    else
        log "aarch64: the test did not cross-compile"
        failed=$((failed + 1))
    fi
fi

echo "context-switch: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
