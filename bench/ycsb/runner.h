// bench/ycsb/runner.h — the load phase, the run phase, stall scenarios and
// the 100 ms sampler, against one Target.
//
// Thread safety: Run() is called from one thread; it starts and joins its
// own workers, sampler and stall threads before returning.
#ifndef MVKV_BENCH_YCSB_RUNNER_H_
#define MVKV_BENCH_YCSB_RUNNER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/ycsb/histogram.h"
#include "bench/ycsb/target.h"
#include "bench/ycsb/workload.h"

namespace mvkv::ycsb {

struct Stall {
  enum Kind { kReclaim, kTxn } kind;
  int count = 1;
  double at_s = 0;  // seconds after the run phase starts
  std::string text;
};
// "reclaim:K@T" or "txn:K@T"; T is seconds ("2", "2s", "0.3s", "300ms").
absl::StatusOr<Stall> ParseStall(const std::string& text);

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

struct Sample {
  double t_s = 0;
  uint64_t ops = 0;
  double ops_per_s = 0;
  uint64_t heap_bytes = 0;
  uint64_t rss_bytes = 0;
  EngineAccounts accounts;
  bool has_accounts = false;
};

struct RunResult {
  std::string target, workload;
  int threads = 0;
  double load_seconds = 0;
  double run_seconds = 0;
  uint64_t ops = 0;
  Histogram latency[kOpTypes];
  Histogram overall;
  uint64_t errors[kOpTypes] = {};
  uint64_t aborts = 0;
  uint64_t heap_start = 0, heap_peak = 0, heap_end = 0;
  uint64_t retained_versions_peak = 0, unreclaimed_objects_peak = 0;
  std::vector<Sample> samples;
  std::vector<Stall> stalls;
  std::vector<std::string> notes;  // e.g. stalls a target cannot do
  double rate = 0;
};

// Heap in use by this process's allocator (glibc mallinfo2: arenas + mmap).
uint64_t ProcessHeapBytes();
// Resident set of `pid` (or this process for -1), from /proc/PID/statm.
uint64_t RssBytes(pid_t pid);

absl::StatusOr<RunResult> Run(Target& target, const RunConfig& config);

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_RUNNER_H_
