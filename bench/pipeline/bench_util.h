// Shared pieces of pipeline_bench: timing, a spin-then-yield wait for the
// hand-written queue baselines, latency percentiles, and scenario names.
//
// Thread safety: free functions are thread-safe; objects are per-thread.

#ifndef MVKV_BENCH_PIPELINE_BENCH_UTIL_H_
#define MVKV_BENCH_PIPELINE_BENCH_UTIL_H_

#include <pthread.h>
#include <sched.h>

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

// Pins the calling thread to `cpu` (cpu < 0: every CPU). The latency runs pin
// producer and consumer to different CPUs, so the scheduler does not wake the
// producer on the CPU where the consumer spins (measuring a context switch).
// Pinning is on only with --pin_latency (SetPinning): on a loaded shared
// machine a pinned thread cannot escape a busy CPU.
inline std::atomic<bool>& PinningEnabled() {
  static std::atomic<bool> enabled{false};
  return enabled;
}
inline void PinThisThread(int cpu) {
  if (!PinningEnabled().load()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  for (int c = 0; c < cpus; ++c) {
    if (cpu < 0 || c == cpu % cpus) CPU_SET(c, &set);
  }
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
inline constexpr int kProducerCpu = 0;
inline constexpr int kConsumerCpu = 1;

// The wait of a baseline producer facing a full queue: the same policy as the
// Disruptor's producers facing a full ring (disruptor/internal/spin.h: 64
// pauses, 64 yields, then sleeps from 1 us doubling to 100 us), so a full
// queue costs each implementation the same.
class ProducerBackoff {
 public:
  void Pause() {
    if (rounds_ < 64) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    } else if (rounds_ < 128) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(sleep_);
      if (sleep_ < std::chrono::microseconds(100)) sleep_ *= 2;
    }
    ++rounds_;
  }

 private:
  int rounds_ = 0;
  std::chrono::microseconds sleep_{1};
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

// Pacing of the latency producers: sleeps until `deadline_ns` (the kernel's
// timer slack makes that ~50 us late at least), so the producer does not take
// a core from the consumer on a 2-core machine; the latency measured starts at
// the timestamp taken after the sleep, so the slack is not counted.
inline void PaceUntil(int64_t deadline_ns) {
  const int64_t now = NowNs();
  if (now < deadline_ns) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(deadline_ns - now));
  }
}

// Expected checksums, shared by every implementation.
inline int64_t SumOfValues(int64_t events) { return events * (events - 1) / 2; }

}  // namespace mvkv::bench

#endif  // MVKV_BENCH_PIPELINE_BENCH_UTIL_H_
