// A hash index over records, for point lookups: open addressing with linear
// probing over (tag, record) pairs, so a lookup touches the table slot and
// then the record — no chain entry in between.
//
// Thread safety: single writer (the commit pipeline's install stage) calls
// Insert and Remove; any number of readers call Find concurrently, inside a
// reclaim guard, without locks.
//
// Invariants:
//  1. A slot's tag is 0 until a record is first stored in it, then never 0
//     again in that table: a probe may stop at tag 0. A slot whose record is
//     null is empty (tag 0) or removed (a tombstone, reusable by Insert).
//  2. The writer stores a slot's tag before its record (release); a record
//     and its key are fully initialised before that release store.
//  3. A table is replaced (Grow) by building a complete new table and one
//     store of `table_`; tables never come back. A record leaves the index
//     only by having its slot in the current table cleared, before the
//     caller retires it.
//  4. Hence a reader that loads a record from table t and then finds t
//     still current (`table_ == t`, checked after the load) loaded it while
//     it was reachable, so its reservation protects it. A reader that finds
//     t replaced restarts: a slot of an old table may name a record removed
//     (and freed) after the replacement.
//  5. At most half of a table's slots have a nonzero tag (Insert grows
//     first), so every probe ends at an empty slot.
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
inline constexpr int kRecordSlot = 3;

class HashIndex final {
 public:
  HashIndex();
  ~HashIndex();  // frees the table, not the records
  HashIndex(const HashIndex&) = delete;
  HashIndex& operator=(const HashIndex&) = delete;

  static uint64_t Hash(std::string_view key);

  // Reader. REQUIRES: `guard` is live on this thread. The result stays valid
  // while the guard lives and kRecordSlot is not protected again.
  Record* Find(ReclaimDomain::Guard& guard, std::string_view key,
               uint64_t hash) const;

  // Prefetch hints for batched reads (Engine::MultiRead); they return
  // nothing and change nothing. REQUIRES: `guard` is live on this thread;
  // both protect the table at kHashTableSlot (as Find does).
  // Prefetches the slot where the probe for `hash` starts.
  void PrefetchSlot(ReclaimDomain::Guard& guard, uint64_t hash) const;
  // Prefetches the record named by the first slot of the probe whose tag is
  // `hash`'s. That record may be another key's, removed, or even freed: the
  // pointer is only a prefetch address, never dereferenced.
  void PrefetchRecord(ReclaimDomain::Guard& guard, uint64_t hash) const;

  // Writer only (no guard needed: the writer frees nothing it still uses).
  Record* FindForWriter(std::string_view key, uint64_t hash) const;
  // REQUIRES: no record with the same key is present.
  void Insert(Record* record);
  // Clears the record's slot; the caller retires the record afterwards.
  // REQUIRES: the record is in the index.
  void Remove(Record* record);

  // Any thread (Stats); exact in the writer.
  std::size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  struct Slot;
  struct Table;

  static uint64_t Tag(uint64_t hash) { return hash | 1; }  // never 0
  // Rebuilds the table without tombstones, sized for the live records.
  void Grow();

  std::atomic<Table*> table_;
  // Written by the writer only; relaxed: a statistic other threads may read.
  std::atomic<std::size_t> size_{0};
};

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_HASH_INDEX_H_
