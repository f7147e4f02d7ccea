// mvkv_server as a member of a Raft group (replication/node.h): the flags
// that make it one, their checks, and the replication::NodeOptions they
// become. With ClusterOptions::node_id 0 the server is a single process
// (no Raft); otherwise its Database is the group's replica:
//
//   * writes, commits, CompareAndCommit, Delete, transaction begins and
//     linearizable reads are served by the leader only; another node
//     answers UNAVAILABLE with the leader's client address in the trailing
//     metadata `mvkv-leader` (kLeaderMetadata), having done nothing;
//   * a linearizable read (the default) waits for the leader to confirm its
//     leadership with a quorum: one Raft barrier per batch of reads waiting
//     (replication::Node::ConfirmLeadership). A barrier rather than a leader
//     lease because a lease is only as safe as the clocks' drift bound, and
//     a node stopped by SIGSTOP (or a VM pause) wakes up believing in a
//     lease that ran out meanwhile; the barrier costs one quorum round trip
//     shared by every read of its batch;
//   * a STALE read is served by any node at its applied state;
//   * data_dir holds the Raft log and snapshots (replication/internal/
//     node_dir.h); empty = in memory (the node forgets everything when it
//     stops, and rejoins as a fresh member only if re-added).
//
// Thread safety: plain values and pure functions.
#ifndef MVKV_SERVER_CLUSTER_MODE_H_
#define MVKV_SERVER_CLUSTER_MODE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replication/options.h"

namespace mvkv::server {

// The trailing metadata key of a refusal on a node that does not lead: the
// leader's client address, or empty while no leader is known.
inline constexpr char kLeaderMetadata[] = "mvkv-leader";

struct ClusterOptions {
  // This node's id in the group, >= 1. 0 = not a cluster member.
  uint64_t node_id = 0;
  std::string cluster_id = "mvkv";
  // IPv4 "a.b.c.d:port" the node serves Raft on (its peers dial it).
  std::string raft_listen;
  // The initial group, "ID=RAFT_ADDRESS/CLIENT_ADDRESS,..." (see
  // replication::ParseMembers); it must name this node with raft_listen.
  // Used only when the data directory holds no Raft state yet.
  std::string peers;
  // Start with no group and wait to be added by the leader (mvkv cluster
  // add). Exclusive with peers.
  bool join = false;
  // The client address the group tells clients for this node (mvkv-leader,
  // status). Empty: this node's entry in peers, else the server's listen.
  std::string advertise;
  absl::Duration election_timeout = absl::Milliseconds(500);
  absl::Duration heartbeat_interval = absl::Milliseconds(50);
  // Log compaction (replication::NodeOptions): a snapshot every
  // snapshot_threshold entries or max_log_bytes of them.
  uint32_t snapshot_threshold = 1024;
  uint64_t max_log_bytes = uint64_t{64} << 20;
  // replication::NodeOptions::peer_send_timeout: a peer connection whose
  // sent bytes stay unacknowledged this long is closed (a stopped peer).
  absl::Duration peer_send_timeout = absl::Seconds(5);
};

// The node options of a cluster member serving clients on `listen`, with
// its Raft state in `data_dir` (empty: in memory) created when missing if
// `create`. InvalidArgument naming the flag for a malformed --peers (see
// ParseMembers), duplicate ids or raft addresses, --node_id missing from
// --peers or listed with another raft address than --raft_listen, a client
// address whose port differs from --listen's, --join with --peers, neither
// of them, or bad timing. Nothing is opened or written.
absl::StatusOr<replication::NodeOptions> ToNodeOptions(
    const ClusterOptions& cluster, const std::string& listen,
    const std::string& data_dir, bool create);

}  // namespace mvkv::server

#endif  // MVKV_SERVER_CLUSTER_MODE_H_
