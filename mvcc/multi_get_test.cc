// Database::MultiGet and Txn::MultiGet (batched point reads), and small
// values kept inside their record (version.h, Invariant 4).
#include <atomic>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "mvcc/testing/seed.h"

namespace mvkv {
namespace {

std::unique_ptr<Database> OpenDb(Options options = Options()) {
  auto db = Database::Open(options);
  EXPECT_TRUE(db.ok()) << db.status();
  return std::move(*db);
}

std::string Key(int i) { return absl::StrCat("key", i); }

// A value that names its key and its round and is `size` bytes long, so a
// reader can tell a value written for this key from anything else.
std::string Value(int key, int round, std::size_t size) {
  std::string v = absl::StrCat(key, ":", round, ":");
  v.resize(std::max(size, v.size()), 'x');
  return v;
}

// Sizes on both sides of the in-record limit (128 bytes) and at it.
constexpr std::size_t kSizes[] = {0, 8, 127, 128, 129, 1000};

std::vector<std::string_view> Views(const std::vector<std::string>& keys) {
  return {keys.begin(), keys.end()};
}

// Every element of a MultiGet is what GetWithTimestamp returns for its key
// (the database does not change meanwhile): value, timestamp and code, for
// batches shorter than, equal to and longer than a prefetch group, with
// repeated, missing and deleted keys, values inside and outside records,
// and chains of several versions.
TEST(MultiGetTest, EveryElementIsWhatGetReturns) {
  const uint64_t seed = testing_support::TestSeed();
  std::mt19937_64 rng(seed);
  auto db = OpenDb();
  constexpr int kKeys = 200;
  for (int i = 0; i < kKeys; ++i) {
    const int rounds = 1 + static_cast<int>(rng() % 3);
    for (int round = 0; round < rounds; ++round) {
      ASSERT_TRUE(db->Put(Key(i), Value(i, round, kSizes[rng() % 6])).ok());
    }
    if (rng() % 5 == 0) {
      ASSERT_TRUE(db->Delete(Key(i)).ok());
    }
  }
  for (std::size_t n : {0, 1, 15, 16, 17, 33, 300}) {
    std::vector<std::string> keys;
    for (std::size_t j = 0; j < n; ++j) {
      keys.push_back(Key(static_cast<int>(rng() % (kKeys + 20))));  // some missing
    }
    const std::vector<absl::StatusOr<ReadResult>> got = db->MultiGet(Views(keys));
    ASSERT_EQ(got.size(), n);
    for (std::size_t j = 0; j < n; ++j) {
      const absl::StatusOr<ReadResult> want = db->GetWithTimestamp(keys[j]);
      ASSERT_EQ(got[j].status().code(), want.status().code()) << keys[j];
      if (!want.ok()) continue;
      EXPECT_EQ(got[j]->value, want->value) << keys[j];
      EXPECT_EQ(got[j]->commit_ts, want->commit_ts) << keys[j];
    }
  }
}

TEST(MultiGetTest, ABadKeyGetsInvalidArgumentAndTheOthersAreRead) {
  Options options;
  options.limits.max_key_bytes = 8;
  auto db = OpenDb(options);
  ASSERT_TRUE(db->Put("a", "1").ok());
  ASSERT_TRUE(db->Put("b", "2").ok());
  const std::vector<std::string> keys = {"a", "", "far-too-long", "b", "c"};
  const auto got = db->MultiGet(Views(keys));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0]->value, "1");
  EXPECT_EQ(got[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(got[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(got[3]->value, "2");
  EXPECT_EQ(got[4].status().code(), absl::StatusCode::kNotFound);
}

// Txn::MultiGet reads the transaction's own writes first and everything
// else at its snapshot, including a small value's first version (inside
// the record) after a newer version was committed.
TEST(MultiGetTest, TxnReadsOwnWritesThenItsSnapshot) {
  auto db = OpenDb();
  ASSERT_TRUE(db->Put("small", "old").ok());
  ASSERT_TRUE(db->Put("large", std::string(500, 'o')).ok());
  ASSERT_TRUE(db->Put("gone", "x").ok());
  auto txn = db->Begin();
  ASSERT_TRUE(db->Put("small", "new").ok());
  ASSERT_TRUE(db->Put("large", std::string(500, 'n')).ok());
  ASSERT_TRUE(db->Put("later", "y").ok());
  ASSERT_TRUE(txn->Put("mine", "m").ok());
  ASSERT_TRUE(txn->Delete("gone").ok());
  const std::vector<std::string> keys = {"small", "large", "later", "mine",
                                         "gone"};
  auto got = txn->MultiGet(Views(keys));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)[0]->value, "old");
  EXPECT_EQ((*got)[1]->value, std::string(500, 'o'));
  EXPECT_EQ((*got)[2].status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*got)[3]->value, "m");
  EXPECT_EQ((*got)[4].status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(txn->Rollback().ok());
  EXPECT_EQ(txn->MultiGet(Views(keys)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The transaction is gone: a sweep unlinks the old in-record version.
  ASSERT_TRUE(db->Sweep().ok());
  EXPECT_EQ(*db->Get("small"), "new");
  EXPECT_EQ(db->GetStats().versions, db->GetStats().index_keys);
}

// A transaction whose snapshot the engine released gets OutOfRange for the
// whole batch, not partial results.
TEST(MultiGetTest, ReleasedSnapshotFailsTheWholeBatch) {
  Options options;
  options.max_retained_bytes = 1;  // any retained version is over budget
  auto db = OpenDb(options);
  ASSERT_TRUE(db->Put("a", "1").ok());
  auto txn = db->Begin();
  const std::vector<std::string> keys = {"a", "b"};
  ASSERT_TRUE(txn->MultiGet(Views(keys)).ok());
  // The first overwrite retains "a"'s old version for the snapshot; the
  // next commit's install finds the budget exceeded and releases it.
  ASSERT_TRUE(db->Put("a", "2").ok());
  ASSERT_TRUE(db->Put("a", "3").ok());
  ASSERT_GE(db->GetStats().aborts_snapshot_too_old, 1u);
  auto got = txn->MultiGet(Views(keys));
  EXPECT_TRUE(IsSnapshotTooOld(got.status())) << got.status();
}

TEST(MultiGetTest, SerializableValidatesTheKeysItRead) {
  auto db = OpenDb();
  ASSERT_TRUE(db->Put("a", "1").ok());
  auto txn = db->Begin(IsolationLevel::kSerializable);
  const std::vector<std::string> keys = {"a", "b"};
  ASSERT_TRUE(txn->MultiGet(Views(keys)).ok());
  ASSERT_TRUE(db->Put("b", "2").ok());  // a phantom of the read of "b"
  ASSERT_TRUE(txn->Put("c", "3").ok());
  EXPECT_EQ(txn->Commit().code(), absl::StatusCode::kAborted);
}

// A key's first small value lives inside its record. Overwriting and
// sweeping leaves one version per key and no retained bytes; deleting and
// sweeping frees the record with it. Under ASan this also checks that the
// in-record version is neither freed on its own nor leaked.
TEST(MultiGetTest, InRecordVersionsArePrunedAndFreedWithTheirRecord) {
  auto db = OpenDb();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(db->Put(Key(i), Value(i, 0, kSizes[i % 6])).ok());
  }
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(db->Put(Key(i), Value(i, 1, kSizes[(i + 1) % 6])).ok());
  }
  ASSERT_TRUE(db->Sweep().ok());
  Stats stats = db->GetStats();
  EXPECT_EQ(stats.versions, 100u);
  EXPECT_EQ(stats.retained_bytes, 0u);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(db->Delete(Key(i)).ok());
  ASSERT_TRUE(db->Sweep().ok());
  stats = db->GetStats();
  EXPECT_EQ(stats.index_keys, 0u);
  EXPECT_EQ(stats.versions, 0u);
  EXPECT_EQ(stats.version_bytes, 0u);
}

// Property: while one thread overwrites, deletes and re-creates keys
// (values inside and outside records, so in-record versions are pruned
// under the readers and records are removed and freed), every MultiGet
// element is NotFound or a value some round wrote for that very key, and a
// transaction's MultiGet at a fixed snapshot returns the same thing every
// time. ASan/TSan check that no reader touches freed memory.
TEST(MultiGetTest, ConcurrentReadersSeeOnlyValuesWrittenForTheirKey) {
  const uint64_t seed = testing_support::TestSeed();
  auto db = OpenDb();
  constexpr int kKeys = 64;
  const int rounds = testing_support::Scaled(400, 60);
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(db->Put(Key(i), Value(i, 0, 8)).ok());
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back(Key(i));
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  auto check = [&](const std::string& key, const absl::StatusOr<ReadResult>& r) {
    if (!r.ok()) {
      if (r.status().code() != absl::StatusCode::kNotFound) failures.fetch_add(1);
      return;
    }
    const std::string prefix = key.substr(3) + ":";
    if (r->value.rfind(prefix, 0) != 0) failures.fetch_add(1);
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(seed + t);
      // Bound: until the writer is done (it runs a fixed number of rounds).
      while (!done.load(std::memory_order_acquire)) {
        std::vector<std::string> batch;
        for (int j = 0; j < 40; ++j) batch.push_back(keys[rng() % kKeys]);
        const auto got = db->MultiGet(Views(batch));
        for (std::size_t j = 0; j < batch.size(); ++j) check(batch[j], got[j]);
        auto txn = db->Begin();
        const auto first = txn->MultiGet(Views(batch));
        const auto second = txn->MultiGet(Views(batch));
        if (!first.ok() || !second.ok()) {
          failures.fetch_add(1);
          continue;
        }
        for (std::size_t j = 0; j < batch.size(); ++j) {
          check(batch[j], (*first)[j]);
          const bool same =
              (*first)[j].status().code() == (*second)[j].status().code() &&
              (!(*first)[j].ok() || (*first)[j]->value == (*second)[j]->value);
          if (!same) failures.fetch_add(1);
        }
      }
    });
  }
  std::mt19937_64 rng(seed ^ 0x5eed);
  for (int round = 1; round <= rounds; ++round) {
    for (int i = 0; i < kKeys; ++i) {
      if (rng() % 4 == 0) {
        ASSERT_TRUE(db->Delete(Key(i)).ok());
      } else {
        ASSERT_TRUE(db->Put(Key(i), Value(i, round, kSizes[rng() % 6])).ok());
      }
    }
    if (round % 50 == 0) {
      ASSERT_TRUE(db->Sweep().ok());
    }
  }
  done.store(true, std::memory_order_release);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace mvkv
