// bench/engine/bench_util.h — pieces shared by engine_bench's scenarios: the
// key format, opening and loading a database, and a timed run on N threads
// started together. Bench-only.
#ifndef MVKV_BENCH_ENGINE_BENCH_UTIL_H_
#define MVKV_BENCH_ENGINE_BENCH_UTIL_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/cpu_time.h"
#include "mvcc/db.h"

namespace mvkv::bench {

// The i-th key of every scenario: "user" and 12 digits (16 bytes).
inline std::string Key(uint64_t i) { return absl::StrFormat("user%012u", i); }

// Database::Open(options), or exits with the error.
inline std::unique_ptr<Database> OpenOrDie(const Options& options = Options()) {
  auto db = Database::Open(options);
  if (!db.ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*db);
}

// Loads keys [0, n) with `value` in transactions of 1000 writes, or exits
// with the error.
inline void Load(Database& db, int64_t n, const std::string& value) {
  for (int64_t base = 0; base < n; base += 1000) {
    auto txn = db.Begin(IsolationLevel::kReadCommitted);
    for (int64_t i = base; i < std::min(n, base + 1000); ++i) (void)txn->Put(Key(i), value);
    if (absl::Status s = txn->Commit(); !s.ok()) {
      std::fprintf(stderr, "load: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  }
}

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
