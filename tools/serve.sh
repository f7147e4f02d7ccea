#!/usr/bin/env bash
# Quick start, command one: install what is missing, build, and start
# mvkv_server on the embedded in-memory default (127.0.0.1:7070).
# Extra arguments go to the server, e.g. `tools/serve.sh --listen=127.0.0.1:7171`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
bazel build --config=opt //server:mvkv_server //client:mvkv
exec "$(bazel info --config=opt bazel-bin 2>/dev/null)/server/mvkv_server" "$@"
