#!/usr/bin/env bash
# The HTTP parser's fuzz smoke run and its differential run against h11.
#   scripts/fuzz-http.sh [SECONDS] [-- LIBFUZZER_OPTIONS...]
# 1. Builds Tests/HTTPParserFuzzer with libFuzzer and AddressSanitizer (release, scratch path .build-fuzz;
#    the target exists only with GEVENT_FUZZ=1) and fuzzes the parser for SECONDS (default 60), starting from
#    the differential seeds; a crash or a broken invariant stops it with a reproducer in .build-fuzz/crashes.
# 2. Builds Tests/HTTPParseProbe and runs scripts/http-differential.py (h11 from PyPI, in a venv under
#    .build-fuzz) over the seeds and the corpus the fuzzer grew.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
log() { printf -- "** %s\n" "$*" >&2; }

seconds=${1:-60}
shift || true
[[ "${1:-}" == "--" ]] && shift

scratch=.build-fuzz
corpus="$scratch/corpus"
mkdir -p "$corpus" "$scratch/crashes"

log "building the parser fuzzer (libFuzzer + ASan, release)"
GEVENT_FUZZ=1 swift build -c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address \
    --product HTTPParserFuzzer 2>&1 | grep -v "Cannot export local symbol" | tail -n 1

python3 scripts/http-differential.py --write-seeds "$corpus"
log "fuzzing the parser for $seconds s"
"$scratch/release/HTTPParserFuzzer" -max_total_time="$seconds" -dict=Tests/HTTPParserFuzzer/http.dict \
    -print_final_stats=1 -artifact_prefix="$scratch/crashes/" "$@" "$corpus" 2>&1 \
    | grep -E "^(Done|stat::number_of_executed_units|==[0-9]+==ERROR)|Fatal error|deadly signal" || true
if compgen -G "$scratch/crashes/*" >/dev/null; then
    log "the fuzzer found crashes: $(ls "$scratch"/crashes)"
    exit 1
fi

log "differential run against h11"
swift build --product HTTPParseProbe 2>&1 | tail -n 1
venv="$scratch/h11-venv"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "h11==0.16.0"
fi
"$venv/bin/python" scripts/http-differential.py "$(swift build --show-bin-path)/HTTPParseProbe" "$corpus"
