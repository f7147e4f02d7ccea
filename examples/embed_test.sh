#!/usr/bin/env bash
# Runs the embedding example and checks what it printed: the transfer moved
# 30 from alice to bob, the TVar counted it, nothing else changed, and each
# watch saw the transfer's change to its key.
set -euo pipefail
out=$("$TEST_SRCDIR/mvkv/examples/embed")
echo "$out"
grep -q '^acct/alice *70 ' <<<"$out"
grep -q '^acct/bob *130 ' <<<"$out"
grep -q '^acct/carol *100 ' <<<"$out"
grep -q '^transfers: 1$' <<<"$out"
grep -q '^watch acct/alice: commit ts [0-9]*: acct/alice=70$' <<<"$out"
grep -q '^watch acct/bob: commit ts [0-9]*: acct/bob=130$' <<<"$out"
