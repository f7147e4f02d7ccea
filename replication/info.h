// What a replication node reports about itself and its group (for the
// server's status calls, Stats and metrics), and the callback type of its
// asynchronous operations.
//
// Thread safety: plain values.
#ifndef MVKV_REPLICATION_INFO_H_
#define MVKV_REPLICATION_INFO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace mvkv::replication {

// Called exactly once with the outcome of an asynchronous operation, on the
// node's loop thread: keep it short and non-blocking, and do not call
// Node::Close from it.
using StatusCallback = absl::AnyInvocable<void(absl::Status) &&>;

enum class Role { kFollower, kCandidate, kLeader, kStopped };
const char* RoleName(Role role);  // "follower", "candidate", "leader", "stopped"

// A member's role in Raft's configuration.
enum class MemberRole { kVoter, kStandby, kSpare };
const char* MemberRoleName(MemberRole role);  // "voter", "standby", "spare"

struct MemberInfo {
  uint64_t id = 0;
  std::string raft_address;
  std::string client_address;  // empty until its member record is applied
  MemberRole role = MemberRole::kVoter;
  // On the leader only (0 elsewhere): the last log index this member is
  // known to hold, and how far that is behind the leader's last index.
  uint64_t match_index = 0;
  uint64_t lag = 0;
};

struct ClusterInfo {
  std::string cluster_id;
  uint64_t node_id = 0;
  Role role = Role::kFollower;
  // This node leads and has applied its whole log: it accepts commits and
  // linearizable reads.
  bool ready = false;
  uint64_t term = 0;
  uint64_t leader_id = 0;  // 0 when no leader is known
  std::string leader_raft_address;
  std::string leader_client_address;
  // When this node last saw the leader change (an election or a transfer;
  // also to "no leader known"), and how often it saw a new leader (elections
  // and transfers) since it started.
  absl::Time last_leader_change = absl::InfinitePast();
  uint64_t leader_changes = 0;
  // Raft log indexes: last appended here, known committed, applied here,
  // and the last one covered by the latest snapshot.
  uint64_t last_log_index = 0;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t snapshot_index = 0;
  // The commit timestamp of the last applied batch (the engine shows it
  // once the applier installed it: Database::GetStats().visible_ts).
  uint64_t applied_ts = 0;
  // Log entries held in memory by libraft, and their bytes.
  uint64_t log_entries = 0;
  uint64_t log_bytes = 0;
  uint64_t applier_queue = 0;  // applied entries not yet in the engine
  uint64_t snapshots_taken = 0;
  uint64_t snapshots_installed = 0;  // from the leader, while running
  uint64_t snapshot_failures = 0;
  // Why this node stopped replicating (divergence, storage), OK otherwise.
  absl::Status failure;
  std::vector<MemberInfo> members;
};

// The leader's client address carried by an Unavailable "not the leader"
// status from this layer (a commit refused on a follower, a read or a
// membership change sent to one), if it names one.
std::optional<std::string> LeaderHint(const absl::Status& status);

// Whether `status` is this layer's "not the leader" refusal (a commit, read
// or begin refused on a node that does not lead, or on a leader still
// applying its log): nothing was done, and the call may be sent again to
// the leader (LeaderHint, when known). An Unavailable that is not one (a
// commit whose leader was lost while it replicated) may have committed.
bool IsNotLeader(const absl::Status& status);

}  // namespace mvkv::replication

#endif  // MVKV_REPLICATION_INFO_H_
