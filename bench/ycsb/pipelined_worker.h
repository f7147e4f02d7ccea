// bench/ycsb/pipelined_worker.h — one run-phase worker with up to
// RunConfig::pipeline operations in flight (--pipeline=N), through the
// target's AsyncSession: reads, updates and inserts are started without
// waiting; scans and read-modify-writes (transactions) run one at a time
// on a plain Session. With --rate, each operation's latency counts from its
// intended start, as in the one-at-a-time worker.
//
// Thread safety: called on the worker's own thread; the outputs are written
// by it and by the target's callback threads under the worker's lock, and
// are the caller's once the call returns.
#ifndef MVKV_BENCH_YCSB_PIPELINED_WORKER_H_
#define MVKV_BENCH_YCSB_PIPELINED_WORKER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "bench/ycsb/histogram.h"
#include "bench/ycsb/live_latency.h"
#include "bench/ycsb/runner.h"
#include "bench/ycsb/target.h"

namespace mvkv::ycsb {

// Where the worker adds up what it did.
struct PipelinedOut {
  Histogram* latency;  // [kOpTypes]
  uint64_t* errors;    // [kOpTypes]
  uint64_t* ops;
  absl::Status* fatal;
  // The sampler's view; written under the worker's lock, so its writers
  // are serialized. Its in-flight age is that of the latest operation
  // started (0 when one finished since).
  LiveLatency* live;
};

// Runs worker `index` of `c` until its share of c.ops is done or `stop`.
// `progress` counts finished operations (relaxed).
void RunPipelinedWorker(Target& target, const RunConfig& c, int index,
                        InsertCounter* inserts, const std::atomic<bool>& stop,
                        std::atomic<uint64_t>& progress,
                        std::chrono::steady_clock::time_point t0,
                        const PipelinedOut& out);

// The run's target label: the target's name, plus "/stream x32" (via and
// depth) when operations are pipelined.
std::string RunLabel(const std::string& target_name, const RunConfig& c);

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_PIPELINED_WORKER_H_
