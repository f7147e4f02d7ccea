// ycsb: YCSB-style load harness for mvkv and its peers, with stalled-thread
// and stalled-transaction scenarios. See --help and bench/ycsb/README.md.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bench/ycsb/exit_guard.h"
#include "bench/ycsb/process.h"
#include "bench/ycsb/report.h"
#include "bench/ycsb/runner.h"
#include "bench/ycsb/target.h"
#include "bench/ycsb/workload.h"
#include "flags/usage.h"

ABSL_FLAG(std::string, workload, "a",
          "a|b|c|d|e|f (YCSB core workloads) or a file in YCSB property format "
          "(readproportion=, updateproportion=, insertproportion=, "
          "scanproportion=, readmodifywriteproportion=, requestdistribution="
          "uniform|zipfian|latest, recordcount=, operationcount=, fieldcount=, "
          "fieldlength=, maxscanlength=, ...).");
ABSL_FLAG(std::string, target, "embedded",
          "embedded (mvkv::Database in-process) | rocksdb (RocksDB "
          "TransactionDB in-process, temp dir) | grpc://HOST:PORT (mvkv_server) "
          "| etcd://HOST:PORT (etcd v3 gRPC; with --start_etcd the address is filled in) "
          "| null://HOST:PORT (bench's null_server; --start_null fills it in). With "
          "--start_server the grpc address is filled in.");
ABSL_FLAG(int64_t, records, -1, "Records to load (default: the workload's recordcount).");
ABSL_FLAG(int64_t, ops, -1,
          "Operations in the run phase, over all threads (default: the "
          "workload's operationcount, unless --seconds is set).");
ABSL_FLAG(double, seconds, 0, "Run for this long instead of a fixed op count.");
ABSL_FLAG(int, threads, 1, "Client threads.");
ABSL_FLAG(double, rate, 0,
          "Target total ops/s (0 = unthrottled). Latency is then measured from "
          "each operation's intended start (coordinated omission corrected).");
ABSL_FLAG(int, pipeline, 1,
          "Operations in flight per client thread (networked targets): 1 = "
          "one blocking call at a time; N > 1 starts reads and writes "
          "without waiting, through --pipeline_via (scans and "
          "read-modify-writes still run one at a time).");
ABSL_FLAG(std::string, pipeline_via, "stream",
          "With --pipeline=N: stream (one Pipeline stream per thread), "
          "unary (N asynchronous unary calls) or batch (Batch calls of up "
          "to N operations).");
ABSL_FLAG(std::string, start_null, "",
          "Path of bench's null_server (the same proto answering at once: "
          "gRPC's own cost): start it on 127.0.0.1 (free port) as "
          "--target=null://..., values the size of the workload's records.");
ABSL_FLAG(std::vector<std::string>, stall, {},
          "KIND:K@T[+D][:SELECT], from T seconds (or ms) into the run for D "
          "(default: to its end); comma-separated or repeated. "
          "reclaim:K@T parks K harness threads inside a Guard of mvkv's reclaim "
          "domain (Crystalline-W, or EBR when built with --config=engine_ebr; "
          "mvcc/reclaim_scheme.h): in-process engine only. "
          "txn:K@T opens K transactions at T that hold their snapshots "
          "(embedded: Txn; rocksdb: GetSnapshot; grpc: interactive "
          "transaction kept alive; etcd: a reader pinned to a revision). "
          "thread:K@T[+D][:busy|name=GLOB|random[=SEED]] freezes K threads of "
          "the target process (--start_server, --start_etcd or --server_pid) "
          "with ptrace while its other threads run: the busiest by CPU time "
          "since the run started (default), those whose /proc comm matches "
          "GLOB, or a random sample (seed logged). Needs ptrace permission "
          "(same user or CAP_SYS_PTRACE; Yama ptrace_scope). Frozen threads are "
          "resumed at T+D, at the end of the run's time, on SIGINT/SIGTERM/"
          "SIGHUP, and by the kernel if the harness dies. "
          "server-reclaim:K@T[+D] has mvkv_server park K of its threads inside "
          "a reclaim guard (mvkv.v1.Admin; the server needs "
          "--allow_fault_injection).");
