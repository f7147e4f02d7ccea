// The Unavailable status this layer answers on a node that does not lead:
// names the leader and carries its client address for LeaderHint (info.h).
#ifndef MVKV_REPLICATION_INTERNAL_NOT_LEADER_H_
#define MVKV_REPLICATION_INTERNAL_NOT_LEADER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace mvkv::replication_internal {

// leader_id 0: no leader known; leader_id == self: elected, still applying
// the log. leader_client_address may be empty.
absl::Status NotLeaderError(uint64_t self, uint64_t leader_id,
                            const std::string& leader_client_address);

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_NOT_LEADER_H_
