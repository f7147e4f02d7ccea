// bench/ycsb/live_latency.h — one worker's latencies, readable by the
// sampler while the worker runs: the per-100 ms latency timeline, and the
// age of the operation in flight (which rises in a straight line while the
// target does not answer at all).
//
// Thread safety: one writer (the worker: Start, Done) and one reader (the
// sampler: Collect, InFlightSince). Counters are single-writer atomics:
// the writer stores load+1 with relaxed order, the reader loads relaxed;
// a count may be seen one interval late, never lost or torn.
#ifndef MVKV_BENCH_YCSB_LIVE_LATENCY_H_
#define MVKV_BENCH_YCSB_LIVE_LATENCY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "bench/ycsb/histogram.h"

namespace mvkv::ycsb {

class LiveLatency final {
 public:
  LiveLatency();

  // Writer. `start_ns`: when the operation (intended to) start, on the
  // run's clock, > 0.
  void Start(uint64_t start_ns) { in_flight_.store(start_ns, std::memory_order_relaxed); }
  void Done(uint64_t latency_ns, bool error);

  // Reader: adds what was recorded since the last Collect to `out` (bucket
  // resolution, Histogram::BucketOf) and returns the errors among it.
  uint64_t Collect(Histogram* out);
  // Reader: the in-flight operation's start, 0 when none.
  uint64_t InFlightSince() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // Histogram::kBuckets
  std::vector<uint64_t> collected_;                  // reader's copy
  std::atomic<uint64_t> errors_{0};
  uint64_t errors_collected_ = 0;
  std::atomic<uint64_t> in_flight_{0};
};

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_LIVE_LATENCY_H_
