# shellcheck shell=bash
# Sourced by bench/compare.sh and bench/server_cpu.sh (not run on its own):
# the --config=opt binaries they start, built unless the environment names
# them. Env: BAZEL (default bazel), BAZEL_ARGS (startup flags, e.g.
# --output_base=...), YCSB / MVKV_SERVER / NULL_SERVER / YCSB_EBR /
# MVKV_SERVER_EBR to skip the builds. Run from the repository's root.

# Sets YCSB, MVKV_SERVER and NULL_SERVER.
opt_binaries() {
  if [[ -n "${YCSB:-}" && -n "${MVKV_SERVER:-}" && -n "${NULL_SERVER:-}" ]]; then
    return
  fi
  local bazel=${BAZEL:-bazel} bin
  # shellcheck disable=SC2086
  $bazel ${BAZEL_ARGS:-} build --config=opt --symlink_prefix=/ //bench/ycsb:ycsb \
    //server:mvkv_server //bench/ycsb:null_server >&2
  # shellcheck disable=SC2086
  bin=$($bazel ${BAZEL_ARGS:-} info --config=opt bazel-bin 2>/dev/null)
  YCSB=${YCSB:-$bin/bench/ycsb/ycsb}
  MVKV_SERVER=${MVKV_SERVER:-$bin/server/mvkv_server}
  NULL_SERVER=${NULL_SERVER:-$bin/bench/ycsb/null_server}
}

# Sets YCSB_EBR and MVKV_SERVER_EBR: the same built on the engine's EBR
# (--config=engine_ebr, mvcc/reclaim_scheme.h).
opt_ebr_binaries() {
  if [[ -n "${YCSB_EBR:-}" && -n "${MVKV_SERVER_EBR:-}" ]]; then
    return
  fi
  local bazel=${BAZEL:-bazel} bin
  # shellcheck disable=SC2086
  $bazel ${BAZEL_ARGS:-} build --config=opt --config=engine_ebr --symlink_prefix=/ \
    //bench/ycsb:ycsb //server:mvkv_server >&2
  # shellcheck disable=SC2086
  bin=$($bazel ${BAZEL_ARGS:-} info --config=opt --config=engine_ebr bazel-bin 2>/dev/null)
  YCSB_EBR=${YCSB_EBR:-$bin/bench/ycsb/ycsb}
  MVKV_SERVER_EBR=${MVKV_SERVER_EBR:-$bin/server/mvkv_server}
}
