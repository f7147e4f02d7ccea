// The stall test: one thread enters a guard, protects an object and blocks
// (on a latch, not a sleep) for the whole test while other threads replace
// and retire objects. Crystalline-W must keep the backlog under a bound that
// does not depend on the number of operations (asserted at two op counts);
// EBR's growth is logged, not asserted.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "reclaim/reclaim.h"
#include "reclaim/structures/michael_hash_map.h"
#include "reclaim/testing/test_util.h"

namespace mvkv::reclaim {
namespace {

using testing::FreeTracked;
using testing::kAlive;
using testing::Tracked;

constexpr int kWorkers = 3;
// Few keys: map nodes die young. An era-based scheme pins, for a thread that
// stops inside a guard at era e, every batch holding an object born by e; a
// worker preempted mid-operation (8 threads, 2 cores) briefly does that too,
// and long-lived nodes would inflate those transients (see reclaim.h).
constexpr std::uint64_t kKeys = 64;

struct Backlog {
  std::uint64_t at_first = 0;   // unreclaimed after `first` retirements
  std::uint64_t at_second = 0;  // unreclaimed after `second` retirements
};

// Workers replace objects in a few roots and in a hash map (so readers
// protect and retire structure nodes too) until `second` objects were
// retired; the backlog is sampled when the total passes `first` and `second`.
template <class D>
Backlog RunWithStalledReader(D& d, std::uint64_t first, std::uint64_t second) {
  std::atomic<Tracked*> root{d.template New<Tracked>(1)};
  MichaelHashMap<D> map(16, d);
  std::latch stalled(1), release(1);
  std::thread staller([&] {
    typename D::Guard g(d);
    Tracked* t = g.Protect(root, 0);
    stalled.count_down();
    release.wait();  // parked inside the guard for the whole run
    EXPECT_EQ(t->canary.load(), kAlive);
  });
  stalled.wait();
  std::atomic<std::uint64_t> retired{0};
  std::atomic<bool> sampled_first{false};
  Backlog b;
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::uint64_t k = w;
      while (retired.load(std::memory_order_relaxed) < second) {
        {
          typename D::Guard g(d);
          (void)g.Protect(root, 0)->value;
        }
        Tracked* old = root.exchange(d.template New<Tracked>(k));
        d.Retire(old, &FreeTracked, sizeof(Tracked));
        map.Insert(k % kKeys);
        map.Remove((k + kKeys / 2) % kKeys);
        k += kWorkers;
        const std::uint64_t n = retired.fetch_add(1, std::memory_order_relaxed) + 1;
        if (n == first) {
          b.at_first = d.GetCounters().unreclaimed;
          sampled_first.store(true);
        }
      }
    });
  }
  for (auto& th : workers) th.join();
  b.at_second = d.GetCounters().unreclaimed;
  EXPECT_TRUE(sampled_first.load());
  release.count_down();
  staller.join();
  d.Retire(root.exchange(nullptr), &FreeTracked, sizeof(Tracked));
  return b;
}

const std::uint64_t kFirst = testing::Scaled(500000);
const std::uint64_t kSecond = testing::Scaled(2000000);

// Property: Crystalline-W's backlog with a stalled reader stays below a bound
// that depends on threads, batch size and indexes only — the same bound after
// kFirst and after 4x as many retirements.
TEST(StallTest, CrystallineBacklogStaysBoundedWithAStalledReader) {
  CrystallineDomain d;
  const Backlog b = RunWithStalledReader(d, kFirst, kSecond);
  // Independent of the op count: per thread (workers, staller, main) a few
  // batches of retire_freq (32) in flight or pinned, plus the map's live
  // nodes each pinning at most one batch.
  const std::uint64_t bound = (kWorkers + 2) * 8 * 32 + kKeys * 32;
  std::printf("[stall] Crystalline-W unreclaimed: %llu after %llu retires, %llu after %llu\n",
              static_cast<unsigned long long>(b.at_first), static_cast<unsigned long long>(kFirst),
              static_cast<unsigned long long>(b.at_second),
              static_cast<unsigned long long>(kSecond));
  EXPECT_LE(b.at_first, bound);
  EXPECT_LE(b.at_second, bound);
  d.Barrier();
  EXPECT_EQ(d.GetCounters().unreclaimed, 0u);
}

