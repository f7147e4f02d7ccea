#!/usr/bin/env bash
# bench/server_cpu.sh — CPU a server spends per operation, in total and per
# thread (by thread name), over one timed ycsb run: what a server-side change
# buys when the machine is too loaded for throughput to show it (throughput
# of one run moves by a third between identical runs on a shared 2-core
# machine; the server's CPU per operation much less).
#
#   bench/server_cpu.sh [-s mvkv|null] [-w WORKLOAD] [-- extra ycsb flags, e.g. --threads=8 --seconds=6]
#
# Starts the server on a free loopback port (mvkv_server in memory, or the
# null service), loads --records=50000 with the harness, then runs the
# workload with --load=false and prints ops/s, the server's utime+stime per
# operation and the same for each thread name with any CPU. Env: YCSB,
# MVKV_SERVER, NULL_SERVER (binaries; default bazel-bin/ of --config=opt,
# built if missing), RECORDS (default 50000).
set -euo pipefail

server=mvkv
workload=b
while getopts "s:w:h" opt; do
  case $opt in
    s) server=$OPTARG ;;
    w) workload=$OPTARG ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ "${1:-}" == "--" ]] && shift
extra=("$@")

cd "$(dirname "$0")/.."
# shellcheck source=bench/opt_binaries.sh
source bench/opt_binaries.sh
opt_binaries
case $server in
  mvkv) binary=$MVKV_SERVER scheme=grpc ;;
  null) binary=$NULL_SERVER scheme=null ;;
  *) echo "-s must be mvkv or null" >&2; exit 2 ;;
esac

tmp=$(mktemp -d)
"$binary" --listen=127.0.0.1:0 > "$tmp/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=
for _ in $(seq 100); do  # the "serving" log line names the port (10 s at most)
  port=$(grep -o '"port":"[0-9]*"' "$tmp/server.log" | grep -o '[0-9]*' || true)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { echo "server did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }
target=$scheme://127.0.0.1:$port
records=${RECORDS:-50000}
"$YCSB" --workload="$workload" --target="$target" --records="$records" --ops=1 > /dev/null

# thread name -> utime+stime ticks, summed over threads of that name
snapshot() {
  for t in "/proc/$pid/task/"*; do
    printf '%s %s\n' "$(tr ' ' _ < "$t/comm")" "$(awk '{print $14 + $15}' "$t/stat")"
  done | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort
}
snapshot > "$tmp/before"
"$YCSB" --workload="$workload" --target="$target" --records="$records" --load=false \
  "${extra[@]}" > "$tmp/run.txt"
snapshot > "$tmp/after"
ops=$(grep -E '\], Operations' "$tmp/run.txt" | awk -F', ' '{s += $3} END {print s}')
grep 'OVERALL], Throughput' "$tmp/run.txt"
join -a 2 "$tmp/before" "$tmp/after" | awk -v ops="$ops" -v hz="$(getconf CLK_TCK)" \
  -v load="$(cut -d' ' -f1 /proc/loadavg)" '
  NF == 2 {$3 = $2; $2 = 0}
  {d = $3 - $2; total += d; if (d > 0) rows[$1] = d}
  END {
    printf "server CPU per op: %.1f us (%d ops, load %s)\n", total / hz * 1e6 / ops, ops, load
    for (k in rows) printf "  %-18s %.1f us/op\n", k, rows[k] / hz * 1e6 / ops
  }'
