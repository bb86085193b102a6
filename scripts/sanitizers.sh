#!/usr/bin/env bash
# Runs the Swift Testing suite under AddressSanitizer (with LeakSanitizer) and ThreadSanitizer, each in its
# own scratch folder. The greenlet switch carries ASan and TSan fiber annotations, so both must be clean.
set -euo pipefail
cd "$(dirname "$0")/.."
for sanitizer in address thread; do
    printf -- "** sanitizer: %s\n" "$sanitizer" >&2
    swift build --build-tests --sanitize="$sanitizer" --scratch-path ".build-$sanitizer"
    # XCTest is skipped: it has no tests here, and its own runner leaks a few objects at exit. The preload
    # tests are skipped too: they run programs with the (unsanitized) preload library and a second Swift
    # runtime, which the sanitizer runtime in the test-built programs cannot share a process with.
    swift test --skip-build --sanitize="$sanitizer" --scratch-path ".build-$sanitizer" --disable-xctest \
        --skip "ShimTests.PreloadTests"
done
