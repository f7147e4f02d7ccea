// bench/ycsb/failover_bench — leader kill to first acknowledged write, for
// a cluster of mvkv_server nodes (issue 15's failover target).
//
// Starts --nodes nodes as one Raft cluster on loopback (MvkvCluster, each
// with a data directory so a killed node restarts from it), runs
// --threads writer threads (autocommit Put, each thread its own client of
// every node, following the leader by itself), then --kills times: waits
// until writes are being acknowledged, kill -9s the leader, and records
//   elected: kill -> a surviving node answers a linearizable read (probed
//            every 10 ms, one attempt per node: the new leader serves);
//   first ack: kill -> the first write acknowledged after it (any thread).
// "Kill" is the moment the leader stops: it is SIGSTOPped, the harness
// waits until no ack has arrived for 100 ms (responses it had already
// sent, which a starved client may read late: seen 89 ms after a plain
// kill -9 at load 16), then SIGKILLs it; times count from the SIGSTOP.
// For the followers both are the same (no more heartbeats); the clients'
// calls to it hang until the SIGKILL (< 0.3 s, well inside an election),
// then break as under a plain kill -9. So an ack after the SIGKILL is the
// new leader's.
// The killed node is restarted and caught up before the next kill. Prints
// one line per kill and min/p50/p90/max of both, and the gap between them
// (how long the clients took to find the new leader).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/ycsb/exit_guard.h"
#include "bench/ycsb/process.h"
#include "client/client.h"

ABSL_FLAG(std::string, server_binary, "server/mvkv_server", "mvkv_server.");
ABSL_FLAG(int, nodes, 3, "Cluster size.");
ABSL_FLAG(int, kills, 10, "Leader kills.");
ABSL_FLAG(int, threads, 4, "Writer threads.");
ABSL_FLAG(std::string, data_dir, "/tmp",
          "Existing directory for the nodes' data directories (removed at the end).");
ABSL_FLAG(absl::Duration, hold_on_failure, absl::ZeroDuration(),
          "If a kill finds no new leader or no ack, keep the cluster this long "
          "(to inspect it, e.g. mvkv cluster status) before stopping it.");
ABSL_FLAG(std::vector<std::string>, server_args, {},
          "Extra flags for every node (e.g. --election_timeout=1s).");

namespace mvkv::ycsb {
namespace {

int64_t NowNs() { return absl::GetCurrentTimeNanos(); }

// Every acknowledged write's time, all threads.
class AckTimes {
 public:
  void Add(int64_t t) {
    std::lock_guard<std::mutex> l(mu_);
    times_.push_back(t);
  }
  // The first ack at or after `t`, or -1. Times are appended nearly in
  // order (each taken just before the lock), so a scan back to 1 s before
  // `t` sees every candidate.
  int64_t FirstAtOrAfter(int64_t t) {
    std::lock_guard<std::mutex> l(mu_);
    int64_t best = -1;
    for (auto it = times_.rbegin(); it != times_.rend() && *it >= t - 1'000'000'000; ++it) {
      if (*it >= t && (best < 0 || *it < best)) best = *it;
    }
    return best;
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu_);
    return times_.size();
  }