ABSL_FLAG(bool, load, true, "Run the load phase (records in hashed order).");
ABSL_FLAG(int, sample_ms, 100, "Timeline sampling period.");
ABSL_FLAG(std::string, json, "", "Append one JSON row (target, workload, ...) to this array file.");
ABSL_FLAG(std::string, csv, "", "Write the sampled timeline here.");
ABSL_FLAG(std::string, plot, "", "Draw the timeline as a PNG here (gnuplot).");
ABSL_FLAG(bool, progress, false, "Live progress line on stderr even when stderr is not a TTY.");
ABSL_FLAG(std::string, start_server, "",
          "Path of mvkv_server: start it on 127.0.0.1 (free port), drive it "
          "over gRPC, sample its RSS, stop it at the end.");
ABSL_FLAG(std::vector<std::string>, server_args, {},
          "Extra flags for --start_server (and every --start_cluster node).");
ABSL_FLAG(int, start_cluster, 0,
          "Start N mvkv_server nodes (binary: --start_server) as one Raft "
          "cluster on 127.0.0.1 (free client and Raft ports), wait for a "
          "leader, drive grpc:// all N addresses (the client follows the "
          "leader), sample the leader's RSS, stop them all at the end or on "
          "SIGINT/SIGTERM/SIGHUP. In memory unless --cluster_data_dir.");
ABSL_FLAG(std::string, cluster_data_dir, "",
          "With --start_cluster: node i keeps its Raft log and snapshots in a "
          "fresh DIR/ycsb-node<i>-XXXXXX (DIR must exist: a missing one is an error, not created), removed when it stops.");
ABSL_FLAG(bool, start_etcd, false, "Start etcd (--etcd_binary) on loopback for --target=etcd.");
ABSL_FLAG(int, start_etcd_cluster, 0,
          "Start N etcd members (--etcd_binary) as one cluster on loopback "
          "(fresh data dirs, removed at the end), wait for a leader, drive "
          "all N round-robin as etcd's client does; RSS is member 1's.");
ABSL_FLAG(std::string, etcd_binary, "/usr/bin/etcd",
          "etcd for --start_etcd/--start_etcd_cluster.");
ABSL_FLAG(int, server_pid, -1,
          "PID of the target's process, for RSS sampling and thread: stalls "
          "(default: the server --start_server/--start_etcd started).");
ABSL_FLAG(std::string, rocksdb_dir, "", "RocksDB directory (default: a temp dir, removed).");
ABSL_FLAG(bool, rocksdb_wal, false, "RocksDB with its WAL on (not synced).");
ABSL_FLAG(int64_t, rocksdb_cache_mb, 512, "RocksDB block cache size.");
ABSL_FLAG(uint64_t, seed, 1, "Generator seed.");

