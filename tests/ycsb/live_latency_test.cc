// LiveLatency: a worker records while the sampler collects. Property
// (concurrent, checked under TSan in CI): every recorded operation and
// error is collected exactly once, and the in-flight start is visible while
// an operation runs. Deterministic values (no seed).
#include "bench/ycsb/live_latency.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace mvkv::ycsb {
namespace {

TEST(LiveLatencyTest, CollectsEveryOperationOnceWhileTheWriterRuns) {
  LiveLatency live;
  constexpr uint64_t kOps = 200000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t i = 1; i <= kOps; ++i) {
      live.Start(i);
      live.Done(1000 + i % 5000, i % 10 == 0);
    }
    done.store(true, std::memory_order_release);
  });
  Histogram all;
  uint64_t errors = 0;
  while (!done.load(std::memory_order_acquire)) errors += live.Collect(&all);
  writer.join();
  errors += live.Collect(&all);
  EXPECT_EQ(all.count(), kOps);
  EXPECT_EQ(errors, kOps / 10);
  EXPECT_EQ(live.InFlightSince(), 0u);  // nothing in flight at the end
  Histogram none;
  EXPECT_EQ(live.Collect(&none), 0u);
  EXPECT_EQ(none.count(), 0u);
  live.Start(42);
  EXPECT_EQ(live.InFlightSince(), 42u);
}

}  // namespace
}  // namespace mvkv::ycsb
