// How a replication node is configured, and the checks that refuse a bad
// configuration before anything is written.
//
// Thread safety: plain values and pure functions.
#ifndef MVKV_REPLICATION_OPTIONS_H_
#define MVKV_REPLICATION_OPTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mvkv::replication {

// One node of the group: Raft's id and address, plus the address clients
// reach it at (replicated in the log: Raft's configuration carries only
// raft_address).
struct Member {
  uint64_t id = 0;             // >= 1
  std::string raft_address;    // IPv4 "a.b.c.d:port" (libraft's transport)
  std::string client_address;  // "host:port"
};

struct NodeOptions {
  // Names the group. Recorded in the data directory and carried by member
  // records and snapshots: a directory or a log of another group is refused.
  // 1-64 characters from [A-Za-z0-9._-].
  std::string cluster_id = "mvkv";
  uint64_t node_id = 0;
  // Where this node listens for its peers, and what they dial. IPv4 only.
  std::string raft_address;
  // What the group tells clients about this node (leader hints, status).
  std::string client_address;
  // The node's directory: its identity file and libraft's log and snapshots
  // (see NodeDir). Empty: a private temporary directory, removed when the
  // node closes; such a node forgets everything on restart (in memory).
  std::string data_dir;
  bool create_if_missing = true;
  // The group to start on a fresh directory (this node must be in it).
  // Empty: join, i.e. wait to be added by the leader (AddMember). Ignored
  // for a directory that already holds a log.
  std::vector<Member> bootstrap;

  // Raft timing: a follower that hears nothing from a leader for 1-2x the
  // election timeout starts an election; the leader sends heartbeats every
  // heartbeat_interval.
  absl::Duration election_timeout = absl::Milliseconds(500);
  absl::Duration heartbeat_interval = absl::Milliseconds(50);
  // A snapshot being sent to a follower that does not finish in this time
  // is retried.
  absl::Duration install_snapshot_timeout = absl::Seconds(30);
  // A peer connection whose sent bytes stay unacknowledged (or unsent behind
  // a zero window: a stopped peer) this long is closed (TCP_USER_TIMEOUT),
  // releasing what libraft had queued for it. Keep it below
  // install_snapshot_timeout.
  absl::Duration peer_send_timeout = absl::Seconds(5);
  // Log compaction: a snapshot is taken once snapshot_threshold entries, or
  // max_log_bytes of entries, were applied since the last one; then
  // snapshot_trailing entries (fewer if they hold more than a quarter of
  // max_log_bytes, but at least 1) stay in the log for followers just
  // behind. A follower further behind catches up by snapshot.
  uint32_t snapshot_threshold = 1024;
  uint32_t snapshot_trailing = 128;
  uint64_t max_log_bytes = uint64_t{64} << 20;
};

// InvalidArgument, naming the field, for a bad cluster id, node id,
// address, timing or bootstrap list: ids >= 1 and unique, raft addresses
// valid and unique, this node in the list with its own raft address.
absl::Status ValidateNodeOptions(const NodeOptions& options);
// InvalidArgument unless `address` is "a.b.c.d:port" with port 1-65535.
absl::Status ValidateRaftAddress(std::string_view address);
// InvalidArgument unless `address` is "host:port" (host not empty, port
// 1-65535).
absl::Status ValidateClientAddress(std::string_view address);
// InvalidArgument for an empty or badly formed id (see NodeOptions).
absl::Status ValidateClusterId(std::string_view id);

// Parses "ID=RAFT_ADDRESS/CLIENT_ADDRESS,..." (e.g.
// "1=127.0.0.1:9001/127.0.0.1:7070,2=..."), checking each member as
// ValidateNodeOptions does and that ids and raft addresses are unique.
// InvalidArgument naming the bad item.
absl::StatusOr<std::vector<Member>> ParseMembers(std::string_view text);

}  // namespace mvkv::replication

#endif  // MVKV_REPLICATION_OPTIONS_H_
