// etcd v3: not implemented yet (see the README section of bench/ycsb).
#include "bench/ycsb/targets_internal.h"

namespace mvkv::ycsb::targets_internal {

absl::StatusOr<std::unique_ptr<Target>> OpenEtcd(const std::string& address,
                                                 pid_t) {
  return absl::UnimplementedError("the etcd target is not implemented yet (" +
                                  address + ")");
}

}  // namespace mvkv::ycsb::targets_internal
