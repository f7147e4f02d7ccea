// Tests of the engine's skip list on its own: cursors racing with the
// single writer's inserts and removals.
#include "mvcc/internal/ordered_index.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "mvcc/testing/seed.h"

namespace mvkv::mvcc_internal {
namespace {

#ifdef MVKV_SANITIZER
constexpr int kWriterOps = 20000;
#else
constexpr int kWriterOps = 200000;
#endif

std::string Key(char prefix, int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%c%06d", prefix, i);
  return buf;
}

Record* Add(OrderedIndex& index, const std::string& key) {
  Record* r = NewRecord(key, 0, index.RandomHeight());
  index.Insert(r);
  return r;
}

void RemoveAndRetire(OrderedIndex& index, Record* r) {
  index.Remove(r);
  ReclaimDomain::Default().Retire(r, &DeleteRecord, RecordFootprint(r));
}

// Property: a cursor walks the present keys in strictly increasing order;
// Seek lands on the first key >= its target; removed keys are gone.
TEST(OrderedIndexTest, SeekAndNextFollowKeyOrder) {
  OrderedIndex index;
  std::vector<Record*> records;
  for (int i = 0; i < 1000; i += 2) records.push_back(Add(index, Key('k', i)));
  for (int i = 1; i < 1000; i += 4) records.push_back(Add(index, Key('k', i)));
  {
    ReclaimDomain::Guard guard;
    OrderedIndex::Cursor cursor(index, guard);
    cursor.Seek(Key('k', 3));
    ASSERT_TRUE(cursor.Valid());
    EXPECT_EQ(cursor.record()->key(), Key('k', 4));
    int n = 0;
    std::string last;
    for (cursor.Seek(""); cursor.Valid(); cursor.Next(), ++n) {
      EXPECT_LT(last, cursor.record()->key());
      last = std::string(cursor.record()->key());
    }
    EXPECT_EQ(n, 750);
  }
  std::vector<Record*> kept;
  for (Record* r : records) {
    if (r->key() < Key('k', 500)) {
      RemoveAndRetire(index, r);
    } else {
      kept.push_back(r);
    }
  }
  {
    ReclaimDomain::Guard guard;
    OrderedIndex::Cursor cursor(index, guard);
    cursor.Seek("");
    ASSERT_TRUE(cursor.Valid());
    EXPECT_EQ(cursor.record()->key(), Key('k', 500));
  }
  for (Record* r : kept) RemoveAndRetire(index, r);
  ReclaimDomain::Default().Barrier();
}

// Property (Invariant 3, laid out step by step): a cursor standing on a
// record that is removed does not follow its stale link to a successor that
// was inserted after the cursor's reservations, removed and freed; it
// continues at the next present key.
TEST(OrderedIndexTest, CursorOnARemovedRecordSkipsAFreedSuccessor) {
  OrderedIndex index;
  Record* r = Add(index, "r");
  Record* t = Add(index, "t");
  std::latch on_r(1), writer_done(1);
  std::string after_r;
  std::thread reader([&] {
    ReclaimDomain::Guard guard;
    OrderedIndex::Cursor cursor(index, guard);
    cursor.Seek("r");
    ASSERT_TRUE(cursor.Valid());
    ASSERT_EQ(cursor.record(), r);
    on_r.count_down();
    writer_done.wait();  // parked on "r" while the writer works
    cursor.Next();
    ASSERT_TRUE(cursor.Valid());
    after_r = std::string(cursor.record()->key());
  });
  on_r.wait();
  // Move the era past the reader's reservations: records born from here on
  // are younger than anything the reader holds.
  for (int i = 0; i < 4096; ++i) {
    Record* filler = NewRecord("", 0, 1);
    ReclaimDomain::Default().Retire(filler, &DeleteRecord, RecordFootprint(filler));
  }
  Record* s = Add(index, "s");  // r -> s -> t
  RemoveAndRetire(index, r);    // r keeps its link to s
  RemoveAndRetire(index, s);    // no reservation can see s: freed at once
  ReclaimDomain::Default().Flush();
  writer_done.count_down();
  reader.join();
  EXPECT_EQ(after_r, "t");
  RemoveAndRetire(index, t);
  ReclaimDomain::Default().Barrier();
}

// Property: while one writer inserts and removes keys, a concurrent full
// scan sees keys in strictly increasing order and never misses a key that
// stays present for the whole test, and every record it reaches is still
// allocated (ASan), including after standing on a record being removed.
TEST(OrderedIndexTest, ScansRacingTheWriterStayOrderedAndComplete) {
  const uint64_t seed = testing_support::TestSeed();

  OrderedIndex index;
  constexpr int kKeys = 2000;  // even: stable, odd: churned
  std::vector<Record*> records(kKeys, nullptr);
  for (int i = 0; i < kKeys; i += 2) records[i] = Add(index, Key('k', i));
  std::atomic<bool> done{false};
  std::atomic<uint64_t> scans{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      uint64_t n = 0;
      while (!done.load(std::memory_order_relaxed)) {
        ReclaimDomain::Guard guard;
        OrderedIndex::Cursor cursor(index, guard);
        std::string last;
        int stable = 0;
        for (cursor.Seek(""); cursor.Valid(); cursor.Next()) {
          const std::string key(cursor.record()->key());
          ASSERT_LT(last, key);
          if ((std::stoi(key.substr(1)) & 1) == 0) ++stable;
          last = key;
        }
        ASSERT_EQ(stable, kKeys / 2);
        ++n;
      }
      scans.fetch_add(n);
    });
  }
  std::mt19937_64 rng(seed);
  for (int op = 0; op < kWriterOps; ++op) {
    const int i = static_cast<int>(rng() % (kKeys / 2)) * 2 + 1;
    if (records[i] == nullptr) {
      records[i] = Add(index, Key('k', i));
    } else {
      RemoveAndRetire(index, records[i]);
      records[i] = nullptr;
    }
  }
  done.store(true);
  for (auto& th : readers) th.join();
  std::printf("scans=%llu\n", static_cast<unsigned long long>(scans.load()));
  EXPECT_GT(scans.load(), 0u);
  for (Record* r : records) {
    if (r != nullptr) RemoveAndRetire(index, r);
  }
  ReclaimDomain::Default().Barrier();
}

}  // namespace
}  // namespace mvkv::mvcc_internal
