// client/wire.h — conversions between the client library's own types
// (client/client.h) and the generated mvkv.v1 messages. Private to client/:
// the public header names no generated type.
//
// Thread safety: stateless functions.
#ifndef MVKV_CLIENT_WIRE_H_
#define MVKV_CLIENT_WIRE_H_

#include <vector>

#include "absl/status/status.h"
#include "client/client.h"
#include "grpcpp/support/status.h"
#include "proto/kv.pb.h"

namespace mvkv::client::wire {

// grpc::Status -> absl::Status, code for code.
absl::Status FromGrpc(const grpc::Status& status);

v1::Isolation ToProto(Isolation isolation);
KeyValue FromProto(v1::KeyValue kv);
// Appends one scan response (a chunk, or a whole unary scan) to `out`.
void AppendScan(v1::ScanResponse& chunk, ScanResult* out);

v1::CompareAndCommitRequest ToProto(const std::vector<Compare>& compares,
                                    const std::vector<Op>& success,
                                    const std::vector<Op>& failure);
// `ops`: the branch that ran (its kinds name the results).
CompareAndCommitResult FromProto(v1::CompareAndCommitResponse& response,
                                 const std::vector<Op>& ops);

// Every field of the response, by name, in field order; nested messages and
// repeated fields are flattened ("followers.0.match_index").
Stats FromProto(const v1::StatsResponse& response);

}  // namespace mvkv::client::wire

#endif  // MVKV_CLIENT_WIRE_H_
