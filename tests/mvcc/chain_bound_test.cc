// Property: with one snapshot held open while other threads update the same
// keys many times, interval pruning keeps every chain within
// (active snapshots + 1) versions plus the commits in flight (at most one
// per writer thread): the total number of versions stays under
// live_keys * (snapshots + 1 + writers) and does not grow with the number
// of updates (asserted at two update counts), and the
// held snapshot still reads exactly its state. Readers walking chains while
// the writer prunes them never see a value outside their snapshot (ASan
// checks they never touch freed memory). Seed: MVKV_TEST_SEED or random.
#include <atomic>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "tests/mvcc/test_support.h"

namespace mvkv {
namespace {

constexpr int kRoundUpdates = testing_support::Scaled(30000, 6000);
constexpr int kKeys = 64;
constexpr int kWriters = 3;
constexpr int kReaders = 2;

std::string Key(int i) { return absl::StrCat("key/", i); }

TEST(ChainBoundTest, HeldSnapshotCostsAtMostOneExtraVersionPerKey) {
  const uint64_t seed = testing_support::TestSeed();
  auto db_or = Database::Open();
  ASSERT_TRUE(db_or.ok());
  Database& db = **db_or;
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(db.Put(Key(i), "v0").ok());

  auto held = db.Begin(IsolationLevel::kSnapshot);
  std::vector<std::string> held_values;
  for (int i = 0; i < kKeys; ++i) held_values.push_back(*held->Get(Key(i)));

  // Readers: each value is "w<writer>-<n>" with n increasing per writer, so
  // a snapshot read can be checked against a later read of the same txn.
  std::atomic<bool> stop{false};
  std::atomic<int> reader_errors{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(seed + 100 + r);
      while (!stop.load(std::memory_order_relaxed)) {
        auto txn = db.Begin(IsolationLevel::kSnapshot);
        const std::string key = Key(rng() % kKeys);
        auto first = txn->Get(key);
        for (int i = 0; i < 8; ++i) {
          auto again = txn->Get(key);
          if (!first.ok() || !again.ok() || *again != *first) {
            reader_errors.fetch_add(1);
          }
        }
      }
    });
  }

  auto run_round = [&](int round) {
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        std::mt19937_64 rng(seed + round * 10 + w);
        for (int n = 0; n < kRoundUpdates / kWriters; ++n) {
          ASSERT_TRUE(db.Put(Key(rng() % kKeys),
                             absl::StrCat("w", w, "-", round, "-", n))
                          .ok());
        }
      });
    }
    for (auto& t : writers) t.join();
  };

  // Per chain: the newest version at or below each snapshot alive during
  // the rounds (`held`, plus up to kReaders readers), the newest at or below
  // the horizon, and the versions of commits installed but not yet visible
  // (at most one per writer: a ring batch is pruned against the view taken
  // at its start).
  const uint64_t bound = kKeys * ((1 + kReaders) + 1 + kWriters);
  run_round(1);
  const Stats after_one = db.GetStats();
  run_round(2);
  run_round(3);
  const Stats after_three = db.GetStats();
  stop = true;
  for (auto& t : readers) t.join();

  std::printf("versions after %d updates: %llu; after %d: %llu (bound %llu)\n",
              kRoundUpdates, static_cast<unsigned long long>(after_one.versions),
              3 * kRoundUpdates,
              static_cast<unsigned long long>(after_three.versions),
              static_cast<unsigned long long>(bound));
  EXPECT_LE(after_one.versions, bound);
  EXPECT_LE(after_three.versions, bound);
  EXPECT_EQ(reader_errors.load(), 0);

  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(*held->Get(Key(i)), held_values[i]) << Key(i);
  }
  ASSERT_TRUE(held->Commit().ok());
}

TEST(ChainBoundTest, DeletedKeysLeaveBothIndexesOnceNoSnapshotSeesThem) {
  auto db_or = Database::Open();
  ASSERT_TRUE(db_or.ok());
  Database& db = **db_or;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(db.Put(Key(i), "v").ok());
  auto held = db.Begin();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(db.Delete(Key(i)).ok());
  // The held snapshot still sees every key, so the records stay.
  EXPECT_EQ(held->Scan("", "")->size(), 100u);
  EXPECT_EQ(db.GetStats().index_keys, 100u);
  EXPECT_EQ(db.Scan("", "")->size(), 0u);
  ASSERT_TRUE(held->Commit().ok());
  ASSERT_TRUE(db.Sweep().ok());
  const Stats s = db.GetStats();
  EXPECT_EQ(s.index_keys, 0u);
  EXPECT_EQ(s.live_keys, 0u);
  EXPECT_EQ(s.versions, 0u);
  EXPECT_EQ(db.Scan("", "")->size(), 0u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(db.Get(Key(i)).status().code(), absl::StatusCode::kNotFound);
  }
}

}  // namespace
}  // namespace mvkv
