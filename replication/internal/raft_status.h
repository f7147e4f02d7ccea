// libraft's integer error codes as canonical absl::Status codes.
//
// Thread safety: pure functions.
#ifndef MVKV_REPLICATION_INTERNAL_RAFT_STATUS_H_
#define MVKV_REPLICATION_INTERNAL_RAFT_STATUS_H_

#include <string_view>

#include "absl/status/status.h"

namespace mvkv::replication_internal {

// `rv` (a RAFT_* code, not 0) as a Status whose message is "<what>: <raft's
// name for the code>" plus `detail` (e.g. raft_errmsg()) when not empty.
absl::Status RaftStatus(int rv, std::string_view what,
                        std::string_view detail = {});

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_RAFT_STATUS_H_
