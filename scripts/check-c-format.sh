#!/usr/bin/env bash
# Checks every C source and header of the project against the checked-in .clang-format (STYLE rule 6).
#   scripts/check-c-format.sh          report the files that differ and fail
#   scripts/check-c-format.sh --fix    rewrite them in place
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
if [[ "${1:-}" == "--fix" ]]; then
    clang-format -i "${files[@]}"
    exit 0
fi
clang-format --dry-run --Werror "${files[@]}"
echo "C format: ${#files[@]} files match .clang-format"
