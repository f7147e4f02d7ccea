// Contended blocking commits in the default in-memory layout, where
// committers race for the writer role (Engine::TryCommitInline: the winner
// installs and completes its own commit, a loser retries briefly and then
// hands its commit to the pipeline thread), mixed with async commits that
// always go through the ring.
//
// Properties checked, with several threads committing at once:
//  1. Nothing acknowledged is lost or invisible: once Put returns OK, a Get
//     on the same thread sees that value (or a later one of the same thread:
//     keys are per thread, so exactly that value).
//  2. Commit order: the timestamps a thread sees for its own successive
//     writes strictly increase, and visible_ts never goes backwards.
//  3. Validation in the holder is exact: read-modify-write increments of
//     shared counters under snapshot isolation (retried on conflict) sum
//     to the number of successful Transact calls.
//  4. Every async commit's callback runs once with OK.
// The seed is logged (MVKV_TEST_SEED replays the key choices).
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "tests/mvcc/test_support.h"

namespace mvkv {
namespace {

TEST(ContendedCommitTest, ContendedCommitsAreVisibleOrderedAndExact) {
  const uint64_t seed = testing_support::TestSeed();
  auto opened = Database::Open();
  ASSERT_TRUE(opened.ok()) << opened.status();
  Database& db = **opened;
  constexpr int kThreads = 4;
  constexpr int kCounters = 3;
  const int ops = testing_support::Scaled(3000, 600);
  for (int c = 0; c < kCounters; ++c) {
    ASSERT_TRUE(db.Put(absl::StrCat("counter", c), "0").ok());
  }
  std::atomic<int> failures{0};
  std::atomic<int> increments{0};
  std::atomic<int> async_ok{0};
  std::atomic<int> async_calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + t);
      uint64_t last_ts = 0;
      uint64_t last_visible = 0;
      for (int i = 0; i < ops; ++i) {
        const std::string key = absl::StrCat("t", t, "-", rng() % 16);
        const std::string value = absl::StrCat(t, ":", i);
        switch (rng() % 4) {
          case 0: {  // read-modify-write of a shared counter
            const std::string counter = absl::StrCat("counter", rng() % kCounters);
            absl::Status s = db.Transact([&](Txn& txn) -> absl::Status {
              absl::StatusOr<std::string> v = txn.Get(counter);
              if (!v.ok()) return v.status();
              int n = 0;
              if (!absl::SimpleAtoi(*v, &n)) return absl::InternalError("bad counter");
              return txn.Put(counter, absl::StrCat(n + 1));
            });
            if (s.ok()) {
              increments.fetch_add(1);
            } else if (!absl::IsAborted(s)) {
              failures.fetch_add(1);
            }
            break;
          }
          case 1:  // through the ring and the pipeline thread
            db.PutAsync(key + "-async", value, [&](absl::Status s) {
              async_calls.fetch_add(1);
              if (s.ok()) async_ok.fetch_add(1);
            });
            break;
          default: {  // blocking autocommit, the combined path
            if (!db.Put(key, value).ok()) {
              failures.fetch_add(1);
              break;
            }
            absl::StatusOr<ReadResult> got = db.GetWithTimestamp(key);
            if (!got.ok() || got->value != value) failures.fetch_add(1);  // (1)
            if (got.ok()) {
              if (got->commit_ts <= last_ts) failures.fetch_add(1);  // (2)
              last_ts = got->commit_ts;
            }
            const uint64_t visible = db.GetStats().visible_ts;
            if (visible < last_visible) failures.fetch_add(1);  // (2)
            last_visible = visible;
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  int sum = 0;
  for (int c = 0; c < kCounters; ++c) {
    absl::StatusOr<std::string> v = db.Get(absl::StrCat("counter", c));
    ASSERT_TRUE(v.ok()) << v.status();
    int n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(*v, &n));
    sum += n;
  }
  EXPECT_EQ(sum, increments.load());  // (3)
  opened->reset();  // drains: every async callback has run
  EXPECT_EQ(async_calls.load(), async_ok.load());  // (4)
}

}  // namespace
}  // namespace mvkv