 private:
  std::mutex mu_;
  std::vector<int64_t> times_;
};

void Writer(const std::string& servers, int id, AckTimes* acks,
            std::atomic<int64_t>* errors, const std::atomic<bool>* stop) {
  client::ClientOptions o;
  o.server = servers;
  absl::StatusOr<std::unique_ptr<client::Client>> c = client::Client::Connect(o);
  if (!c.ok()) {
    std::fprintf(stderr, "writer %d: %s\n", id, c.status().ToString().c_str());
    return;
  }
  // Bound: *stop.
  for (int64_t n = 0; !stop->load(std::memory_order_relaxed); ++n) {
    if ((*c)->Put(absl::StrCat("f/", id, "/", n), "v").ok()) {
      acks->Add(NowNs());
    } else {
      errors->fetch_add(1, std::memory_order_relaxed);
    }
  }
}

// The node (other than `except`) that answers a linearizable read within
// `timeout`, probing every 10 ms; -1 if none.
int FindLeader(MvkvCluster& cluster, absl::Duration timeout, int except) {
  const absl::Time deadline = absl::Now() + timeout;
  // Bound: the deadline.
  while (absl::Now() < deadline) {
    for (int i = 0; i < cluster.size(); ++i) {
      if (i != except && cluster.running(i) && cluster.Serves(i, absl::Milliseconds(500))) {
        return i;
      }
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return -1;
}

struct Dist {
  std::vector<double> s;
  std::string Line() {
    if (s.empty()) return "none";
    std::sort(s.begin(), s.end());
    auto at = [&](double q) { return s[std::min(s.size() - 1, size_t(q * s.size()))]; };
    char buf[160];
    std::snprintf(buf, sizeof(buf), "min %.3f p50 %.3f p90 %.3f max %.3f s (n=%zu)", s.front(),
                  at(0.5), at(0.9), s.back(), s.size());
    return buf;
  }
};

int Main() {
  absl::StatusOr<std::unique_ptr<MvkvCluster>> started = MvkvCluster::Start(
      absl::GetFlag(FLAGS_server_binary), absl::GetFlag(FLAGS_nodes),
      absl::GetFlag(FLAGS_server_args), absl::GetFlag(FLAGS_data_dir));
  if (!started.ok()) {
    std::fprintf(stderr, "failover_bench: %s\n", started.status().ToString().c_str());
    return 1;
  }
  MvkvCluster& cluster = **started;
  AckTimes acks;
  std::atomic<int64_t> errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < absl::GetFlag(FLAGS_threads); ++t) {
    writers.emplace_back(Writer, cluster.addresses(), t, &acks, &errors, &stop);
  }
  Dist elected, first_ack, discovery;
  int status = 0;
  for (int k = 0; k < absl::GetFlag(FLAGS_kills); ++k) {
    const int leader = FindLeader(cluster, absl::Seconds(30), -1);
    // Writes flowing: 50 acks after the previous restart (bound: 30 s).
    const size_t base = acks.size();
    for (int i = 0; i < 3000 && acks.size() < base + 50; ++i) absl::SleepFor(absl::Milliseconds(10));
    if (leader < 0 || acks.size() < base + 50) {
      std::fprintf(stderr, "kill %d: no leader or no progress\n", k + 1);
      status = 1;
      break;
    }
    const int64_t killed = NowNs();
    cluster.Kill(leader, [&acks] {
      // Drained: 100 ms without an ack (bound: 2 s).
      for (int i = 0; i < 20 && acks.FirstAtOrAfter(NowNs() - 100'000'000) >= 0; ++i) {
        absl::SleepFor(absl::Milliseconds(100));
      }
    });
    const int64_t sigkill = NowNs();
    const int next = FindLeader(cluster, absl::Seconds(30), leader);
    const int64_t serves = NowNs();
    int64_t ack = -1;
    for (int i = 0; i < 3000 && (ack = acks.FirstAtOrAfter(sigkill)) < 0; ++i) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (next < 0 || ack < 0) {
      std::fprintf(stderr, "kill %d: no new leader or no ack in 30 s; nodes %s\n", k + 1,
                   cluster.addresses().c_str());
      absl::SleepFor(absl::GetFlag(FLAGS_hold_on_failure));
      status = 1;
      break;
    }
    elected.s.push_back((serves - killed) / 1e9);
    first_ack.s.push_back((ack - killed) / 1e9);
    discovery.s.push_back((ack - serves) / 1e9);
    std::printf("kill %d: node %d killed, node %d serves after %.3f s, first ack after %.3f s\n",
                k + 1, leader + 1, next + 1, elected.s.back(), first_ack.s.back());
    std::fflush(stdout);
    if (absl::Status s = cluster.Restart(leader); !s.ok()) {
      std::fprintf(stderr, "restart of node %d: %s\n", leader + 1, s.ToString().c_str());
      status = 1;
      break;
    }
  }
  stop = true;
  for (std::thread& t : writers) t.join();
  std::printf("kill -> new leader serves: %s\n", elected.Line().c_str());
  std::printf("kill -> first ack:         %s\n", first_ack.Line().c_str());
  std::printf("leader serves -> first ack: %s\n", discovery.Line().c_str());
  std::printf("acked %zu, failed writes %lld\n", acks.size(),
              static_cast<long long>(errors.load()));
  return status;
}

}  // namespace
}  // namespace mvkv::ycsb

int main(int argc, char** argv) {
  mvkv::ycsb::InstallExitGuard();
  absl::ParseCommandLine(argc, argv);
  return mvkv::ycsb::Main();
}
