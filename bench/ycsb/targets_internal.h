// bench/ycsb/targets_internal.h — the factories behind OpenTarget, and
// what the gRPC targets share.
#ifndef MVKV_BENCH_YCSB_TARGETS_INTERNAL_H_
#define MVKV_BENCH_YCSB_TARGETS_INTERNAL_H_

#include "bench/ycsb/target.h"
#include "grpcpp/support/status.h"

namespace mvkv::ycsb::targets_internal {

// grpc::Status -> absl::Status, code for code (the codes are the same).
inline absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

absl::StatusOr<std::unique_ptr<Target>> OpenEmbedded();
absl::StatusOr<std::unique_ptr<Target>> OpenRocksDb(const TargetOptions& o);
absl::StatusOr<std::unique_ptr<Target>> OpenGrpc(const std::string& address,
                                                 pid_t server_pid);
absl::StatusOr<std::unique_ptr<Target>> OpenEtcd(const std::string& address,
                                                 pid_t server_pid);

}  // namespace mvkv::ycsb::targets_internal

#endif  // MVKV_BENCH_YCSB_TARGETS_INTERNAL_H_
