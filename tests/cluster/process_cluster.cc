#include "tests/cluster/process_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace mvkv::testing {

ProcessCluster::ProcessCluster(int nodes, bool persistent,
                               std::vector<std::string> extra)
    : nodes_(nodes), extra_(std::move(extra)) {
  for (int i = 0; i < nodes; ++i) {
    nodes_[i].client_port = FreePort();
    nodes_[i].raft_port = FreePort();
    if (persistent) nodes_[i].data_dir = NewTempDir(absl::StrCat("node", i + 1));
    absl::StrAppend(&peers_, i == 0 ? "" : ",", i + 1, "=127.0.0.1:",
                    nodes_[i].raft_port, "/127.0.0.1:", nodes_[i].client_port);
  }
}

int ProcessCluster::AddJoiningNode() {
  Node& node = nodes_.emplace_back();
  node.client_port = FreePort();
  node.raft_port = FreePort();
  node.join = true;
  return size() - 1;
}

std::vector<std::string> ProcessCluster::Flags(int i) const {
  std::vector<std::string> flags = {
      absl::StrCat("--node_id=", i + 1),
      absl::StrCat("--raft_listen=", raft_address(i)),
      nodes_[i].join ? std::string("--join")
                     : absl::StrCat("--peers=", peers_)};
  if (!nodes_[i].data_dir.empty()) {
    flags.push_back(absl::StrCat("--data_dir=", nodes_[i].data_dir, "/raft"));
    flags.push_back("--create");
  }
  flags.insert(flags.end(), extra_.begin(), extra_.end());
  return flags;
}

absl::Status ProcessCluster::Start(int i) {
  auto p = ServerProcess::Start(Flags(i), client::ClientOptions(),
                                nodes_[i].client_port);
  if (!p.ok()) return p.status();
  nodes_[i].process = *std::move(p);
  return absl::OkStatus();
}

absl::Status ProcessCluster::StartAll() {
  for (int i = 0; i < size(); ++i) {
    if (running(i)) continue;
    if (absl::Status s = Start(i); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void ProcessCluster::Kill(int i) {
  if (nodes_[i].process != nullptr) nodes_[i].process->Stop(SIGKILL);
  nodes_[i].process.reset();
}

int ProcessCluster::Stop(int i, int signal) {
  const int code = nodes_[i].process->Stop(signal);
  nodes_[i].process.reset();
  return code;
}

std::string ProcessCluster::address(int i) const {
  return absl::StrCat("127.0.0.1:", nodes_[i].client_port);
}

std::string ProcessCluster::raft_address(int i) const {
  return absl::StrCat("127.0.0.1:", nodes_[i].raft_port);
}

std::string ProcessCluster::addresses() const {
  std::string out;
  for (int i = 0; i < size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", address(i));
  }
  return out;
}

std::unique_ptr<client::Client> ProcessCluster::NodeClient(int i) const {
  client::ClientOptions o;
  o.server = address(i);
  o.max_attempts = 1;
  o.timeout = absl::Seconds(2);
  return *client::Client::Connect(o);
}

std::unique_ptr<client::Client> ProcessCluster::ClusterClient(
    client::ClientOptions options) const {
  options.server = addresses();
  return *client::Client::Connect(options);
}

int ProcessCluster::WaitForLeader(absl::Duration timeout, int except) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<std::unique_ptr<client::Client>> clients(size());
  // Bound: the deadline.
  while (absl::Now() < deadline) {
    for (int i = 0; i < size(); ++i) {
      if (i == except || !running(i)) continue;
      if (clients[i] == nullptr) clients[i] = NodeClient(i);
      auto r = clients[i]->Get("probe/leader");
      if (r.ok() || absl::IsNotFound(r.status())) return i;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return -1;
}

}  // namespace mvkv::testing