// Property: objects born before a stalled reader's era and retired after it
// (an engine's long-lived records, updated for the first time after the
// stall) are pinned themselves, but do not pin the younger objects retired
// around them. Each old object here is retired between young ones, so a
// batch mixing them would hold ~retire_freq objects per old one; the bound
// allows the old objects plus a few batches per thread.
TEST(StallTest, CrystallineOldObjectsDoNotPinYoungOnes) {
  CrystallineDomain::Options options;
  CrystallineDomain d(options);
  const std::uint64_t kOld = testing::Scaled(16000);
  constexpr int kYoungPerOld = 31;
  std::vector<std::atomic<Tracked*>> roots(kOld);
  for (std::uint64_t i = 0; i < kOld; ++i) roots[i].store(d.New<Tracked>(i));
  std::latch stalled(1), release(1);
  std::thread staller([&] {
    CrystallineDomain::Guard g(d);
    Tracked* t = g.Protect(roots[0], 0);
    stalled.count_down();
    release.wait();  // parked inside the guard, its era older than every young object
    EXPECT_EQ(t->canary.load(), kAlive);
  });
  stalled.wait();
  const std::uint64_t before = d.GetCounters().retired;
  for (std::uint64_t i = 0; i < kOld; ++i) {
    for (int y = 0; y < kYoungPerOld; ++y) {
      d.Retire(d.New<Tracked>(y), &FreeTracked, sizeof(Tracked));
    }
    Tracked* old = roots[i].exchange(nullptr);
    d.Retire(old, &FreeTracked, sizeof(Tracked));
  }
  const Counters c = d.GetCounters();
  const std::uint64_t retired = c.retired - before;
  // Two partial batches of this thread, plus young objects born in the
  // stalled era itself (the era moves every era_freq x threads allocations).
  const std::uint64_t bound =
      kOld + 2 * 2 * static_cast<std::uint64_t>(options.retire_freq) +
      static_cast<std::uint64_t>(options.era_freq) * 3;
  std::printf("[stall] Crystalline-W unreclaimed after %llu retires (%llu old): %llu (bound %llu)\n",
              static_cast<unsigned long long>(retired), static_cast<unsigned long long>(kOld),
              static_cast<unsigned long long>(c.unreclaimed),
              static_cast<unsigned long long>(bound));
  EXPECT_EQ(retired, kOld * (kYoungPerOld + 1));
  EXPECT_LE(c.unreclaimed, bound);
  release.count_down();
  staller.join();
  d.Barrier();
  EXPECT_EQ(d.GetCounters().unreclaimed, 0u);
}

// Records (without asserting a bound) that EBR's backlog grows with the
// number of operations while a reader is stalled; asserts only that it is
// reclaimed once the reader leaves.
TEST(StallTest, EbrBacklogGrowsWithAStalledReader) {
  EbrDomain d;
  const Backlog b = RunWithStalledReader(d, kFirst, kSecond);
  std::printf("[stall] EBR unreclaimed: %llu after %llu retires, %llu after %llu (unbounded)\n",
              static_cast<unsigned long long>(b.at_first), static_cast<unsigned long long>(kFirst),
              static_cast<unsigned long long>(b.at_second),
              static_cast<unsigned long long>(kSecond));
  RecordProperty("ebr_unreclaimed_first", static_cast<int>(b.at_first));
  RecordProperty("ebr_unreclaimed_second", static_cast<int>(b.at_second));
  d.Barrier();
  EXPECT_EQ(d.GetCounters().unreclaimed, 0u);
}

}  // namespace
}  // namespace mvkv::reclaim
