// Thread churn: thousands of short-lived threads register, retire a partial
// batch, and exit. Slots must be reused (the domain has only 16), orphaned
// batches must be freed by Barrier, and nothing may leak (LeakSanitizer).
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "reclaim/reclaim.h"
#include "reclaim/testing/test_util.h"

namespace mvkv::reclaim {
namespace {

using testing::FreeTracked;
using testing::g_tracked_freed;
using testing::Tracked;

template <class Scheme>
class ChurnTest : public ::testing::Test {};
TYPED_TEST_SUITE(ChurnTest, testing::AllSchemes, testing::SchemeNames);

// Property: with max_threads = 16 and 8 threads alive at a time, thousands
// of threads reuse slots (registration never runs out), every object they
// retired is freed after Barrier, and their protected reads stay valid.
TYPED_TEST(ChurnTest, ShortLivedThreadsReuseSlotsAndLeakNothing) {
  const std::uint64_t seed = testing::TestSeed();
  typename TypeParam::Domain d(TypeParam::MakeOptions(/*max_threads=*/16));
  const std::uint64_t freed_before = g_tracked_freed.load();
  const int waves = static_cast<int>(testing::Scaled(2400)) / 8;
  std::atomic<Tracked*> root{d.template New<Tracked>(0)};
  std::atomic<std::uint64_t> retired{1};  // root, retired at the end
  for (int wave = 0; wave < waves; ++wave) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        // 1..7 retirements: always a partial batch left at exit.
        const int n = static_cast<int>((seed + wave * 8 + t) % 7) + 1;
        for (int i = 0; i < n; ++i) {
          typename TypeParam::Domain::Guard g(d);
          EXPECT_EQ(g.Protect(root, 0)->canary.load(), testing::kAlive);
          Tracked* old = root.exchange(d.template New<Tracked>(i));
          d.Retire(old, &FreeTracked, sizeof(Tracked));
          retired.fetch_add(1);
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  d.Retire(root.exchange(nullptr), &FreeTracked, sizeof(Tracked));
  d.Barrier();
  const Counters c = d.GetCounters();
  EXPECT_EQ(c.retired, retired.load());
  EXPECT_EQ(c.unreclaimed, 0u);
  EXPECT_EQ(g_tracked_freed.load() - freed_before, retired.load());
}

}  // namespace
}  // namespace mvkv::reclaim
