// Test helpers for disruptor/ tests: a watchdog that turns a hang into a
// failure, waiting for a state, a logged seed, and sanitizer-aware scaling
// of counts.
//
// Thread safety: Watchdog is used by the thread that creates it; it runs its
// own thread. Not part of the public API.

#ifndef MVKV_DISRUPTOR_INTERNAL_TEST_UTIL_H_
#define MVKV_DISRUPTOR_INTERNAL_TEST_UTIL_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>

namespace mvkv::disruptor::disruptor_internal {

// Aborts the process with a message if not destroyed within `deadline`: a
// test that would hang CI fails instead. Deadlines are generous (tens of
// seconds); they only catch hangs, never measure speed.
class Watchdog {
 public:
  Watchdog(std::string what, std::chrono::seconds deadline)
      : what_(std::move(what)),
        thread_([this, deadline] { Watch(deadline); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Watch(std::chrono::seconds deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, deadline, [this] { return done_; })) return;
    std::fprintf(stderr, "WATCHDOG: '%s' did not finish within %llds: hang\n",
                 what_.c_str(), static_cast<long long>(deadline.count()));
    std::fflush(stderr);
    std::abort();
  }

  std::string what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Returns once `condition()` holds, polling every 100 µs. Unbounded by
// itself: the test's Watchdog turns a condition that never holds into a
// failure.
template <class Condition>
void WaitUntil(Condition condition) {
  while (!condition()) std::this_thread::sleep_for(std::chrono::microseconds(100));
}

// Scales an event count down under sanitizers (MVKV_SANITIZER).
constexpr int64_t Scaled(int64_t n) {
#ifdef MVKV_SANITIZER
  return n / 4 > 1000 ? n / 4 : (n < 1000 ? n : 1000);
#else
  return n;
#endif
}

// A seed from the clock, printed so a failing run can be replayed by setting
// MVKV_TEST_SEED.
inline uint64_t LoggedSeed() {
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("MVKV_TEST_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  }
  std::fprintf(stderr, "seed=%llu (set MVKV_TEST_SEED to replay)\n",
               static_cast<unsigned long long>(seed));
  return seed;
}

}  // namespace mvkv::disruptor::disruptor_internal

#endif  // MVKV_DISRUPTOR_INTERNAL_TEST_UTIL_H_
