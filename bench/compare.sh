#!/usr/bin/env bash
# bench/compare.sh — the same YCSB workload against several targets back to
# back (bench/ycsb), one markdown table and one combined heap plot.
#
#   bench/compare.sh [-w WORKLOAD] [-t "embedded embedded-ebr rocksdb grpc etcd"] [-o OUTDIR] \
#                    [-- extra ycsb flags, e.g. --records=100000 --seconds=10 --threads=2 --stall=txn:1@2s]
#
# grpc starts bench's own mvkv_server (--start_server), etcd starts etcd on
# loopback (--start_etcd). embedded-ebr is the embedded engine built on
# epoch-based reclamation (--config=engine_ebr, mvcc/reclaim_scheme.h), to
# compare reclaim schemes inside the engine. Env: BAZEL (default bazel),
# BAZEL_ARGS (startup flags, e.g. --output_base=...), YCSB / MVKV_SERVER /
# YCSB_EBR to skip the builds.
set -euo pipefail

workload=a
targets="embedded rocksdb"
out=bench-compare-out
while getopts "w:t:o:h" opt; do
  case $opt in
    w) workload=$OPTARG ;;
    t) targets=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ "${1:-}" == "--" ]] && shift
extra=("$@")

cd "$(dirname "$0")/.."
if [[ -z "${YCSB:-}" || -z "${MVKV_SERVER:-}" ]]; then
  BAZEL=${BAZEL:-bazel}
  # shellcheck disable=SC2086
  $BAZEL ${BAZEL_ARGS:-} build --config=opt --symlink_prefix=/ //bench/ycsb:ycsb //server:mvkv_server >&2
  # shellcheck disable=SC2086
  bin=$($BAZEL ${BAZEL_ARGS:-} info --config=opt bazel-bin 2>/dev/null)
  YCSB=${YCSB:-$bin/bench/ycsb/ycsb}
  MVKV_SERVER=${MVKV_SERVER:-$bin/server/mvkv_server}
fi
if [[ " $targets " == *" embedded-ebr "* && -z "${YCSB_EBR:-}" ]]; then
  BAZEL=${BAZEL:-bazel}
  # shellcheck disable=SC2086
  $BAZEL ${BAZEL_ARGS:-} build --config=opt --config=engine_ebr --symlink_prefix=/ //bench/ycsb:ycsb >&2
  # shellcheck disable=SC2086
  YCSB_EBR=$($BAZEL ${BAZEL_ARGS:-} info --config=opt --config=engine_ebr bazel-bin 2>/dev/null)/bench/ycsb/ycsb
fi

mkdir -p "$out"
json="$out/results.json"
rm -f "$json"
csvs=()
for t in $targets; do
  name=$(basename "$workload")
  csv="$out/$t-$name.csv"
  ycsb=$YCSB
  case $t in
    grpc) args=(--start_server="$MVKV_SERVER") ;;
    etcd) args=(--target=etcd://auto --start_etcd) ;;
    embedded-ebr) ycsb=$YCSB_EBR; args=(--target=embedded) ;;
    *) args=(--target="$t") ;;
  esac
  echo "== $t, workload $workload" >&2
  "$ycsb" --workload="$workload" "${args[@]}" --json="$json" --csv="$csv" \
    --plot="$out/$t-$name.png" "${extra[@]}" > "$out/$t-$name.txt"
  csvs+=("$csv")
done

# One markdown table from the JSON rows (plain text tools only).
table="$out/table.md"
{
  echo "| target | workload | threads | ops/s | p50 us | p99 us | p99.9 us | heap start MiB | heap peak MiB | heap end MiB | retained versions peak | aborts | stall |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  grep -o '{[^}]*}' "$json" | while read -r row; do
    f() { echo "$row" | sed -n "s/.*\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\}[,}].*/\1/p"; }
    mib() { awk -v b="$(f "$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }
    echo "| $(f target) | $(f workload) | $(f threads) | $(f ops_per_s) | $(f p50_us) | $(f p99_us) | $(f p999_us) | $(mib heap_start_bytes) | $(mib heap_peak_bytes) | $(mib heap_end_bytes) | $(f retained_versions_peak) | $(f aborts) | $(f stall) |"
  done
} > "$table"
cat "$table"

# One plot: heap over time, one line per target.
plot="$out/compare.png"
{
  echo "set terminal png size 900,500"
  echo "set output '$plot'"
  echo "set datafile separator ','"
  echo "set title 'heap over time, workload $workload' noenhanced"
  echo "set xlabel 'seconds'; set ylabel 'heap / server RSS (MiB)'; set key below; set yrange [0:*]"
  for a in "${extra[@]}"; do
    if [[ $a == --stall=* ]]; then
      for s in $(echo "${a#--stall=}" | tr ',' ' '); do
        t=${s#*@}; t=${t%s}
        [[ $t == *m ]] && t=$(awk -v v="${t%m}" 'BEGIN { print v / 1000 }')
        echo "set arrow from $t, graph 0 to $t, graph 1 nohead dt 2 lc rgb 'red'"
        echo "set label '$s' at $t, graph 0.95 tc rgb 'red' noenhanced"
      done
    fi
  done
  printf "plot "
  sep=""
  for c in "${csvs[@]}"; do
    printf "%s'%s' every ::1 using 3:(\$6/1048576) with lines lw 2 title '%s'" "$sep" "$c" "$(basename "$c" .csv)"
    sep=", "
  done
  echo
} > "$plot.gp"
gnuplot "$plot.gp" && echo "plot: $plot" >&2
