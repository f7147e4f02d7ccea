// bench/ycsb/runner.h — the load phase, the run phase, stall scenarios and
// the 100 ms sampler, against one Target.
//
// Thread safety: Run() is called from one thread; it starts and joins its
// own workers, sampler and stall threads before returning.
#ifndef MVKV_BENCH_YCSB_RUNNER_H_
#define MVKV_BENCH_YCSB_RUNNER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/ycsb/histogram.h"
#include "bench/ycsb/stall_spec.h"
#include "bench/ycsb/target.h"
#include "bench/ycsb/workload.h"

namespace mvkv::ycsb {

struct RunConfig {
  WorkloadSpec spec;
  int threads = 1;
  uint64_t ops = 0;       // total operations; 0: run for `seconds`
  double seconds = 0;
  double rate = 0;        // total target ops/s; 0: as fast as possible
  // Operations in flight per worker (--pipeline; 1: one blocking call at a
  // time) and how they travel (bench/ycsb/pipelined_worker.h).
  int pipeline = 1;
  PipelineVia pipeline_via = PipelineVia::kStream;
  std::vector<Stall> stalls;
  int sample_ms = 100;
  bool progress = false;  // live line on stderr
  bool load = true;       // run the load phase first
  uint64_t seed = 1;
};

// One timeline point. The latency fields cover the operations that
// completed since the previous sample (none: interval_ops == 0).
struct Sample {
  double t_s = 0;
  uint64_t ops = 0;
  double ops_per_s = 0;
  uint64_t heap_bytes = 0;
  uint64_t rss_bytes = 0;
  EngineAccounts accounts;
  bool has_accounts = false;  // false also when Stats timed out
  uint64_t interval_ops = 0;
  uint64_t p50_ns = 0, p99_ns = 0, max_ns = 0;
  uint64_t interval_errors = 0;
  uint64_t oldest_in_flight_ns = 0;  // age of the oldest unanswered operation
  int stalls_active = 0;
};

// What a stall did: when it held (seconds after the run started; -1 = it
// never started or never ended) and which threads it froze or parked.
struct StallEvent {
  std::string text;
  double start_s = -1, end_s = -1;
  std::string threads;  // "tid:comm,..." (thread:), "K mvkv-parked" ...
};

struct RunResult {
  std::string target, workload;
  bool in_process = true;  // heap is this process's; else the server's RSS
  int threads = 0;
  double load_seconds = 0;
  double run_seconds = 0;
  // CPU time of this whole process (every thread) during the run phase:
  // on a shared machine ops / run_cpu_seconds leaves out preemption. For
  // in-process targets it covers the system under test; for networked ones
  // only the client side.
  double run_cpu_seconds = 0;
  uint64_t ops = 0;
  Histogram latency[kOpTypes];
  Histogram overall;
  // Operations that completed while a stall held, and for how long stalls
  // held (the union of the windows, in seconds).
  Histogram during_stall;
  double stall_seconds = 0;
  uint64_t errors[kOpTypes] = {};
  uint64_t aborts = 0;
  uint64_t heap_start = 0, heap_peak = 0, heap_end = 0;
  uint64_t retained_versions_peak = 0, unreclaimed_objects_peak = 0;
  std::vector<Sample> samples;
  std::vector<Stall> stalls;
  std::vector<StallEvent> events;  // one per stall, in order
  std::vector<std::string> notes;  // e.g. stalls a target cannot do
  double rate = 0;
};

// Heap in use by this process's allocator (glibc mallinfo2: arenas + mmap).
uint64_t ProcessHeapBytes();
// Resident set of `pid` (or this process for -1): VmRSS of /proc/PID/status.
uint64_t RssBytes(pid_t pid);

// Everything about `config.stalls` that can be checked before the run, so
// a bad flag fails at once instead of at T: thread: needs another process
// (server_pid) with at least K threads the selector can pick and that this
// process may ptrace, and +D in an --ops run; server-reclaim: needs a
// server that allows it, at most one of them. InvalidArgument,
// FailedPrecondition, NotFound or PermissionDenied saying which.
absl::Status CheckStalls(Target& target, const RunConfig& config);

absl::StatusOr<RunResult> Run(Target& target, const RunConfig& config);

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_RUNNER_H_
