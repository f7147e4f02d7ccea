// A hash index over records, for point lookups in O(1) expected cache misses.
//
// Thread safety: single writer (the commit pipeline's install stage) calls
// Insert and Remove; any number of readers call Find concurrently, inside a
// reclaim guard, without locks.
//
// Invariants:
//  1. The table in `table_` and every entry reachable from it were fully
//     initialised before the release store that made them reachable.
//  2. Growing builds a complete new table (new entries) before one release
//     store of `table_` swaps it in; the old table and entries are retired,
//     so a reader still walking them sees a consistent, older snapshot of the
//     index, which is all the writer promises.
//  3. An entry's `next` is changed only to unlink its successor; an unlinked
//     entry keeps its own `next`, so a reader standing on it continues.
#ifndef MVKV_MVCC_INTERNAL_HASH_INDEX_H_
#define MVKV_MVCC_INTERNAL_HASH_INDEX_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mvcc/internal/version.h"

namespace mvkv::mvcc_internal {

// Guard reservation indexes used by Find (see ReclaimDomain::Guard).
inline constexpr int kHashTableSlot = 0;
inline constexpr int kHashEntrySlotA = 1;
inline constexpr int kHashEntrySlotB = 2;
inline constexpr int kRecordSlot = 3;

class HashIndex final {
 public:
  HashIndex();
  ~HashIndex();  // frees the table and entries, not the records
  HashIndex(const HashIndex&) = delete;
  HashIndex& operator=(const HashIndex&) = delete;

  static uint64_t Hash(std::string_view key);

  // Reader. REQUIRES: `guard` is live on this thread. The result stays valid
  // while the guard lives and kRecordSlot is not protected again.
  Record* Find(ReclaimDomain::Guard& guard, std::string_view key,
               uint64_t hash) const;

  // Writer only (no guard needed: the writer frees nothing it still uses).
  Record* FindForWriter(std::string_view key, uint64_t hash) const;
  // REQUIRES: no record with the same key is present.
  void Insert(Record* record);
  // Unlinks the record's entry; the caller retires the record.
  void Remove(Record* record);

  // Any thread (Stats); exact in the writer.
  std::size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  struct Entry;
  struct Table;

  void Grow();

  std::atomic<Table*> table_;
  // Written by the writer only; relaxed: a statistic other threads may read.
  std::atomic<std::size_t> size_{0};
};

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_HASH_INDEX_H_
