#!/usr/bin/env bash
# CPython's own suites for the calls the shim interposes (sockets, select/poll, signals, subprocesses, TLS,
# time), run plain and under gevent-run with every area patched; fails when a test that passes plain fails,
# errors or hangs under gevent-run. Needs Debian's python3 and libpython3-testsuite (install-deps --tests)
# and the preload library (scripts/build-preload.sh).
#   scripts/cpython-under-shim.sh [MODULE...]
set -euo pipefail
cd "$(dirname "$0")/.."
python=/usr/bin/python3
gevent_run=.build-preload/release/gevent-run
out=.build-cpython
modules=("$@")
if [[ ${#modules[@]} -eq 0 ]]; then
    modules=(test_select test_selectors test_poll test_signal test_socket test_subprocess test_ssl test_time)
fi
[[ -x "$gevent_run" ]] || { echo "no $gevent_run: run scripts/build-preload.sh first" >&2; exit 1; }
"$python" -c 'import test.libregrtest' 2>/dev/null || {
    echo "CPython's test suite is missing: apt-get install libpython3.11-testsuite (scripts/install-deps.sh --tests)" >&2
    exit 1
}
mkdir -p "$out"
# The VSOCK tests hang in this kind of VM with and without the shim.
options=(-j1 --timeout 900 --ignore '*VSOCK*')

suite() {
    local label=$1
    shift
    printf -- "-- %s: %s\n" "$label" "${modules[*]}" >&2
    local started=$SECONDS
    "$@" "$python" -m test "${options[@]}" --junit-xml "$out/$label.xml" "${modules[@]}" >"$out/$label.log" 2>&1 || true
    printf -- "-- %s done in %d s: %s\n" "$label" $((SECONDS - started)) "$(grep -E '^(Result|== Tests result)' "$out/$label.log" | tail -n 1)" >&2
}
suite plain env
suite gevent-run "$gevent_run" --patch all --

"$python" - "$out/plain.xml" "$out/gevent-run.xml" <<'PYTHON'
import sys
import xml.etree.ElementTree as ET

def outcomes(path):
    results = {}
    for case in ET.parse(path).iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        status = "ok"
        for child in case:
            if child.tag in ("failure", "error"):
                status = child.tag
            elif child.tag == "skipped" and status == "ok":
                status = "skipped"
        results[name] = status
    return results

plain, shim = outcomes(sys.argv[1]), outcomes(sys.argv[2])
ran = [name for name, status in plain.items() if status == "ok"]
broken = sorted(name for name in ran if shim.get(name, "missing") in ("failure", "error", "missing"))
print(f"{len(plain)} tests, {len(ran)} pass plain; under gevent-run: {len(broken)} of those fail or never ran")
for name in broken:
    print(f"  {shim.get(name, 'missing')}: {name}")
sys.exit(1 if broken else 0)
PYTHON
