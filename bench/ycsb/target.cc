#include "bench/ycsb/target.h"

#include "absl/strings/match.h"
#include "bench/ycsb/targets_internal.h"

namespace mvkv::ycsb {

absl::StatusOr<std::unique_ptr<Target>> OpenTarget(const TargetOptions& o) {
  using namespace targets_internal;  // NOLINT: the factories
  if (o.spec == "embedded") return OpenEmbedded();
  if (o.spec == "rocksdb") return OpenRocksDb(o);
  if (o.spec.rfind("grpc://", 0) == 0) return OpenGrpc(o.spec.substr(7), o.server_pid);
  if (o.spec.rfind("etcd://", 0) == 0) return OpenEtcd(o.spec.substr(7), o.server_pid);
  if (o.spec.rfind("null://", 0) == 0) {
    return OpenGrpc(o.spec.substr(7), o.server_pid, "null");
  }
  return absl::InvalidArgumentError(
      "--target must be embedded, rocksdb, grpc://HOST:PORT, etcd://HOST:PORT "
      "or null://HOST:PORT; got '" +
      o.spec + "'");
}

}  // namespace mvkv::ycsb
