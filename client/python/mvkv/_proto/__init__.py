"""Private: the wire code generated from proto/kv.proto and
proto/health.proto (kv_pb2, kv_pb2_grpc, health_pb2, health_pb2_grpc), by the
Bazel target //client/python:proto_gen or by client/python/generate.sh;
never committed."""
