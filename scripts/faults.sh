#!/usr/bin/env bash
# The full fault-injection suite (5,000-event floods, five SIGKILLs in a row, every
# scenario): prints the table of events accepted, delivered, duplicated and lost, and a
# one-line verdict. Needs root for the full-disk scenario (it mounts a small tmpfs).
set -uo pipefail
cd "$(dirname "$0")/.."
HERALD_FAULTS=full cargo test --release --locked --test it faults:: -- --nocapture 2>&1 | tee /tmp/herald-faults.log | grep -E '^\||^faults:'
grep -q "test result: ok" /tmp/herald-faults.log && echo "verdict: PASS (nothing lost)" || { echo "verdict: FAIL"; exit 1; }
