// Typed tests of the reclamation contract, run for every scheme.
#include <atomic>
#include <cstdint>
#include <latch>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "reclaim/reclaim.h"
#include "reclaim/testing/test_util.h"

namespace mvkv::reclaim {
namespace {

using testing::FreeTracked;
using testing::g_tracked_freed;
using testing::kAlive;
using testing::Tracked;

template <class Scheme>
class ReclaimTest : public ::testing::Test {
 protected:
  using D = typename Scheme::Domain;
  D domain_{Scheme::MakeOptions()};
};
TYPED_TEST_SUITE(ReclaimTest, testing::AllSchemes, testing::SchemeNames);

TYPED_TEST(ReclaimTest, DomainSatisfiesTheConcept) {
  static_assert(Domain<typename TypeParam::Domain>);
  SUCCEED();
}

TYPED_TEST(ReclaimTest, CountersTrackObjectsAndBytes) {
  auto& d = this->domain_;
  const std::uint64_t freed_before = g_tracked_freed.load();
  for (int i = 0; i < 1000; ++i) d.Retire(d.template New<Tracked>(i), &FreeTracked, 100);
  d.Barrier();
  const Counters c = d.GetCounters();
  EXPECT_EQ(c.retired, 1000u);
  EXPECT_EQ(c.reclaimed, 1000u);
  EXPECT_EQ(c.unreclaimed, 0u);
  EXPECT_EQ(c.retired_bytes, 100000u);
  EXPECT_EQ(c.reclaimed_bytes, 1000 * sizeof(Tracked));
  EXPECT_GE(c.unreclaimed_peak, 1u);
  EXPECT_EQ(g_tracked_freed.load() - freed_before, 1000u);
}

// Property: an object loaded through Protect is not freed while the guard
// lives, even when its retirer keeps retiring and calls Barrier; once the
// guard ends, Barrier frees it. Deterministic hand-off through latches.
TYPED_TEST(ReclaimTest, ProtectedObjectOutlivesRetireUntilGuardEnds) {
  auto& d = this->domain_;
  std::atomic<Tracked*> root{d.template New<Tracked>(7)};
  std::latch protected_it(1), retired_it(1), done(1);
  std::thread reader([&] {
    typename TypeParam::Domain::Guard g(d);
    Tracked* t = g.Protect(root, 0);
    protected_it.count_down();
    retired_it.wait();
    EXPECT_EQ(t->canary.load(), kAlive);
    EXPECT_EQ(t->value, 7u);
    done.count_down();
  });
  protected_it.wait();
  Tracked* old = root.exchange(nullptr);
  d.Retire(old, &FreeTracked, sizeof(Tracked));
  for (int i = 0; i < 5000; ++i) {  // push batches past the retired object
    d.Retire(d.template New<Tracked>(i), &FreeTracked, sizeof(Tracked));
  }
  d.Barrier();
  EXPECT_GE(d.GetCounters().unreclaimed, 1u);
  retired_it.count_down();
  done.wait();
  reader.join();
  d.Barrier();
  EXPECT_EQ(d.GetCounters().unreclaimed, 0u);
}

// Property: nested guards on one thread share the slot; the reservation
// lasts until the outermost guard ends.
TYPED_TEST(ReclaimTest, NestedGuardsKeepTheOuterReservation) {
  auto& d = this->domain_;
  std::atomic<Tracked*> root{d.template New<Tracked>(1)};
  {
    typename TypeParam::Domain::Guard outer(d);
    Tracked* t = outer.Protect(root, 0);
    {
      typename TypeParam::Domain::Guard inner(d);
      std::atomic<Tracked*> other{t};
      EXPECT_EQ(inner.Protect(other, 1), t);
    }
    std::thread([&] {
      d.Retire(root.exchange(nullptr), &FreeTracked, sizeof(Tracked));
      d.Barrier();
    }).join();
    EXPECT_EQ(t->canary.load(), kAlive);
  }
  d.Barrier();
  EXPECT_EQ(d.GetCounters().unreclaimed, 0u);
}

// Property: an inner guard's first Protect joins the reservation the outer
// guard already holds instead of replacing it, so what the outer guard
// loaded, retired and handed to that reservation before the inner guard
// started, stays allocated until the outer guard ends.
TYPED_TEST(ReclaimTest, InnerGuardDoesNotReplaceTheOuterReservation) {
  auto& d = this->domain_;
  std::atomic<Tracked*> root{d.template New<Tracked>(1)};
  std::atomic<Tracked*> spare{d.template New<Tracked>(2)};
  {
    typename TypeParam::Domain::Guard outer(d);
    Tracked* t = outer.Protect(root, 0);
    std::thread([&] {
      d.Retire(root.exchange(nullptr), &FreeTracked, sizeof(Tracked));
      for (int i = 0; i < 5000; ++i) {  // offer batches past the retired object
        d.Retire(d.template New<Tracked>(i), &FreeTracked, sizeof(Tracked));
      }
      d.Barrier();
    }).join();
    {
      typename TypeParam::Domain::Guard inner(d);
      EXPECT_EQ(inner.Protect(spare, 1)->value, 2u);
    }
    EXPECT_EQ(t->canary.load(), kAlive);
    EXPECT_EQ(t->value, 1u);
  }
  delete spare.load();
  d.Barrier();
  EXPECT_EQ(d.GetCounters().unreclaimed, 0u);
}

// Property: under concurrent replacement and retirement (more threads than
// cores), a reader never observes a freed object through a live guard
// (canary + ASan), and every retired object is freed after Barrier.
TYPED_TEST(ReclaimTest, ConcurrentReadersNeverSeeFreedObjects) {
  auto& d = this->domain_;
  const std::uint64_t seed = testing::TestSeed();
  constexpr int kRoots = 4, kReaders = 4, kWriters = 4;
  const std::uint64_t ops = testing::Scaled(40000);
  std::atomic<Tracked*> roots[kRoots];
  for (auto& r : roots) r.store(d.template New<Tracked>(0));
  std::atomic<std::uint64_t> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kReaders; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + t);
      for (std::uint64_t i = 0; i < ops; ++i) {
        typename TypeParam::Domain::Guard g(d);
        Tracked* a = g.Protect(roots[rng() % kRoots], 0);
        Tracked* b = g.Protect(roots[rng() % kRoots], 1);
        if (a->canary.load() != kAlive || b->canary.load() != kAlive) bad.fetch_add(1);
      }
    });
  }
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + 100 + t);
      for (std::uint64_t i = 0; i < ops; ++i) {
        Tracked* fresh = d.template New<Tracked>(i);
        Tracked* old = roots[rng() % kRoots].exchange(fresh);
        d.Retire(old, &FreeTracked, sizeof(Tracked));
      }
      d.Barrier();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0u);
  for (auto& r : roots) d.Retire(r.exchange(nullptr), &FreeTracked, sizeof(Tracked));
  d.Barrier();
  const Counters c = d.GetCounters();
  EXPECT_EQ(c.retired, kWriters * ops + kRoots);
  EXPECT_EQ(c.unreclaimed, 0u);
}

