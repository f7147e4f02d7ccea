#!/usr/bin/env bash
# Installs every Debian package mvkv needs to build, test and benchmark, and
# nothing when they are all present already (idempotent; safe to run often).
#
# Usage: tools/bootstrap.sh            install what is missing
#        tools/bootstrap.sh --check    exit 1 and list what is missing, install nothing
set -euo pipefail

PACKAGES=(
  # Toolchain and build.
  g++ pkg-config python3 bazel-bootstrap bazel-platforms
  # Libraries the project links.
  libabsl-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  librocksdb-dev prometheus-cpp-dev libjemalloc-dev
  # Consensus: canonical's libraft on libuv (replication/).
  libraft-dev libuv1-dev
  # Tests; clang + libFuzzer runtime for the request
  # fuzzer (tools/run_fuzz.sh); openssl makes TLS test certificates.
  libgtest-dev libgmock-dev clang libclang-rt-14-dev openssl
  # The Python client (client/python) and its tests, on /usr/bin/python3.
  python3-grpcio python3-protobuf
  # ss (tests/python/cluster_test: bytes a stopped server has not read).
  iproute2
  # Header-only libraries: JSON documents, the CLI's flag parser.
  nlohmann-json3-dev libcli11-dev
  # Benchmark peers: reclamation schemes, queues, a networked KV server.
  liburcu-dev libxenium-dev libcds-dev libboost-dev etcd-server
  # Hash-map baselines for engine_bench's Lever mix.
  libcuckoo-dev libtbb-dev
  # Plots for the load harness.
  gnuplot-nox
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  echo "missing packages: ${missing[*]}" >&2
  exit 1
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >&2
