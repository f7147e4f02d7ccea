// Shared pieces of pipeline_bench: timing, a spin-then-yield wait for the
// hand-written queue baselines, latency percentiles, and scenario names.
//
// Thread safety: free functions are thread-safe; objects are per-thread.

#ifndef MVKV_BENCH_PIPELINE_BENCH_UTIL_H_
#define MVKV_BENCH_PIPELINE_BENCH_UTIL_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace mvkv::bench {

using Clock = std::chrono::steady_clock;

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

// The wait used by the Boost.Lockfree baselines when their queue is empty or
// full: the same policy as the Disruptor's Yielding strategy (100 pauses,
// then sched_yield), so the comparison is of the data structure, not of the
// waiting.
class SpinYield {
 public:
  void Pause() {
    if (++spins_ < 100) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }
  void Reset() { spins_ = 0; }

 private:
  int spins_ = 0;
};

// Result of one throughput run.
struct RunResult {
  double seconds = 0;
  bool ok = true;  // The consumers computed the expected checksum.
};

// Result of one latency run: end-to-end ns per event, sorted.
struct LatencyResult {
  std::vector<int64_t> sorted_ns;
  int64_t Percentile(double p) const {
    if (sorted_ns.empty()) return 0;
    std::size_t i = static_cast<std::size_t>(p * (sorted_ns.size() - 1));
    return sorted_ns[i];
  }
};

// Busy-waits until `deadline_ns` (pacing of the latency producers).
inline void SpinUntil(int64_t deadline_ns) {
  while (NowNs() < deadline_ns) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
}

// Expected checksums, shared by every implementation.
inline int64_t SumOfValues(int64_t events) { return events * (events - 1) / 2; }

}  // namespace mvkv::bench

#endif  // MVKV_BENCH_PIPELINE_BENCH_UTIL_H_
