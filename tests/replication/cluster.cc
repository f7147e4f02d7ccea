#include "tests/replication/cluster.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#if defined(__SANITIZE_THREAD__)
// libuv closes files and sockets with a raw close(2) syscall on Linux, which
// ThreadSanitizer does not see; when an open elsewhere (another node's libuv
// worker, or this process's own code) later gets the same number, it reports
// a race on the file descriptor, against the libuv open that it thinks still
// owns it. Only reports whose top frame is such an open are suppressed:
// races on memory all have a memory access on top and are still reported.
extern "C" const char* __tsan_default_suppressions() {
  // Each names a libuv call that creates a descriptor.
  return "race_top:open64\n"
         "race_top:socket\n"
         "race_top:accept4\n"
         "race_top:eventfd\n"
         "race_top:epoll_create1\n"
         "race_top:pipe2\n";
}
#endif

namespace mvkv::testing_support {

using common::FreePort;

std::string TempPath(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TEST_TMPDIR");
  return absl::StrCat(base != nullptr ? base : "/tmp", "/", name, "-",
                      ::getpid(), "-", counter.fetch_add(1));
}

absl::Status Await(const std::function<void(replication::StatusCallback)>& call,
                   absl::Duration timeout) {
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    absl::Status status;
  };
  auto shared = std::make_shared<Shared>();
  call([shared](absl::Status s) {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->status = std::move(s);
    shared->done = true;
    shared->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(shared->mu);
  if (!shared->cv.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                           [&] { return shared->done; })) {
    return absl::DeadlineExceededError("the callback never came");
  }
  return shared->status;
}

absl::Status TransferLeadership(replication::Node* n, uint64_t id) {
  return Await([&](replication::StatusCallback cb) {
    n->TransferLeadership(id, std::move(cb));
  });
}

State FullState(Database& db) {
  State out;
  auto kvs = db.Scan("", "");
  if (!kvs.ok()) return out;
  for (const KeyValue& kv : *kvs) out.emplace_back(kv.key, kv.value, kv.commit_ts);
  return out;
}

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  // Bound: the deadline.
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

Cluster::Cluster(ClusterOptions options) : cluster_options_(std::move(options)) {}

Cluster::~Cluster() {
  for (auto& [id, node] : nodes_) node.reset();
}

replication::NodeOptions Cluster::MakeOptions(uint64_t id) {
  replication::NodeOptions o;
  o.cluster_id = cluster_options_.cluster_id;
  o.node_id = id;
  o.raft_address = absl::StrCat("127.0.0.1:", FreePort());
  o.client_address = absl::StrCat("127.0.0.1:", FreePort());
  o.data_dir = TempPath(absl::StrCat("node", id));
  o.election_timeout = cluster_options_.election_timeout;
  o.heartbeat_interval = cluster_options_.heartbeat_interval;
  o.snapshot_threshold = cluster_options_.snapshot_threshold;
  o.snapshot_trailing = cluster_options_.snapshot_trailing;
  o.max_log_bytes = cluster_options_.max_log_bytes;
  o.peer_send_timeout = cluster_options_.peer_send_timeout;
  o.read_lease = cluster_options_.read_lease;
  return o;
}

absl::Status Cluster::Start() {
  for (int i = 0; i < cluster_options_.nodes; ++i) {
    const uint64_t id = next_id_++;
    options_[id] = MakeOptions(id);
    members_.push_back({id, options_[id].raft_address, options_[id].client_address});
  }
  for (auto& [id, o] : options_) o.bootstrap = members_;
  for (const replication::Member& m : members_) {
    if (absl::Status s = StartNode(m.id); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Cluster::StartAndElect() {
  if (absl::Status s = Start(); !s.ok()) return s;
  const uint64_t leader = WaitForLeader();
  if (leader == 0) return absl::DeadlineExceededError("no leader elected");
  return leader;
}

absl::Status Cluster::StartNode(uint64_t id) {
  Options db;
  db.maintenance_interval = absl::Milliseconds(50);
  absl::StatusOr<std::unique_ptr<replication::Node>> node =
      replication::Node::Open(options_.at(id), db);
  if (!node.ok()) return node.status();
  nodes_[id] = std::move(*node);
  return absl::OkStatus();
}

void Cluster::StopNode(uint64_t id) { nodes_.erase(id); }

absl::StatusOr<uint64_t> Cluster::StartJoiningNode(replication::Member* member) {
  const uint64_t id = next_id_++;
  options_[id] = MakeOptions(id);
  *member = {id, options_[id].raft_address, options_[id].client_address};
  if (absl::Status s = StartNode(id); !s.ok()) return s;
  return id;
}

replication::Node* Cluster::node(uint64_t id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.get();
}

std::vector<uint64_t> Cluster::running() const {
  std::vector<uint64_t> ids;
  for (const auto& [id, node] : nodes_) ids.push_back(id);
  return ids;
}

uint64_t Cluster::Follower(uint64_t leader) const {
  for (const auto& [id, node] : nodes_) {
    if (id != leader) return id;
  }
  return 0;
}

uint64_t Cluster::WaitForLeader(uint64_t except, absl::Duration timeout) {
  uint64_t leader = 0;
  WaitFor(
      [&] {
        for (const auto& [id, node] : nodes_) {
          if (id != except && node->Info().ready) {
            leader = id;
            return true;
          }
        }
        return false;
      },
      timeout);
  return leader;
}

absl::Status Cluster::OnLeader(
    const std::function<absl::Status(Database&)>& commit, uint64_t* leader,
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status s = absl::DeadlineExceededError("no ready leader");
  // Bound: the deadline.
  while (absl::Now() < deadline) {
    const uint64_t id = WaitForLeader(0, deadline - absl::Now());
    if (id == 0) break;
    s = commit(node(id)->db());
    if (leader != nullptr) *leader = id;
    if (!absl::IsUnavailable(s)) return s;
    std::fprintf(stderr, "commit on node %llu refused, retrying: %s\n",
                 static_cast<unsigned long long>(id), s.ToString().c_str());
    absl::SleepFor(absl::Milliseconds(50));
  }
  return s;
}

bool Cluster::WaitForVisible(uint64_t ts, absl::Duration timeout) {
  return WaitFor(
      [&] {
        for (const auto& [id, node] : nodes_) {
          if (node->db().GetStats().visible_ts < ts) return false;
        }
        return true;
      },
      timeout);
}

}  // namespace mvkv::testing_support
