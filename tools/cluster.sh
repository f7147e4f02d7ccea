#!/usr/bin/env bash
# Quick start, command three: a three-node mvkv cluster on this machine.
# Builds mvkv_server and mvkv, then runs three mvkv_server processes on
# loopback: node i (1..3) serves clients on 127.0.0.1:(7069+i) and Raft on
# 127.0.0.1:(7169+i), in memory unless --data_dir=DIR is given (then node i
# keeps its Raft log and snapshots in DIR/node<i>, created if missing, and a
# restart recovers them). Ctrl-C (or SIGTERM) stops all three.
#
#   tools/cluster.sh [--data_dir=DIR] [--base_port=7070] [--raft_base_port=7170]
#                    [-- EXTRA_SERVER_FLAGS...]
#   mvkv --server=127.0.0.1:7070,127.0.0.1:7071,127.0.0.1:7072 put k v
#
# Logs: JSON lines in $LOG_DIR/node<i>.log (default: a fresh temp directory,
# printed at start).
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir=""
base_port=7070
raft_base_port=7170
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data_dir=*) data_dir="${1#*=}" ;;
    --base_port=*) base_port="${1#*=}" ;;
    --raft_base_port=*) raft_base_port="${1#*=}" ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [[ -z "${MVKV_SERVER_BIN:-}" ]]; then
  tools/bootstrap.sh
  bazel build --config=opt //server:mvkv_server //client:mvkv
  MVKV_SERVER_BIN="$(bazel info --config=opt bazel-bin 2>/dev/null)/server/mvkv_server"
fi
[[ -n "$data_dir" ]] && mkdir -p "$data_dir"
log_dir="${LOG_DIR:-$(mktemp -d /tmp/mvkv-cluster.XXXXXX)}"
mkdir -p "$log_dir"

peers=""
for i in 1 2 3; do
  peers+="${peers:+,}$i=127.0.0.1:$((raft_base_port + i - 1))/127.0.0.1:$((base_port + i - 1))"
done

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "cluster.sh: stopped (logs in $log_dir)"
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

for i in 1 2 3; do
  flags=(--node_id="$i" --listen="127.0.0.1:$((base_port + i - 1))"
         --raft_listen="127.0.0.1:$((raft_base_port + i - 1))" --peers="$peers")
  if [[ -n "$data_dir" ]]; then flags+=(--data_dir="$data_dir/node$i" --create); fi
  "$MVKV_SERVER_BIN" "${flags[@]}" "${extra[@]}" 2>"$log_dir/node$i.log" &
  pids+=($!)
done
echo "cluster.sh: nodes 1-3 on 127.0.0.1:$base_port-$((base_port + 2)) (raft $raft_base_port-$((raft_base_port + 2))), ${data_dir:-in memory}; logs in $log_dir; Ctrl-C stops them"
echo "  mvkv --server=127.0.0.1:$base_port,127.0.0.1:$((base_port + 1)),127.0.0.1:$((base_port + 2)) put k v"
# Returns when any node exits (then stops the others) or on Ctrl-C.
wait -n "${pids[@]}" || true
echo "cluster.sh: a node exited; stopping the others" >&2
