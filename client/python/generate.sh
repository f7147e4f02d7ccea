#!/bin/sh
# Generates the mvkv package's wire code, mvkv/_proto/{kv,health}_pb2.py and
# *_pb2_grpc.py, from proto/kv.proto and proto/health.proto with the system
# protoc and grpc_python_plugin (Debian's protobuf-compiler and
# protobuf-compiler-grpc). The generated code is never committed.
#
# Usage: client/python/generate.sh [OUT_DIR [KV_PROTO HEALTH_PROTO]]
#   OUT_DIR defaults to this script's folder, next to the package's sources
#   (git ignores the generated files); the Bazel genrule passes its output
#   folder and the protos' locations.
#
# The protos are compiled as mvkv/_proto/*.proto, so the generated modules
# import each other as `mvkv._proto.kv_pb2` (a plain protoc run would write
# `import kv_pb2`, which only works with the folder itself on sys.path).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
kv=${2:-$here/../../proto/kv.proto}
health=${3:-$here/../../proto/health.proto}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/mvkv/_proto" "$out"
cp "$kv" "$tmp/mvkv/_proto/kv.proto"
cp "$health" "$tmp/mvkv/_proto/health.proto"
/usr/bin/protoc --proto_path="$tmp" --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
  "$tmp/mvkv/_proto/kv.proto" "$tmp/mvkv/_proto/health.proto"
