// Typed tests of the lock-free structures under every scheme, with more
// threads than cores (the machines have 2).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "reclaim/reclaim.h"
#include "reclaim/structures/harris_michael_list.h"
#include "reclaim/structures/michael_hash_map.h"
#include "reclaim/structures/treiber_stack.h"
#include "reclaim/testing/test_util.h"

namespace mvkv::reclaim {
namespace {

constexpr int kThreads = 8;

template <class Scheme>
class StructuresTest : public ::testing::Test {
 protected:
  using D = typename Scheme::Domain;
  void ExpectAllReclaimed() {
    domain_.Barrier();
    const Counters c = domain_.GetCounters();
    EXPECT_EQ(c.unreclaimed, 0u) << "retired " << c.retired << " reclaimed " << c.reclaimed;
  }
  D domain_{Scheme::MakeOptions()};
};
TYPED_TEST_SUITE(StructuresTest, testing::AllSchemes, testing::SchemeNames);

TYPED_TEST(StructuresTest, ListIsASortedSetSingleThreaded) {
  HarrisMichaelList<typename TypeParam::Domain> list(this->domain_);
  EXPECT_TRUE(list.Insert(5));
  EXPECT_TRUE(list.Insert(1));
  EXPECT_TRUE(list.Insert(3));
  EXPECT_FALSE(list.Insert(3));
  EXPECT_TRUE(list.Contains(3));
  EXPECT_TRUE(list.Remove(3));
  EXPECT_FALSE(list.Remove(3));
  EXPECT_FALSE(list.Contains(3));
  EXPECT_EQ(list.Snapshot(), (std::vector<std::uint64_t>{1, 5}));
}

// Property: under concurrent pushes and pops every pushed value is popped at
// most once and none is lost: popped + remaining = pushed, as multisets
// (checked by sum and count).
TYPED_TEST(StructuresTest, StackLosesAndDuplicatesNothing) {
  const std::uint64_t seed = testing::TestSeed();
  const std::uint64_t ops = testing::Scaled(20000);
  std::atomic<std::uint64_t> pushed_sum{0}, popped_sum{0}, pushed{0}, popped{0};
  {
    TreiberStack<typename TypeParam::Domain, std::uint64_t> stack(this->domain_);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(seed + t);
        for (std::uint64_t i = 0; i < ops; ++i) {
          if (rng() % 2 == 0) {
            const std::uint64_t v = rng() % 1000 + 1;
            stack.Push(v);
            pushed_sum.fetch_add(v);
            pushed.fetch_add(1);
          } else if (auto v = stack.Pop()) {
            popped_sum.fetch_add(*v);
            popped.fetch_add(1);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    while (auto v = stack.Pop()) {
      popped_sum.fetch_add(*v);
      popped.fetch_add(1);
    }
  }
  EXPECT_EQ(pushed.load(), popped.load());
  EXPECT_EQ(pushed_sum.load(), popped_sum.load());
  this->ExpectAllReclaimed();
}

// Runs mixed inserts/removes/lookups on `set` from kThreads threads over
// [0, keys) and checks the final contents against the per-key balance of
// successful inserts and removes.
template <class Set>
void CheckSetUnderMixedOps(Set& set, std::uint64_t keys, std::uint64_t ops, std::uint64_t seed) {
  std::vector<std::atomic<int>> balance(keys);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + t);
      for (std::uint64_t i = 0; i < ops; ++i) {
        const std::uint64_t k = rng() % keys;
        switch (rng() % 3) {
          case 0:
            if (set.Insert(k)) balance[k].fetch_add(1);
            break;
          case 1:
            if (set.Remove(k)) balance[k].fetch_sub(1);
            break;
          default:
            set.Contains(k);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::uint64_t> expected;
  for (std::uint64_t k = 0; k < keys; ++k) {
    ASSERT_GE(balance[k].load(), 0) << "key " << k;
    ASSERT_LE(balance[k].load(), 1) << "key " << k;
    if (balance[k].load() == 1) expected.push_back(k);
  }
  std::vector<std::uint64_t> got = set.Snapshot();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);
  for (std::uint64_t k = 0; k < keys; ++k) EXPECT_EQ(set.Contains(k), balance[k].load() == 1);
}

// Property: the list stays a sorted set and agrees with the successful
// operations under heavy contention on few keys.
TYPED_TEST(StructuresTest, ListStaysCorrectUnderConcurrentMixedOps) {
  const std::uint64_t seed = testing::TestSeed();
  {
    HarrisMichaelList<typename TypeParam::Domain> list(this->domain_);
    CheckSetUnderMixedOps(list, 64, testing::Scaled(20000), seed);
    auto snap = list.Snapshot();
    EXPECT_TRUE(std::is_sorted(snap.begin(), snap.end()));
    EXPECT_EQ(std::adjacent_find(snap.begin(), snap.end()), snap.end());
  }
  this->ExpectAllReclaimed();
}

// Property: as above, for the hash map over a wider key range.
TYPED_TEST(StructuresTest, HashMapStaysCorrectUnderConcurrentMixedOps) {
  const std::uint64_t seed = testing::TestSeed();
  {
    MichaelHashMap<typename TypeParam::Domain> map(64, this->domain_);
    CheckSetUnderMixedOps(map, 2048, testing::Scaled(30000), seed);
  }
  this->ExpectAllReclaimed();
}

}  // namespace
}  // namespace mvkv::reclaim