// Property: everything retired from many threads is freed once they call
// Barrier (or exit and one thread calls it): counts and deleter calls match.
TYPED_TEST(ReclaimTest, EverythingRetiredIsFreedAfterBarrier) {
  auto& d = this->domain_;
  const std::uint64_t freed_before = g_tracked_freed.load();
  constexpr int kThreads = 8;
  const std::uint64_t per_thread = testing::Scaled(20000) + 3;  // not a batch multiple
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        typename TypeParam::Domain::Guard g(d);
        d.Retire(d.template New<Tracked>(i), &FreeTracked, sizeof(Tracked));
      }
    });
  }
  for (auto& th : threads) th.join();
  d.Barrier();
  const Counters c = d.GetCounters();
  EXPECT_EQ(c.retired, kThreads * per_thread);
  EXPECT_EQ(c.reclaimed, c.retired);
  EXPECT_EQ(c.unreclaimed, 0u);
  EXPECT_EQ(c.unreclaimed_bytes, 0u);
  EXPECT_EQ(g_tracked_freed.load() - freed_before, kThreads * per_thread);
}

// Property: the domain destructor frees what is still retired (LSan checks).
TYPED_TEST(ReclaimTest, DestructorFreesPendingObjects) {
  const std::uint64_t freed_before = g_tracked_freed.load();
  {
    typename TypeParam::Domain d(TypeParam::MakeOptions());
    for (int i = 0; i < 10; ++i) d.Retire(d.template New<Tracked>(i), &FreeTracked, 1);
  }
  EXPECT_EQ(g_tracked_freed.load() - freed_before, 10u);
}

TEST(CrystallineTest, SlowPathSchemeReallyTakesTheSlowPath) {
  CrystallineDomain d(testing::CrystallineSlowPathScheme::MakeOptions());
  std::atomic<Tracked*> root{d.New<Tracked>(1)};
  {
    CrystallineDomain::Guard g(d);
    EXPECT_EQ(g.Protect(root, 0)->value, 1u);
  }
  EXPECT_EQ(d.GetCounters().slow_protects, 1u);
  d.Retire(root.load(), &FreeTracked, sizeof(Tracked));
}

}  // namespace
}  // namespace mvkv::reclaim
