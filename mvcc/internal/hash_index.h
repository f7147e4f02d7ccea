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
#include <new>
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
  // Inline (defined below): it is every point read's hot path, and inlined
  // into a caller that owns the guard the guard's state stays in registers.
  [[gnu::always_inline]] Record* Find(ReclaimDomain::Guard& guard, std::string_view key,
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

// The layout readers walk, here so that Find can be inlined.
// 16 bytes, so a slot never straddles a cache line.
struct alignas(16) HashIndex::Slot {
  std::atomic<uint64_t> tag{0};          // Tag(hash) of the last record stored
  std::atomic<Record*> record{nullptr};  // null: empty or removed
};

struct HashIndex::Table : reclaim::Node {
  std::size_t mask = 0;
  std::size_t used = 0;  // writer-only: slots whose tag is not 0
  Slot slots[1];         // mask + 1 slots (the last member)

  std::size_t capacity() const { return mask + 1; }

  static std::size_t BytesFor(std::size_t n) {
    return sizeof(Table) + (n - 1) * sizeof(Slot);
  }

  static Table* New(std::size_t capacity) {
    void* raw = ::operator new(BytesFor(capacity), std::align_val_t{alignof(Table)});
    auto* t = new (raw) Table();
    t->mask = capacity - 1;
    for (std::size_t i = 1; i < capacity; ++i) new (&t->slots[i]) Slot();
    ReclaimDomain::Default().InitNode(t);
    return t;
  }
  std::size_t footprint() const { return BytesFor(capacity()); }
  static std::size_t Delete(reclaim::Node* node) noexcept {
    auto* t = static_cast<Table*>(node);
    const std::size_t bytes = t->footprint();
    t->~Table();
    ::operator delete(t, std::align_val_t{alignof(Table)});
    return bytes;
  }

  // The slot holding `record` in a table only the writer changes.
  Slot& SlotOf(const Record* record) {
    // Bound: the table's capacity (Invariant 5: the record is present).
    for (std::size_t i = record->hash & mask;; i = (i + 1) & mask) {
      if (slots[i].record.load(std::memory_order_relaxed) == record) return slots[i];
    }
  }

  // Stores `record` in the first empty or removed slot of its probe
  // sequence (Invariant 2: tag, then record with release).
  void Place(Record* record, std::memory_order order) {
    // Bound: the capacity; Invariant 5 guarantees an empty slot.
    for (std::size_t i = record->hash & mask;; i = (i + 1) & mask) {
      Slot& s = slots[i];
      if (s.record.load(std::memory_order_relaxed) != nullptr) continue;
      if (s.tag.load(std::memory_order_relaxed) == 0) ++used;
      s.tag.store(Tag(record->hash), std::memory_order_relaxed);
      s.record.store(record, order);
      return;
    }
  }
};

inline Record* HashIndex::Find(ReclaimDomain::Guard& guard, std::string_view key,
                               uint64_t hash) const {
  const uint64_t tag = Tag(hash);
  // Bound: one restart per table replacement seen (lock-free, not wait-free:
  // the writer only replaces a table when it doubles or drops tombstones).
  while (true) {
    Table* t = guard.Protect(table_, kHashTableSlot);
    bool replaced = false;
    // Bound: the capacity; Invariant 5 puts an empty slot on every probe.
    for (std::size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
      Slot& s = t->slots[i];
      // (1) acquire: pairs with the writer's release stores (2).
      const uint64_t seen = s.tag.load(std::memory_order_acquire);
      if (seen == 0) break;
      if (seen != tag) continue;
      // The slot lives inside the table: name it as the parent, so a
      // slow-path helper reading it on our behalf keeps the table alive.
      Record* r = guard.Protect(s.record, kRecordSlot, t);
      if (r == nullptr) continue;
      // (3) Invariant 4: only a record loaded from the current table was
      // reachable when loaded. seq_cst: ordered after the Protect load; a
      // replacement that happened before a retire's fence is seen here.
      if (table_.load(std::memory_order_seq_cst) != t) {
        replaced = true;
        break;
      }
      if (r->hash == hash && r->key() == key) return r;
    }
    if (!replaced) return nullptr;
  }
}

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_HASH_INDEX_H_
