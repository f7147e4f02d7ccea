// bench/ycsb/runner_internal.h — what the run's threads share: the
// controller (Run), the workers, the sampler and one thread per stall
// (bench/ycsb/stall_runner.cc).
//
// Thread safety: the atomics as commented; everything else under `mu`.
#ifndef MVKV_BENCH_YCSB_RUNNER_INTERNAL_H_
#define MVKV_BENCH_YCSB_RUNNER_INTERNAL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "bench/ycsb/runner.h"

namespace mvkv::ycsb::runner_internal {

using Clock = std::chrono::steady_clock;

inline double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
inline Clock::time_point At(Clock::time_point t0, double s) {
  return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

struct Shared {
  std::atomic<bool> stop{false};   // release by the controller, acquire by workers
  std::atomic<uint64_t> ops{0};    // relaxed: a progress counter
  // Stalls holding now. Changed under `mu`; the sampler and the workers
  // read it relaxed (a sample or an op may be counted one side off).
  std::atomic<int> holding{0};
  std::mutex mu;
  std::condition_variable cv;      // any change of the flags below
  bool stopping = false;  // the run's time is up (workers are told to stop)
  bool finished = false;  // workers joined, last sample taken
  bool abort_stalls = false;  // the exit guard: release everything now
  std::vector<std::string> notes;
};

inline void AddNote(Shared* shared, std::string note) {
  std::lock_guard<std::mutex> l(shared->mu);
  shared->notes.push_back(std::move(note));
}

// One stall from its T to its end (stall_runner.cc); fills `event`.
void StallThread(Target& target, const RunConfig& config, int index,
                 Shared* shared, Clock::time_point t0, StallEvent* event);

// The exit guard's hook: every stall releases now; waits (up to 3 s) until
// none holds.
void ReleaseStallsNow(Shared* shared);

}  // namespace mvkv::ycsb::runner_internal

#endif  // MVKV_BENCH_YCSB_RUNNER_INTERNAL_H_
