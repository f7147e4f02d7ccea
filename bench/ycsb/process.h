// bench/ycsb/process.h — child processes the harness starts on request:
// mvkv_server (--start_server), an N-node mvkv cluster (--start_cluster) and
// etcd (--start_etcd), on 127.0.0.1 only.
//
// Thread safety: owned by main. A ChildProcess's pid is shared with the exit
// guard's thread (exit_guard.h), which may run Terminate() while main waits
// in WaitServing(): mu_ makes exactly one of them reap the child, and the
// pid Terminate() signals is its own copy, taken under mu_ (invariant 1).
#ifndef MVKV_BENCH_YCSB_PROCESS_H_
#define MVKV_BENCH_YCSB_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/ycsb/exit_guard.h"
#include "proto/kv.grpc.pb.h"

namespace mvkv::ycsb {

class ChildProcess final {
 public:
  // Starts `binary` (mvkv_server, or bench's null_server, which logs the
  // same line) --listen=127.0.0.1:0 plus `args` with stderr to a log file of
  // its own (ycsb-<binary's name>-<harness pid>-<n>.log), and waits up to
  // 60 s for its JSON "serving" log line.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> StartMvkvServer(
      const std::string& binary, const std::vector<std::string>& args);
  // Starts etcd on a free loopback port with a fresh data directory and
  // waits until it accepts TCP connections.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> StartEtcd(
      const std::string& binary);
  // `members` etcd members forming one cluster on loopback (free client and
  // peer ports, fresh data directories), each accepting TCP; whether they
  // have a leader yet is for the caller to wait on (OpenTarget does).
  static absl::StatusOr<std::vector<std::unique_ptr<ChildProcess>>>
  StartEtcdCluster(const std::string& binary, int members);

  // SIGTERM, then SIGKILL after 10 s; removes a data directory it made. The
  // same happens when the harness gets SIGINT/SIGTERM/SIGHUP (exit_guard.h);
  // if the harness dies otherwise the child gets SIGTERM (PR_SET_PDEATHSIG).
  ~ChildProcess();

  // -1 once the child is reaped or being stopped.
  pid_t pid() const;
  const std::string& address() const { return address_; }

 private:
  friend class MvkvCluster;
  ChildProcess() = default;
  // Spawns `argv` with stderr to a fresh log file (`name` in its path).
  void SpawnLogged(const std::vector<std::string>& argv, const std::string& name);
  // Waits up to 60 s for the JSON "serving" line; fills in address().
  absl::Status WaitServing();
  void WatchForExit();  // registers Terminate() with the exit guard
  // True if the child is gone: reaped here (it exited) or taken by
  // Terminate(). Never blocks.
  bool ReapIfExited();
  void Terminate();
  // SIGSTOP, `stopped()`, SIGKILL (no SIGTERM), reaped; keeps the data
  // directory.
  void Kill(const std::function<void()>& stopped);
  // Invariants:
  // 1. pid_ > 0 only while the child is unreaped and nobody is stopping it;
  //    it changes only under mu_, and whoever sets it to -1 owns the child
  //    (is the only one to wait for it or signal it afterwards).
  // 2. No kill() is ever given a pid <= 0: kill(-1) is every process this
  //    user may signal and kill(0) the harness's own process group.
  mutable std::mutex mu_;
  pid_t pid_ = -1;  // guarded by mu_
  std::unique_ptr<ExitHook> exit_hook_;
  std::string address_;
  std::vector<std::string> argv_;  // as spawned, for MvkvCluster::Restart
  std::string name_;
  std::string log_path_;
  std::string data_dir_;
};

// N mvkv_server nodes in cluster mode (--node_id/--raft_listen/--peers),
// client and Raft ports picked free on 127.0.0.1. In memory, unless
// `data_root` is set: then node i keeps its Raft log and snapshots in a
// fresh DIR/ycsb-node<i>-XXXXXX (--create), removed when it stops. Every
// node is a ChildProcess, so the harness's stop signals stop them all.
class MvkvCluster final {
 public:
  // Starts all N, waits for each to serve and then (60 s) for a leader.
  static absl::StatusOr<std::unique_ptr<MvkvCluster>> Start(
      const std::string& binary, int nodes, const std::vector<std::string>& args,
      const std::string& data_root);

  // "a,b,c": every node's client address, for grpc://.
  std::string addresses() const;
  // The node that answered a linearizable read first (the leader then).
  pid_t leader_pid() const { return nodes_[leader_]->pid(); }
  const std::string& leader_address() const { return nodes_[leader_]->address(); }

  // For the failover benchmark (failover_bench.cc).
  int size() const { return static_cast<int>(nodes_.size()); }
  const std::string& address(int i) const { return nodes_[i]->address(); }
  bool running(int i) const { return nodes_[i]->pid() > 0; }
  // SIGKILLs node i (kill -9), keeping its data directory; SIGSTOPs it
  // first and runs `stopped` in between if given.
  void Kill(int i, const std::function<void()>& stopped = [] {}) {
    nodes_[i]->Kill(stopped);
  }
  // Starts node i again with the same flags (and directory), waits for it
  // to serve. REQUIRES: node i was killed.
  absl::Status Restart(int i);
  // Whether node i answers a linearizable read within `timeout` (it leads).
  bool Serves(int i, absl::Duration timeout);

 private:
  MvkvCluster() = default;
  absl::Status WaitForLeader();
  std::vector<std::unique_ptr<ChildProcess>> nodes_;
  std::vector<std::unique_ptr<v1::KV::Stub>> stubs_;  // by node, made on first use
  int leader_ = -1;
};

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_PROCESS_H_
