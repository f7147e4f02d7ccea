#!/usr/bin/env bash
# Proves that Bazel visibility enforces the layering of docs/ARCHITECTURE.md:
# for each forbidden edge (a lower layer naming a higher one) it writes a
# throw-away probe target in the lower layer's folder that depends on the
# higher layer, and requires the analysis to fail with "is not visible".
# Allowed edges are probed too, so a probe that fails for another reason
# (a typo, a missing target) is caught instead of passing silently.
# Exit status: 0 if every probe behaved, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

# from-package  to-label  expectation
PROBES=(
  "reclaim    //mvcc:mvcc              forbidden"
  "reclaim    //disruptor:disruptor    forbidden"
  "disruptor  //reclaim:reclaim        forbidden"
  "disruptor  //mvcc:mvcc              forbidden"
  "reclaim    //proto:kv_cc_proto      forbidden"
  "mvcc       //proto:kv_cc_proto      forbidden"
  "mvcc       //server:server          forbidden"
  "client     //server:server          forbidden"
  "proto      //server:server          forbidden"
  "flags      //mvcc:mvcc              forbidden"
  "mvcc       //flags:usage            forbidden"
  "common     //mvcc:mvcc              forbidden"
  "reclaim    //common:retry           forbidden"
  "client     //mvcc:mvcc              forbidden"
  "client     //common:retry           allowed"
  "mvcc       //replication:node       forbidden"
  "storage    //replication:node       forbidden"
  "replication //server:server         forbidden"
  "replication //client:client         forbidden"
  "replication //proto:kv_cc_proto     forbidden"
  "server     //mvcc:replica           forbidden"
  "mvcc       //reclaim:reclaim        allowed"
  "mvcc       //disruptor:disruptor    allowed"
  "server     //mvcc:mvcc              allowed"
  "server     //proto:kv_cc_proto      allowed"
  "bench      //flags:usage            allowed"
  "replication //mvcc:mvcc             allowed"
  "replication //storage:storage       allowed"
  "server     //replication:node       allowed"
)

probe_dirs=()
cleanup() { for d in "${probe_dirs[@]}"; do rm -rf "$d"; done; }
trap cleanup EXIT

bad=0
for line in "${PROBES[@]}"; do
  read -r from to expect <<<"$line"
  dir="$from/layering_probe_tmp"
  probe_dirs+=("$dir")
  mkdir -p "$dir"
  cat >"$dir/BUILD.bazel" <<PROBE
cc_library(name = "probe", deps = ["$to"])
PROBE
  out=$(bazel build --nobuild "//$dir:probe" 2>&1)
  rc=$?
  rm -rf "$dir"
  if [[ "$expect" == forbidden ]]; then
    if [[ $rc -ne 0 && "$out" == *"is not visible from target"* ]]; then
      echo "layering: ok   $from -> $to refused"
    else
      echo "layering: FAIL $from -> $to should be refused as not visible"
      echo "$out" | grep -E "ERROR" | head -3
      bad=1
    fi
  else
    if [[ $rc -eq 0 ]]; then
      echo "layering: ok   $from -> $to allowed"
    else
      echo "layering: FAIL $from -> $to should be allowed"
      echo "$out" | grep -E "ERROR" | head -3
      bad=1
    fi
  fi
done

# A project target that declares itself public would bypass the groups.
public=$(bazel query --noshow_progress \
  'attr(visibility, "//visibility:public", //...) except //third_party/...' 2>/dev/null)
if [[ -n "$public" ]]; then
  echo "layering: FAIL public visibility outside third_party/ bypasses the layer groups:"
  echo "$public"
  bad=1
else
  echo "layering: ok   no project target is public"
fi
exit $bad
