#!/usr/bin/env bash
# bench/compare.sh — the same YCSB workload against several targets back to
# back (bench/ycsb), one markdown table and one combined plot (heap or
# server RSS, throughput and p99 latency per 100 ms, stall windows shaded).
#
#   bench/compare.sh [-w WORKLOAD] [-t "embedded embedded-ebr rocksdb grpc grpc-ebr etcd null"] [-o OUTDIR] \
#                    [-- extra ycsb flags, e.g. --records=100000 --seconds=10 --threads=2 --stall=thread:1@5s+10s]
#
# grpc starts bench's own mvkv_server (--start_server, with
# --allow_fault_injection so --stall=server-reclaim works), grpc-ebr the same
# server built with --config=engine_ebr, etcd starts etcd on loopback
# (--start_etcd), null bench's null service (the same proto answering at
# once, --start_null: gRPC's own cost on this machine). embedded-ebr is the
# embedded engine built on epoch-based reclamation (--config=engine_ebr, mvcc/reclaim_scheme.h), to compare
# reclaim schemes inside the engine. Env: BAZEL (default bazel), BAZEL_ARGS
# (startup flags, e.g. --output_base=...), YCSB / MVKV_SERVER / YCSB_EBR /
# MVKV_SERVER_EBR / NULL_SERVER to skip the builds.
set -euo pipefail

workload=a
targets="embedded rocksdb"
out=bench-compare-out
while getopts "w:t:o:h" opt; do
  case $opt in
    w) workload=$OPTARG ;;
    t) targets=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ "${1:-}" == "--" ]] && shift
extra=("$@")

cd "$(dirname "$0")/.."
# shellcheck source=bench/opt_binaries.sh
source bench/opt_binaries.sh
opt_binaries
if [[ " $targets " == *" embedded-ebr "* || " $targets " == *" grpc-ebr "* ]]; then
  opt_ebr_binaries
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
    grpc) args=(--start_server="$MVKV_SERVER" --server_args=--allow_fault_injection) ;;
    grpc-ebr) args=(--start_server="$MVKV_SERVER_EBR" --server_args=--allow_fault_injection) ;;
    etcd) args=(--target=etcd://auto --start_etcd) ;;
    null) args=(--start_null="$NULL_SERVER") ;;
    embedded-ebr) ycsb=$YCSB_EBR; args=(--target=embedded) ;;
    *) args=(--target="$t") ;;
  esac
  echo "== $t, workload $workload" >&2
  "$ycsb" --workload="$workload" "${args[@]}" --json="$json" --csv="$csv" \
    --plot="$out/$t-$name.png" "${extra[@]}" > "$out/$t-$name.txt"
  csvs+=("$csv")
done

# One markdown table from the JSON rows (Debian's python3, its json module).
table="$out/table.md"
/usr/bin/python3 - "$json" > "$table" <<'PY'
import json, sys
cols = [("target", "target"), ("workload", "workload"), ("threads", "threads"),
        ("ops/s", "ops_per_s"), ("p50 us", "p50_us"), ("p99 us", "p99_us"),
        ("p99.9 us", "p999_us"), ("max us", "max_us"),
        ("heap start MiB", "heap_start_bytes"), ("heap peak MiB", "heap_peak_bytes"),
        ("heap end MiB", "heap_end_bytes"),
        ("retained versions peak", "retained_versions_peak"),
        ("unreclaimed objects peak", "unreclaimed_objects_peak"),
        ("aborts", "aborts"), ("errors", "errors"), ("stall", "stall"),
        ("stall window s", "stall_windows"), ("stalled threads", "stall_threads"),
        ("ops/s in stall", "stall_ops_per_s"), ("ops/s outside", "outside_stall_ops_per_s"),
        ("p99 us in stall", "stall_p99_us"), ("max us in stall", "stall_max_us")]
def cell(row, key):
    v = row.get(key, "")
    if key.endswith("_bytes"):
        return "%.1f" % (v / 1048576)
    if isinstance(v, float):
        return "%.1f" % v if key.endswith("per_s") else "%.3f" % v
    return str(v).replace("|", "\\|")
print("| " + " | ".join(c for c, _ in cols) + " |")
print("|" + "---|" * len(cols))
for row in json.load(open(sys.argv[1])):
    print("| " + " | ".join(cell(row, k) for _, k in cols) + " |")
PY
cat "$table"

# One plot: heap (or server RSS), throughput and p99 over time, one line per
# target; each --stall's T..T+D shaded (to the end without +D).
plot="$out/compare.png"
{
  echo "set terminal png size 900,900"
  echo "set output '$plot'"
  echo "set datafile separator ','"
  echo "set multiplot layout 3,1 title 'workload $workload: $(basename "$out")' noenhanced"
  echo "set xlabel 'seconds'; set key below; set lmargin 12"
  n=1
  for a in "${extra[@]}"; do
    if [[ $a == --stall=* ]]; then
      for s in $(echo "${a#--stall=}" | tr ',' ' '); do
        # KIND:K@T[+D][:SELECT] -> T and T+D in seconds ("end" without D).
        read -r from to < <(echo "$s" | awk '
          function sec(v) { if (v ~ /ms$/) return substr(v, 1, length(v) - 2) / 1000;
                            sub(/s$/, "", v); return v + 0 }
          { split($0, p, ":"); at = p[2]; sub(/^[^@]*@?/, "", at); if (p[2] !~ /@/) at = "0";
            d = ""; if (at ~ /\+/) { d = at; sub(/^[^+]*\+/, "", d); sub(/\+.*/, "", at) }
            printf "%g %s\n", sec(at), d == "" ? "end" : sec(at) + sec(d) }')
        [[ $to == end ]] && to="graph 1" || to="$to, graph 1"
        echo "set object $n rect from $from, graph 0 to $to fc rgb '#ffd0d0' fs solid 0.6 noborder behind"
        echo "set label $n '$s' at $from, graph 0.93 tc rgb 'red' noenhanced"
        n=$((n + 1))
      done
    fi
  done
  for panel in "heap / server RSS (MiB):(\$6/1048576)" "ops/s (per 100 ms):5" "p99 latency (ms):(column(13) > 0 ? column(15)/1000 : NaN)"; do
    echo "set ylabel '${panel%%:*}'"
    [[ $panel == p99* ]] && echo "set logscale y; set yrange [*:*]" || echo "set yrange [0:*]"
    printf "plot "
    sep=""
    for c in "${csvs[@]}"; do
      printf "%s'%s' every ::1 using 3:%s with lines lw 2 title '%s'" "$sep" "$c" "${panel#*:}" "$(basename "$c" .csv)"
      sep=", "
    done
    echo
  done
  echo "unset multiplot"
} > "$plot.gp"
gnuplot "$plot.gp" && echo "plot: $plot" >&2
