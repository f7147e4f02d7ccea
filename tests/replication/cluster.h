// Test helpers: a group of replication::Nodes in one process, each with its
// own loop thread, Database and directory under TEST_TMPDIR, on free
// 127.0.0.1 ports; waits bounded in time; blocking forms of the callbacks.
#ifndef MVKV_TESTS_REPLICATION_CLUSTER_H_
#define MVKV_TESTS_REPLICATION_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/ports.h"  // FreePort
#include "mvcc/db.h"
#include "replication/node.h"

namespace mvkv::testing_support {

// A fresh directory under TEST_TMPDIR (not created).
std::string TempPath(const std::string& name);

// Runs `call` with a callback and waits (bounded) for it. DeadlineExceeded
// if it never came.
absl::Status Await(const std::function<void(replication::StatusCallback)>& call,
                   absl::Duration timeout = absl::Seconds(60));
// Await of n->TransferLeadership(id).
absl::Status TransferLeadership(replication::Node* n, uint64_t id);

// Every live key with its value and commit timestamp.
using State = std::vector<std::tuple<std::string, std::string, uint64_t>>;
State FullState(Database& db);

// Polls `done` every few milliseconds until it is true or `timeout` passes.
bool WaitFor(const std::function<bool()>& done,
             absl::Duration timeout = absl::Seconds(60));

// True in the sanitizer builds (MVKV_SANITIZER), which run several times
// slower: tests give elections and writes more time.
#ifdef MVKV_SANITIZER
inline constexpr bool kSanitizer = true;
#else
inline constexpr bool kSanitizer = false;
#endif

struct ClusterOptions {
  int nodes = 3;
  // Longer under sanitizers, where a slowed loop thread would otherwise
  // miss heartbeats and start needless elections.
  absl::Duration election_timeout = absl::Seconds(kSanitizer ? 3 : 1);
  absl::Duration heartbeat_interval = absl::Milliseconds(100);
  uint32_t snapshot_threshold = 1024;
  uint32_t snapshot_trailing = 128;
  uint64_t max_log_bytes = uint64_t{64} << 20;
  absl::Duration peer_send_timeout = absl::Seconds(5);
  bool read_lease = true;  // NodeOptions::read_lease (every node has a dir)
  std::string cluster_id = "test";
};

class Cluster final {
 public:
  explicit Cluster(ClusterOptions options);
  ~Cluster();  // closes every node

  // Starts nodes 1..options.nodes, bootstrapped together.
  absl::Status Start();
  // Start(), then WaitForLeader(): the leader's id.
  absl::StatusOr<uint64_t> StartAndElect();
  // (Re)starts node `id` from its directory (its options as last used).
  absl::Status StartNode(uint64_t id);
  void StopNode(uint64_t id);
  // A new node that joins (empty bootstrap) with fresh ports and directory;
  // returns its id, and its Member for AddMember in *member.
  absl::StatusOr<uint64_t> StartJoiningNode(replication::Member* member);

  replication::Node* node(uint64_t id);  // null if not running
  replication::NodeOptions& options(uint64_t id) { return options_.at(id); }
  std::vector<uint64_t> running() const;
  // A running node other than `leader` (0 if none).
  uint64_t Follower(uint64_t leader) const;

  // The running node that is the ready leader (not `except`), waiting for
  // one; 0 on timeout.
  uint64_t WaitForLeader(uint64_t except = 0,
                         absl::Duration timeout = absl::Seconds(60));
  // Runs `commit` on the ready leader until it is not refused as not the
  // leader (elections may flap right after a partition heals), for at most
  // `timeout`. Returns the last status and the leader it ran on.
  absl::Status OnLeader(const std::function<absl::Status(Database&)>& commit,
                        uint64_t* leader = nullptr,
                        absl::Duration timeout = absl::Seconds(60));
  // True once every running node's engine shows commit `ts`.
  bool WaitForVisible(uint64_t ts, absl::Duration timeout = absl::Seconds(60));

 private:
  replication::NodeOptions MakeOptions(uint64_t id);

  const ClusterOptions cluster_options_;
  std::vector<replication::Member> members_;
  std::map<uint64_t, replication::NodeOptions> options_;
  std::map<uint64_t, std::unique_ptr<replication::Node>> nodes_;
  uint64_t next_id_ = 1;
};

}  // namespace mvkv::testing_support

#endif  // MVKV_TESTS_REPLICATION_CLUSTER_H_
