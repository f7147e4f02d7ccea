// The asynchronous commit API (Txn::CommitAsync, Database::PutAsync and
// DeleteAsync): `done` runs exactly once with the status the blocking form
// would return, inline for commits that never enter the pipeline and on the
// completion thread, in commit order and after the commit is visible, for
// the others (on the caller's thread, still in commit order, when the fused
// in-memory layout finds the ring idle); a Txn may go away mid-commit; a
// full ring fails at once; and closing the database runs every pending
// callback.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "mvcc/durability.h"
#include "mvcc/testing/gated_durability.h"
#include "mvcc/testing/seed.h"

namespace mvkv {
namespace {

using ::testing::HasSubstr;
using testing_support::GatedDurability;

// Collects callback outcomes; Wait blocks until `n` have arrived.
class Outcomes {
 public:
  CommitCallback Callback() {
    return [this](absl::Status s) { Add(std::move(s)); };
  }
  void Add(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    statuses_.push_back(std::move(s));
    cv_.notify_all();
  }
  std::vector<absl::Status> Wait(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return statuses_.size() >= n; });
    return statuses_;
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return statuses_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<absl::Status> statuses_;
};

std::unique_ptr<Database> OpenDb(Options options = Options()) {
  auto db = Database::Open(options);
  EXPECT_TRUE(db.ok()) << db.status();
  return std::move(*db);
}

TEST(CommitAsyncTest, DoneGetsOkOnceAndTheWriteIsVisibleInsideIt) {
  auto db = OpenDb();
  std::unique_ptr<Txn> txn = db->Begin();
  ASSERT_TRUE(txn->Put("k", "v").ok());
  Txn* raw = txn.get();
  std::atomic<int> calls{0};
  Outcomes outcomes;
  raw->CommitAsync([&, txn = std::move(txn)](absl::Status s) {
    ++calls;
    // A new reader started inside the callback sees the write, at the
    // commit timestamp the Txn reports.
    auto read = db->GetWithTimestamp("k");
    EXPECT_TRUE(read.ok()) << read.status();
    if (read.ok()) {
      EXPECT_EQ(read->value, "v");
      EXPECT_EQ(read->commit_ts, txn->commit_ts());
    }
    EXPECT_GT(txn->commit_ts(), 0u);
    EXPECT_LE(txn->commit_ts(), db->GetStats().visible_ts);
    // Finished: further use is FailedPrecondition.
    EXPECT_EQ(txn->Put("x", "y").code(), absl::StatusCode::kFailedPrecondition);
    outcomes.Add(std::move(s));
  });
  std::vector<absl::Status> got = outcomes.Wait(1);
  EXPECT_TRUE(got[0].ok()) << got[0];
  db.reset();  // drains: no second call
  EXPECT_EQ(calls.load(), 1);
}

TEST(CommitAsyncTest, WriteConflictIsAbortedNamingTheKeyAndRollsBack) {
  auto db = OpenDb();
  std::unique_ptr<Txn> loser = db->Begin();
  ASSERT_TRUE(db->Put("k", "winner").ok());
  ASSERT_TRUE(loser->Put("k", "loser").ok());
  Outcomes outcomes;
  loser->CommitAsync(outcomes.Callback());
  absl::Status s = outcomes.Wait(1)[0];
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("\"k\""));
  EXPECT_EQ(loser->commit_ts(), 0u);
  EXPECT_THAT(loser->Put("k", "again").message(), HasSubstr("rolled back"));
  EXPECT_EQ(*db->Get("k"), "winner");
  EXPECT_EQ(db->GetStats().active_snapshots, 0u);  // released with the end
}

TEST(CommitAsyncTest, SerializableReadConflictAborts) {
  auto db = OpenDb();
  ASSERT_TRUE(db->Put("a", "0").ok());
  std::unique_ptr<Txn> txn = db->Begin(IsolationLevel::kSerializable);
  ASSERT_TRUE(txn->Get("a").ok());
  ASSERT_TRUE(txn->Put("b", "1").ok());
  ASSERT_TRUE(db->Put("a", "changed").ok());
  Outcomes outcomes;
  txn->CommitAsync(outcomes.Callback());
  absl::Status s = outcomes.Wait(1)[0];
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("serialization conflict"));
  EXPECT_EQ(db->Get("b").status().code(), absl::StatusCode::kNotFound);
}

TEST(CommitAsyncTest, TVarWritesCommitWithTheKeys) {
  auto db = OpenDb();
  TVar<int> counter = db->NewTVar<int>(1);
  std::unique_ptr<Txn> txn = db->Begin();
  ASSERT_TRUE(txn->Write(counter, 2).ok());
  ASSERT_TRUE(txn->Put("k", "v").ok());
  Outcomes outcomes;
  txn->CommitAsync(outcomes.Callback());
  ASSERT_TRUE(outcomes.Wait(1)[0].ok());
  std::unique_ptr<Txn> reader = db->Begin();
  EXPECT_EQ(*reader->Read(counter), 2);
  EXPECT_EQ(*reader->Get("k"), "v");
}

