// Tests of the engine's hash index on its own: the single-writer operations,
// and lookups racing with inserts, removals and table rebuilds.
#include "mvcc/internal/hash_index.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "mvcc/testing/seed.h"

namespace mvkv::mvcc_internal {
namespace {

#ifdef MVKV_SANITIZER
constexpr int kWriterOps = 40000;
#else
constexpr int kWriterOps = 400000;
#endif

Record* MakeRecord(const std::string& key) {
  return NewRecord(key, HashIndex::Hash(key), /*height=*/1);
}

void RetireRecord(Record* r) {
  ReclaimDomain::Default().Retire(r, &DeleteRecord, RecordFootprint(r));
}

Record* Lookup(const HashIndex& index, const std::string& key) {
  ReclaimDomain::Guard guard;
  return index.Find(guard, key, HashIndex::Hash(key));
}

// Property: Find and FindForWriter return exactly the records inserted and
// not removed, across growth, removal (tombstones) and rebuilds.
TEST(HashIndexTest, FindsWhatIsPresentAcrossGrowthAndRemoval) {
  HashIndex index;
  constexpr int kKeys = 20000;  // several doublings past the initial 1024
  std::vector<Record*> records(kKeys, nullptr);
  for (int i = 0; i < kKeys; ++i) {
    records[i] = MakeRecord("key" + std::to_string(i));
    index.Insert(records[i]);
  }
  EXPECT_EQ(index.size(), static_cast<std::size_t>(kKeys));
  for (int i = 0; i < kKeys; i += 2) {  // remove the even keys
    index.Remove(records[i]);
    RetireRecord(records[i]);
    records[i] = nullptr;
  }
  // Re-insert a quarter of them as new records: tombstones get reused.
  for (int i = 0; i < kKeys; i += 4) {
    records[i] = MakeRecord("key" + std::to_string(i));
    index.Insert(records[i]);
  }
  std::size_t present = 0;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "key" + std::to_string(i);
    EXPECT_EQ(Lookup(index, key), records[i]) << key;
    EXPECT_EQ(index.FindForWriter(key, HashIndex::Hash(key)), records[i]) << key;
    if (records[i] != nullptr) ++present;
  }
  EXPECT_EQ(index.size(), present);
  EXPECT_EQ(Lookup(index, "absent"), nullptr);
  EXPECT_EQ(Lookup(index, ""), nullptr);
  for (Record* r : records) {
    if (r == nullptr) continue;
    index.Remove(r);
    RetireRecord(r);
  }
  EXPECT_EQ(index.size(), 0u);
  ReclaimDomain::Default().Barrier();
}

// Property: while one writer inserts and removes keys (rebuilding the table
// many times as tombstones pile up), concurrent readers always find keys
// that stay present, never find keys that were never inserted, and any
// record they get back has the key they asked for (ASan: and is not freed).
TEST(HashIndexTest, ReadersRacingTheWriterSeeConsistentResults) {
  const uint64_t seed = testing_support::TestSeed();

  HashIndex index;
  constexpr int kStable = 2000;
  constexpr int kChurn = 4000;
  std::vector<Record*> stable;
  for (int i = 0; i < kStable; ++i) {
    stable.push_back(MakeRecord("s" + std::to_string(i)));
    index.Insert(stable.back());
  }
  std::atomic<bool> done{false};
  std::atomic<uint64_t> lookups{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(seed + 1 + t);
      uint64_t n = 0;
      while (!done.load(std::memory_order_relaxed)) {
        const uint64_t pick = rng() % 3;
        std::string key;
        if (pick == 0) key = "s" + std::to_string(rng() % kStable);
        if (pick == 1) key = "c" + std::to_string(rng() % kChurn);
        if (pick == 2) key = "x" + std::to_string(rng() % kChurn);
        ReclaimDomain::Guard guard;
        const Record* r = index.Find(guard, key, HashIndex::Hash(key));
        if (pick == 0) {
          ASSERT_NE(r, nullptr) << key;
        }
        if (pick == 2) {
          ASSERT_EQ(r, nullptr) << key;
        }
        if (r != nullptr) {
          ASSERT_EQ(r->key(), key);
        }
        ++n;
      }
      lookups.fetch_add(n);
    });
  }
  std::mt19937_64 rng(seed);
  std::vector<Record*> churn(kChurn, nullptr);
  for (int op = 0; op < kWriterOps; ++op) {
    const int i = static_cast<int>(rng() % kChurn);
    if (churn[i] == nullptr) {
      churn[i] = MakeRecord("c" + std::to_string(i));
      index.Insert(churn[i]);
    } else {
      index.Remove(churn[i]);
      RetireRecord(churn[i]);
      churn[i] = nullptr;
    }
  }
  done.store(true);
  for (auto& th : readers) th.join();
  std::printf("lookups=%llu\n", static_cast<unsigned long long>(lookups.load()));
  EXPECT_GT(lookups.load(), 0u);
  for (Record* r : churn) {
    if (r != nullptr) {
      index.Remove(r);
      RetireRecord(r);
    }
  }
  for (Record* r : stable) {
    index.Remove(r);
    RetireRecord(r);
  }
  EXPECT_EQ(index.size(), 0u);
  ReclaimDomain::Default().Barrier();
}

}  // namespace
}  // namespace mvkv::mvcc_internal
