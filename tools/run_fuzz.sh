#!/usr/bin/env bash
# Builds the request-handling fuzzer (tests/server/kv_fuzz_target.cc) with
# clang and libFuzzer + AddressSanitizer, and runs it for a bounded time.
#
# Usage: tools/run_fuzz.sh [SECONDS]      (default 30; env MVKV_FUZZ_SECONDS)
# Prints "fuzz: ok (N runs)" or "fuzz: FAIL ..." as its last line and exits
# non-zero on a crash, a sanitizer report or an undocumented status. Crash
# inputs are kept in out/fuzz/ (replay: <fuzzer binary> out/fuzz/crash-*).
# Uses its own Bazel output base (clang objects never mix with g++ ones).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-${MVKV_FUZZ_SECONDS:-30}}"
tools/bootstrap.sh
base="${MVKV_FUZZ_OUTPUT_BASE:-$HOME/.cache/bazel-fuzz}"
mkdir -p out/fuzz/corpus
flags=(--compilation_mode=dbg --copt=-O1
  --copt=-fsanitize=fuzzer-no-link,address --copt=-fno-omit-frame-pointer
  --linkopt=-fsanitize=fuzzer,address --copt=-DMVKV_SANITIZER=1)
export CC=clang CXX=clang++
if ! bazel --output_base="$base" build --config=ci "${flags[@]}" \
    //tests/server:kv_fuzzer >out/fuzz/build.log 2>&1; then
  tail -30 out/fuzz/build.log >&2
  echo "fuzz: FAIL (build)"
  exit 1
fi
bin="$(bazel --output_base="$base" info "${flags[@]}" bazel-bin 2>/dev/null)/tests/server/kv_fuzzer"
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$bin" -max_total_time="$seconds" \
  -max_len=2048 -timeout=10 -rss_limit_mb=2048 -artifact_prefix=out/fuzz/ \
  -print_final_stats=1 out/fuzz/corpus >out/fuzz/run.log 2>&1
rc=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' out/fuzz/run.log | grep -o '[0-9]*$')
if [[ $rc -ne 0 ]]; then
  tail -40 out/fuzz/run.log >&2
  echo "fuzz: FAIL (exit $rc, see out/fuzz/run.log)"
  exit 1
fi
echo "fuzz: ok (${runs:-?} runs in ${seconds}s)"
