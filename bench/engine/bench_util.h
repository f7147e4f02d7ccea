// bench/engine/bench_util.h — pieces shared by engine_bench's scenarios: the
// key format and a timed run on N threads started together. Bench-only.
#ifndef MVKV_BENCH_ENGINE_BENCH_UTIL_H_
#define MVKV_BENCH_ENGINE_BENCH_UTIL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"

namespace mvkv::bench {

// The i-th key of every scenario: "user" and 12 digits (16 bytes).
inline std::string Key(uint64_t i) { return absl::StrFormat("user%012u", i); }

// Starts `threads` threads, releases them at once, runs fn(thread index) on
// each and returns the wall-clock seconds from the release to the last join.
template <class Fn>
double Timed(int threads, Fn&& fn) {
  std::vector<std::thread> pool;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      fn(t);
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace mvkv::bench

#endif  // MVKV_BENCH_ENGINE_BENCH_UTIL_H_
