#!/usr/bin/env bash
# Property: `--help` of every absl-flags binary lists that binary's own flags.
# For each binary given as an argument, the flags it defines (those --helpfull
# lists from files outside Abseil) must all appear in --help, there must be
# at least one, --help must not say "No flags matched", and Abseil's own
# flags (--flagfile, from absl/flags/parse.cc) must stay out of --help.
set -uo pipefail

bad=0
failed=0  # failures of the binary being checked
fail() { echo "FAIL $1: $2"; failed=1; bad=1; }

# Prints the flag names --helpfull lists from files outside Abseil.
own_flags() {
  awk '
    /^  Flags from / { own = ($0 !~ /absl\//); next }
    own && /^    --/ { name = $1; sub(/^--/, "", name); print name }
  '
}

for bin in "$@"; do
  name=$(basename "$bin")
  failed=0
  full=$("$bin" --helpfull 2>&1)
  help=$("$bin" --help 2>&1)
  flags=$(own_flags <<<"$full")
  if [[ -z "$flags" ]]; then
    fail "$name" "--helpfull lists no flags of its own"
    continue
  fi
  if grep -q "No flags matched" <<<"$help"; then
    fail "$name" "--help says \"No flags matched\""
  fi
  if grep -q -- "--flagfile" <<<"$help"; then
    fail "$name" "--help lists Abseil's own --flagfile"
  fi
  n=0
  for flag in $flags; do
    n=$((n + 1))
    grep -q -- "^    --$flag " <<<"$help" || fail "$name" "--help omits --$flag"
  done
  [[ $failed -eq 0 ]] && echo "ok   $name: --help lists its $n flags"
done
exit $bad
