#!/usr/bin/env bash
# Quick start, command two: install what is missing and run the whole test
# suite. Prints `N passed, N failed` (test cases, from Bazel's test results)
# as its last line and exits non-zero if anything failed or did not build.
# Extra arguments go to `bazel test` (e.g. --config=asan).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
mkdir -p out
events="out/test-events-default.json"
rc=0
bazel test --build_event_json_file="$events" "$@" //... || rc=$?
python3 tools/ci/count_results.py "$events" || rc=1
exit "$rc"
