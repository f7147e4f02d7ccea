// Test helper: a cluster of real mvkv_server processes (--node_id, Raft on
// 127.0.0.1) with free ports, in memory or with a data directory per node;
// finds the leader by asking each node for a linearizable read, and kills,
// stops and restarts nodes. Every process is SIGKILLed when the helper is
// destroyed (ServerProcess).
#ifndef MVKV_TESTS_CLUSTER_PROCESS_CLUSTER_H_
#define MVKV_TESTS_CLUSTER_PROCESS_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "common/ports.h"
#include "tests/server/server_process.h"

namespace mvkv::testing {

using common::FreePort;

class ProcessCluster final {
 public:
  // `nodes` members; with `persistent` each has a data directory (created
  // by its first start). `extra` flags go to every server.
  ProcessCluster(int nodes, bool persistent,
                 std::vector<std::string> extra = {});

  int size() const { return static_cast<int>(nodes_.size()); }
  // Allocates node size() + 1's ports, started with --join instead of
  // --peers (a fresh node waiting to be added: `mvkv cluster add`), in
  // memory; returns its index. Not in the initial group's --peers.
  int AddJoiningNode();
  // Starts every node not running (each answers health checks; no leader
  // is awaited).
  absl::Status StartAll();
  absl::Status Start(int i);
  void Kill(int i);                    // SIGKILL
  int Stop(int i, int signal);         // ServerProcess::Stop
  bool running(int i) const { return nodes_[i].process != nullptr; }
  ServerProcess* process(int i) { return nodes_[i].process.get(); }

  std::string address(int i) const;
  std::string raft_address(int i) const;
  std::string addresses() const;  // every node's, comma separated
  const std::string& data_dir(int i) const { return nodes_[i].data_dir; }
  // The flags node i is started with.
  std::vector<std::string> Flags(int i) const;

  // The running node that serves a linearizable read, other than `except`;
  // -1 if none did within `timeout`.
  int WaitForLeader(absl::Duration timeout, int except = -1);
  // A client of node i alone, one attempt per call.
  std::unique_ptr<client::Client> NodeClient(int i) const;
  // A client of the whole cluster (follows the leader).
  std::unique_ptr<client::Client> ClusterClient(
      client::ClientOptions options = client::ClientOptions()) const;

 private:
  struct Node {
    int client_port = 0;
    int raft_port = 0;
    std::string data_dir;
    bool join = false;
    std::unique_ptr<ServerProcess> process;
  };
  std::vector<Node> nodes_;
  std::string peers_;
  std::vector<std::string> extra_;
};

}  // namespace mvkv::testing

#endif  // MVKV_TESTS_CLUSTER_PROCESS_CLUSTER_H_