TEST(CommitAsyncTest, FinishedTxnFailsInlineOnTheCallersThread) {
  auto db = OpenDb();
  std::unique_ptr<Txn> txn = db->Begin();
  ASSERT_TRUE(txn->Put("k", "v").ok());
  ASSERT_TRUE(txn->Commit().ok());
  absl::Status got = absl::UnknownError("not called");
  std::thread::id where;
  txn->CommitAsync([&](absl::Status s) {
    got = std::move(s);
    where = std::this_thread::get_id();
  });
  // Inline: already called when CommitAsync returns, on this thread.
  EXPECT_EQ(got.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(got.message(), HasSubstr("already committed"));
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(CommitAsyncTest, ReadOnlyTxnCommitsInlineWithoutThePipeline) {
  Options options;
  options.maintenance_interval = absl::InfiniteDuration();  // no tick batches
  auto db = OpenDb(options);
  std::unique_ptr<Txn> txn = db->Begin();
  (void)txn->Get("absent");
  const uint64_t batches = db->GetStats().pipeline_batches;
  absl::Status got = absl::UnknownError("not called");
  txn->CommitAsync([&](absl::Status s) { got = std::move(s); });
  EXPECT_TRUE(got.ok()) << got;
  EXPECT_EQ(db->GetStats().active_snapshots, 0u);
  EXPECT_EQ(txn->commit_ts(), 0u);
  EXPECT_EQ(db->GetStats().pipeline_batches, batches);
}

TEST(CommitAsyncTest, InvalidInputFailsInline) {
  Options options;
  options.limits.max_value_bytes = 4;
  auto db = OpenDb(options);
  std::vector<absl::Status> got;
  auto record = [&](absl::Status s) { got.push_back(std::move(s)); };
  db->PutAsync("", "v", record);
  db->PutAsync("k", "too long", record);
  db->DeleteAsync("", record);
  ASSERT_EQ(got.size(), 3u);  // all inline
  for (const absl::Status& s : got) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  }
  EXPECT_EQ(db->GetStats().commits, 0u);
}

TEST(CommitAsyncTest, PutAsyncAndDeleteAsyncCopyTheirArguments) {
  auto db = OpenDb();
  Outcomes outcomes;
  {
    std::string key = "key", value = "value";
    db->PutAsync(key, value, outcomes.Callback());
    key.assign("XXX");
    value.assign("YYYYY");
  }
  ASSERT_TRUE(outcomes.Wait(1)[0].ok());
  EXPECT_EQ(*db->Get("key"), "value");
  {
    std::string key = "key";
    db->DeleteAsync(key, outcomes.Callback());
    key.assign("XXX");
  }
  ASSERT_TRUE(outcomes.Wait(2)[1].ok());
  EXPECT_EQ(db->Get("key").status().code(), absl::StatusCode::kNotFound);
}

// While a commit is held in flight (its batch blocked in PersistBatch), the
// callback has not run, nobody sees the write, the Txn refuses every use
// without effect, and destroying it does not disturb the commit.
TEST(CommitAsyncTest, TxnRefusesUseMidCommitAndMayBeDestroyed) {
  GatedDurability durable;
  Options options;
  options.durability = &durable;
  auto db = OpenDb(options);
  durable.SetOpen(false);
  std::unique_ptr<Txn> txn = db->Begin();
  ASSERT_TRUE(txn->Put("k", "v").ok());
  Outcomes outcomes;
  txn->CommitAsync(outcomes.Callback());
  durable.WaitForHeldBatch();
  EXPECT_EQ(outcomes.count(), 0u);
  EXPECT_EQ(db->Get("k").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(txn->Put("k", "w").message(), HasSubstr("commit in progress"));
  EXPECT_EQ(txn->Rollback().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(txn->Commit().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(txn->commit_ts(), 0u);
  txn.reset();
  durable.SetOpen(true);
  ASSERT_TRUE(outcomes.Wait(1)[0].ok());
  EXPECT_EQ(*db->Get("k"), "v");
  EXPECT_TRUE(durable.Persisted("k"));
}

// The async forms never wait for room: a full ring fails inline.
TEST(CommitAsyncTest, FullPipelineFailsInlineWithResourceExhausted) {
  GatedDurability durable;
  Options options;
  options.durability = &durable;
  options.commit_ring_size = 2;
  options.maintenance_interval = absl::InfiniteDuration();
  auto db = OpenDb(options);
  durable.SetOpen(false);
  Outcomes held;
  db->PutAsync("a", "1", held.Callback());  // taken, held in PersistBatch
  durable.WaitForHeldBatch();
  db->PutAsync("b", "2", held.Callback());  // fills the second slot
  // Both slots stay claimed until their requests complete: the ring is
  // full. (The second may or may not be in a batch yet; either way it holds
  // its slot.)
  absl::Status full = absl::UnknownError("not called");
  db->PutAsync("c", "3", [&](absl::Status s) { full = std::move(s); });
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_THAT(full.message(), HasSubstr("full"));
  EXPECT_EQ(held.count(), 0u);
  durable.SetOpen(true);
  for (const absl::Status& s : held.Wait(2)) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(db->Get("c").status().code(), absl::StatusCode::kNotFound);
}

struct Layout {
  const char* name;
  bool durable;
  bool staged;
};

class CommitAsyncLayoutTest : public ::testing::TestWithParam<Layout> {
 protected:
  std::unique_ptr<Database> Open(Options options = Options()) {
    if (GetParam().durable) options.durability = &durable_;
    options.staged_pipeline = GetParam().staged;
    return OpenDb(options);
  }
  GatedDurability durable_;
};

// Property: in the fused in-memory layout an async commit that finds the
// pipeline idle is installed, made visible and called back on the caller's
// thread before PutAsync returns (no hand-off); the other layouts call back
// from the pipeline. Either way the write is visible inside the callback.
TEST_P(CommitAsyncLayoutTest, IdleAsyncCommitCallsBackOnTheCallersThreadOnlyFused) {
  Options options;
  options.maintenance_interval = absl::InfiniteDuration();  // ring stays idle
  auto db = Open(options);
  const bool fast = !GetParam().durable && !GetParam().staged;
  for (int i = 0; i < 3; ++i) {
    const std::string value = absl::StrCat("v", i);
    std::atomic<bool> called{false};
    std::thread::id on;
    std::string seen;
    db->PutAsync("k", value, [&](absl::Status s) {
      EXPECT_TRUE(s.ok()) << s;
      on = std::this_thread::get_id();
      auto got = db->Get("k");
      seen = got.ok() ? *got : std::string();
      called.store(true, std::memory_order_release);
    });
    if (fast) {
      ASSERT_TRUE(called.load(std::memory_order_acquire));
      EXPECT_EQ(on, std::this_thread::get_id());
    } else {
      // Bound: 10 s.
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!called.load(std::memory_order_acquire) &&
             std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
      }
      ASSERT_TRUE(called.load(std::memory_order_acquire));
      EXPECT_NE(on, std::this_thread::get_id());
    }
    EXPECT_EQ(seen, value);
  }
}

// Property (the caller-runs fast path under contention): threads racing
// async writes to ONE key, some issued from inside callbacks (which must
// publish rather than retake the writer role), get their callbacks in
// strictly increasing commit order, each seeing exactly its own write as
// the newest visible version of the key (so visible_ts covers it and no
// later commit is visible yet), and every callback runs exactly once.
TEST_P(CommitAsyncLayoutTest, HotKeyAsyncCallbacksRunInCommitOrderUnderContention) {
  auto db = Open();
  const uint64_t seed = testing_support::TestSeed();
  constexpr int kEach = testing_support::Scaled(2000, 200);
  constexpr int kThreads = 4, kMaxInFlight = 16;
  std::mutex mu;  // guards the results
  std::vector<uint64_t> order;
  int failures = 0, not_own = 0, inline_calls = 0;
  std::atomic<int> calls{0}, issued{0};
  Database* raw = db.get();
  // Records one callback; `nested` issues one more write from inside it.
  std::function<void(std::string, bool, std::thread::id)> put =
      [&](std::string value, bool nest, std::thread::id caller) {
        ++issued;
        raw->PutAsync("hot", value, [&, value, nest, caller](absl::Status s) {
          auto read = raw->GetWithTimestamp("hot");
          {
            std::lock_guard<std::mutex> lock(mu);
            if (!s.ok() || !read.ok()) {
              ++failures;
            } else {
              if (read->value != value) ++not_own;
              order.push_back(read->commit_ts);
            }
            if (std::this_thread::get_id() == caller) ++inline_calls;
          }
          if (nest) {
            put(value + "+", false, std::this_thread::get_id());
          }
          ++calls;
        });
      };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::minstd_rand rng(seed + t);
      for (int i = 0; i < kEach; ++i) {
        // Bound: waits only for callbacks already in the pipeline.
        while (issued.load() - calls.load() >= kThreads * kMaxInFlight) {
          std::this_thread::yield();
        }
        put(absl::StrCat(t, "/", i), rng() % 8 == 0, std::this_thread::get_id());
      }
    });
  }
  for (std::thread& th : threads) th.join();
  // Bound: 60 s for the last callbacks.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (calls.load() < issued.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  ASSERT_EQ(calls.load(), issued.load());
  std::lock_guard<std::mutex> lock(mu);
  std::printf("issued=%d inline_callbacks=%d\n", issued.load(), inline_calls);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(not_own, 0) << "a callback saw another commit as the newest";
  ASSERT_EQ(order.size(), static_cast<std::size_t>(issued.load()));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(std::adjacent_find(order.begin(), order.end()), order.end())
      << "two callbacks reported the same commit timestamp";
}