namespace mvkv::ycsb {
namespace {

int Fail(const absl::Status& s) {
  AwaitStopIfStopping();
  std::fprintf(stderr, "ycsb: %s\n", s.ToString().c_str());
  return 2;
}

absl::StatusOr<RunConfig> MakeConfig() {
  absl::StatusOr<WorkloadSpec> spec = LoadWorkload(absl::GetFlag(FLAGS_workload));
  if (!spec.ok()) return spec.status();
  RunConfig c;
  c.spec = *spec;
  if (absl::GetFlag(FLAGS_records) > 0) c.spec.record_count = absl::GetFlag(FLAGS_records);
  c.seconds = absl::GetFlag(FLAGS_seconds);
  if (absl::GetFlag(FLAGS_ops) >= 0) c.ops = absl::GetFlag(FLAGS_ops);
  else if (c.seconds <= 0) c.ops = c.spec.operation_count;
  if (c.ops > 0) c.spec.operation_count = c.ops;
  if (c.ops == 0 && c.seconds <= 0) {
    return absl::InvalidArgumentError("give --ops=N or --seconds=N");
  }
  c.threads = absl::GetFlag(FLAGS_threads);
  if (c.threads < 1) return absl::InvalidArgumentError("--threads must be >= 1");
  c.rate = absl::GetFlag(FLAGS_rate);
  c.pipeline = absl::GetFlag(FLAGS_pipeline);
  if (c.pipeline < 1) return absl::InvalidArgumentError("--pipeline must be >= 1");
  absl::StatusOr<PipelineVia> via = ParsePipelineVia(absl::GetFlag(FLAGS_pipeline_via));
  if (!via.ok()) return via.status();
  c.pipeline_via = *via;
  for (const std::string& s : absl::GetFlag(FLAGS_stall)) {
    absl::StatusOr<Stall> stall = ParseStall(s);
    if (!stall.ok()) return stall.status();
    c.stalls.push_back(*stall);
  }
  c.sample_ms = std::max(10, absl::GetFlag(FLAGS_sample_ms));
  c.progress = absl::GetFlag(FLAGS_progress) || isatty(2);
  c.load = absl::GetFlag(FLAGS_load);
  c.seed = absl::GetFlag(FLAGS_seed);
  return c;
}

int Main() {
  absl::StatusOr<RunConfig> config = MakeConfig();
  if (!config.ok()) return Fail(config.status());
  TargetOptions to;
  to.spec = absl::GetFlag(FLAGS_target);
  to.server_pid = absl::GetFlag(FLAGS_server_pid);
  if (to.server_pid != -1 &&
      (to.server_pid <= 0 || (kill(to.server_pid, 0) != 0 && errno == ESRCH))) {
    return Fail(absl::NotFoundError(
        absl::StrCat("--server_pid=", to.server_pid, ": no such process")));
  }
  to.rocksdb_dir = absl::GetFlag(FLAGS_rocksdb_dir);
  to.rocksdb_wal = absl::GetFlag(FLAGS_rocksdb_wal);
  to.rocksdb_cache_mb = absl::GetFlag(FLAGS_rocksdb_cache_mb);
  std::unique_ptr<ChildProcess> child;
  std::unique_ptr<MvkvCluster> cluster;
  std::vector<std::unique_ptr<ChildProcess>> etcd_members;
  if (absl::GetFlag(FLAGS_start_cluster) != 0) {
    if (absl::GetFlag(FLAGS_start_server).empty()) {
      return Fail(absl::InvalidArgumentError(
          "--start_cluster needs --start_server=PATH of mvkv_server"));
    }
    absl::StatusOr<std::unique_ptr<MvkvCluster>> c = MvkvCluster::Start(
        absl::GetFlag(FLAGS_start_server), absl::GetFlag(FLAGS_start_cluster),
        absl::GetFlag(FLAGS_server_args), absl::GetFlag(FLAGS_cluster_data_dir));
    if (!c.ok()) return Fail(c.status());
    cluster = std::move(*c);
    to.spec = "grpc://" + cluster->addresses();
    if (to.server_pid < 0) to.server_pid = cluster->leader_pid();
  } else if (!absl::GetFlag(FLAGS_cluster_data_dir).empty()) {
    return Fail(absl::InvalidArgumentError("--cluster_data_dir needs --start_cluster=N"));
  } else if (!absl::GetFlag(FLAGS_start_server).empty()) {
    absl::StatusOr<std::unique_ptr<ChildProcess>> p = ChildProcess::StartMvkvServer(
        absl::GetFlag(FLAGS_start_server), absl::GetFlag(FLAGS_server_args));
    if (!p.ok()) return Fail(p.status());
    child = std::move(*p);
    to.spec = "grpc://" + child->address();
  } else if (!absl::GetFlag(FLAGS_start_null).empty()) {
    Random rng(1);
    absl::StatusOr<std::unique_ptr<ChildProcess>> p = ChildProcess::StartMvkvServer(
        absl::GetFlag(FLAGS_start_null),
        {absl::StrCat("--value_bytes=", BuildRecord(config->spec, rng).size())});
    if (!p.ok()) return Fail(p.status());
    child = std::move(*p);
    to.spec = "null://" + child->address();
  } else if (absl::GetFlag(FLAGS_start_etcd_cluster) != 0) {
    absl::StatusOr<std::vector<std::unique_ptr<ChildProcess>>> m =
        ChildProcess::StartEtcdCluster(absl::GetFlag(FLAGS_etcd_binary),
                                       absl::GetFlag(FLAGS_start_etcd_cluster));
    if (!m.ok()) return Fail(m.status());
    etcd_members = std::move(*m);
    to.spec = "etcd://";
    for (const std::unique_ptr<ChildProcess>& p : etcd_members) {
      absl::StrAppend(&to.spec, p.get() == etcd_members[0].get() ? "" : ",", p->address());
    }
    if (to.server_pid < 0) to.server_pid = etcd_members[0]->pid();
  } else if (absl::GetFlag(FLAGS_start_etcd)) {
    absl::StatusOr<std::unique_ptr<ChildProcess>> p =
        ChildProcess::StartEtcd(absl::GetFlag(FLAGS_etcd_binary));
    if (!p.ok()) return Fail(p.status());
    child = std::move(*p);
    to.spec = "etcd://" + child->address();
  }
  if (child != nullptr && to.server_pid < 0) to.server_pid = child->pid();
  absl::StatusOr<std::unique_ptr<Target>> target = OpenTarget(to);
  if (!target.ok()) return Fail(target.status());
  if (absl::Status s = CheckStalls(**target, *config); !s.ok()) return Fail(s);
  absl::StatusOr<RunResult> result = Run(**target, *config);
  if (!result.ok()) return Fail(result.status());
  PrintSummary(stdout, *result);
  std::fflush(stdout);
  int rc = 0;
  const std::string csv = absl::GetFlag(FLAGS_csv), png = absl::GetFlag(FLAGS_plot);
  for (const absl::Status& s :
       {absl::GetFlag(FLAGS_json).empty() ? absl::OkStatus()
                                          : AppendJson(absl::GetFlag(FLAGS_json), *result),
        csv.empty() ? absl::OkStatus() : WriteCsv(csv, *result)}) {
    if (!s.ok()) rc = Fail(s);
  }
  if (!png.empty()) {
    std::string data = csv;
    if (data.empty()) {
      data = png + ".csv";
      absl::Status s = WriteCsv(data, *result);
      if (!s.ok()) rc = Fail(s);
    }
    absl::Status s = Plot(data, png, *result);
    if (!s.ok()) rc = Fail(s);
  }
  target->reset();
  return rc;
}

}  // namespace
}  // namespace mvkv::ycsb

int main(int argc, char** argv) {
  mvkv::flags::SetUsage(
      "YCSB-style load harness: load + run phases against one target, stall "
      "scenarios, 100 ms timeline (heap, reclaim backlog, retained versions, "
      "throughput), YCSB-like summary on stdout, JSON/CSV/PNG.\n"
      "  ycsb --workload=a|..|f|FILE --target=embedded|rocksdb|grpc://H:P "
      "[--records=N] [--ops=N|--seconds=S] [--threads=N] [--rate=OPS] "
      "[--pipeline=N [--pipeline_via=stream|unary|batch]] "
      "[--start_server=PATH [--start_cluster=N [--cluster_data_dir=DIR]]] "
      "[--stall=reclaim:K@T|txn:K@T|thread:K@T[+D][:SELECT]|server-reclaim:K@T[+D]] "
      "[--json=P] [--csv=P] [--plot=P.png]");
  absl::ParseCommandLine(argc, argv);
  mvkv::ycsb::InstallExitGuard();  // before any other thread starts
  return mvkv::ycsb::Main();
}
