#!/usr/bin/env bash
# dns_mass_resolve.sh - 1,000 names resolved concurrently against a local dnsmasq: ThreadResolver,
# AresResolver and BlockingResolver (Examples/DNSMassResolve) next to gevent's thread and ares resolvers,
# and unaware C code (../shim/massresolve.c) calling libc's getaddrinfo from 1,000 pthreads, and from
# 1,000 greenlets under gevent-run with the thread and the ares resolver.
#
#   sudo ./dns_mass_resolve.sh [REPETITIONS=3]
#
# Runs itself again inside `unshare -mn` (root): a private network namespace whose loopback carries
# dnsmasq on 127.0.0.1:53 and a private mount namespace whose /etc/resolv.conf points at it, so libc (the
# thread and blocking resolvers) and c-ares resolve the same generated names from the same server and
# nothing leaves the machine. Needs dnsmasq, util-linux (unshare), iproute2 (ip), a release build of
# DNSMassResolve (swift build -c release --product DNSMassResolve), the preload library
# (scripts/build-preload.sh) and gevent from ../shared/bench/setup.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
REPS="${1:-3}"
if [ "${DNS_BENCH_INSIDE:-}" != 1 ]; then
    exec unshare -mn env DNS_BENCH_INSIDE=1 "$0" "$@"
fi
WORK="$(mktemp -d /tmp/dns-bench-XXXXXX)"
trap 'kill "$DM" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for i in $(seq 0 2999); do echo "10.$(( (i >> 8) & 255 )).$(( i & 255 )).$(( 1 + i % 250 )) host-$i.gevent.test"; done >"$WORK/hosts"
echo "nameserver 127.0.0.1" >"$WORK/resolv.conf"
ip link set lo up
mount --bind "$WORK/resolv.conf" /etc/resolv.conf
dnsmasq --no-daemon --port=53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
    --addn-hosts="$WORK/hosts" --local=/gevent.test/ --pid-file="$WORK/dnsmasq.pid" --cache-size=10000 \
    --user=root >"$WORK/dnsmasq.log" 2>&1 &
DM=$!
sleep 0.5
SWIFT_BIN="$ROOT/.build/release/DNSMassResolve"
GEVENT_RUN="$ROOT/.build-preload/release/gevent-run"
cc -O2 -o "$WORK/massresolve" "$HERE/../shim/massresolve.c" -lpthread
PYTHON="$ROOT/../shared/bench/.venv/bin/python"
[ -x "$PYTHON" ] || PYTHON="/work/shared/bench/.venv/bin/python"
for _ in $(seq "$REPS"); do
    for resolver in thread ares block; do
        taskset -c 0 "$SWIFT_BIN" --resolver "$resolver" --server 127.0.0.1:53 \
            --names 'host-{i}.gevent.test' --count 1000 --concurrency 1000
    done
    printf 'C pthreads, plain libc: '
    taskset -c 0 "$WORK/massresolve" threads 'host-%d.gevent.test' 1000
    for resolver in thread ares; do
        printf 'C greenlets, gevent-run --resolver %s: ' "$resolver"
        GEVENT_RESOLVER_NAMESERVERS=127.0.0.1 taskset -c 0 "$GEVENT_RUN" --patch all --resolver "$resolver" -- \
            "$WORK/massresolve" greenlets 'host-%d.gevent.test' 1000
    done
    for resolver in thread ares; do
        GEVENT_RESOLVER=$resolver GEVENT_RESOLVER_NAMESERVERS=127.0.0.1 \
            taskset -c 0 "$PYTHON" "$HERE/gevent_mass_resolve.py" 1000 1000
    done
done