// Property: async commits from several threads (transactions and autocommit
// writes, each on its own key) all complete exactly once with OK, callbacks
// run in strictly increasing commit-timestamp order, and each runs only
// after visible_ts covers its commit.
TEST_P(CommitAsyncLayoutTest, ConcurrentAsyncCommitsCompleteInCommitOrder) {
  auto db = Open();
  const uint64_t seed = testing_support::TestSeed();
  constexpr int kEach = testing_support::Scaled(3000, 300);
  constexpr int kThreads = 4, kMaxInFlight = 64;
  std::mutex mu;  // guards the vectors (callbacks run on one thread anyway)
  std::vector<uint64_t> order;
  int failures = 0, early = 0;
  std::atomic<int> calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::minstd_rand rng(seed + t);
      std::atomic<int> in_flight{0};
      for (int i = 0; i < kEach; ++i) {
        while (in_flight.load() >= kMaxInFlight) std::this_thread::yield();
        ++in_flight;
        const std::string key = absl::StrCat("t", t, "/", i);
        auto check = [&, key](absl::Status s, uint64_t ts) {
          const uint64_t visible = db->GetStats().visible_ts;
          {
            std::lock_guard<std::mutex> lock(mu);
            if (!s.ok()) ++failures;
            if (ts > visible) ++early;
            order.push_back(ts);
          }
          ++calls;
          --in_flight;
        };
        if (rng() % 2 == 0) {
          std::unique_ptr<Txn> txn = db->Begin();
          (void)txn->Put(key, "v");
          Txn* raw = txn.get();
          raw->CommitAsync([check, txn = std::move(txn)](absl::Status s) {
            check(std::move(s), txn->commit_ts());
          });
        } else {
          db->PutAsync(key, "v", [&db, check, key](absl::Status s) {
            auto read = db->GetWithTimestamp(key);
            check(std::move(s), read.ok() ? read->commit_ts : ~uint64_t{0});
          });
        }
      }
      while (in_flight.load() > 0) std::this_thread::yield();
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(calls.load(), kThreads * kEach);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(early, 0);
  ASSERT_EQ(order.size(), std::size_t{kThreads * kEach});
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(std::adjacent_find(order.begin(), order.end()), order.end())
      << "two callbacks reported the same commit timestamp";
}

