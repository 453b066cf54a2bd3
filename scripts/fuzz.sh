#!/usr/bin/env bash
# Runs herald's fuzz properties for a fixed budget (default 20000 cases each) and prints a
# one-line verdict. A failing input proptest finds is saved in tests/proptest-regressions/
# and replayed first by every later `cargo test`: commit that file.
set -uo pipefail
cd "$(dirname "$0")/.."
cases="${1:-20000}"
start=$(date +%s)
PROPTEST_CASES="$cases" cargo test --release --locked --test it fuzz:: 2>&1 | tee /tmp/herald-fuzz.log | grep -E "^test fuzz::"
passed=$(grep -cE "^test fuzz::.* ok$" /tmp/herald-fuzz.log)
failed=$(grep -cE "^test fuzz::.* FAILED$" /tmp/herald-fuzz.log)
echo "fuzz: $passed passed, $failed failed ($cases cases per target, $(( $(date +%s) - start )) s)"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