// Property: closing the database with async commits in flight runs every
// callback exactly once, including commits issued by callbacks while the
// close drains; every commit that got OK was persisted. (One that got
// Unavailable may or may not be: like a crash between fsync and reply.)
TEST_P(CommitAsyncLayoutTest, CloseRunsEveryPendingCallback) {
  auto db = Open();
  constexpr int kInitial = 200, kDepth = 3;
  std::mutex mu;
  std::map<std::string, absl::Status> outcome;
  std::atomic<int> issued{0}, duplicate{0};
  Database* raw = db.get();
  // Each callback records its outcome and, up to kDepth, commits again.
  std::function<void(std::string, int)> put = [&](std::string key, int depth) {
    ++issued;
    raw->PutAsync(key, "v", [&, key, depth](absl::Status s) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!outcome.emplace(key, s).second) ++duplicate;
      }
      if (depth < kDepth) put(absl::StrCat(key, "+"), depth + 1);
    });
  };
  for (int i = 0; i < kInitial; ++i) put(absl::StrCat("k", i), 0);
  db.reset();  // no waiting: many are still in the ring
  EXPECT_EQ(duplicate.load(), 0);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(outcome.size(), static_cast<std::size_t>(issued.load()));
  int ok = 0;
  for (const auto& [key, s] : outcome) {
    if (s.ok()) {
      ++ok;
      if (GetParam().durable) {
        EXPECT_TRUE(durable_.Persisted(key)) << key;
      }
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << key << ": " << s;
    }
  }
  EXPECT_GE(ok, kInitial);  // everything published before the close drained
  std::printf("issued=%d ok=%d\n", issued.load(), ok);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, CommitAsyncLayoutTest,
    ::testing::Values(Layout{"FusedInMemory", false, false},
                      Layout{"FusedDurable", true, false},
                      Layout{"StagedInMemory", false, true},
                      Layout{"StagedDurable", true, true}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mvkv
