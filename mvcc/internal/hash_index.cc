#include "mvcc/internal/hash_index.h"

#include <algorithm>
#include <bit>

#include "absl/hash/hash.h"

namespace mvkv::mvcc_internal {

namespace {
constexpr std::size_t kInitialCapacity = 1024;
}  // namespace

HashIndex::HashIndex() : table_(Table::New(kInitialCapacity)) {}

HashIndex::~HashIndex() { Table::Delete(table_.load(std::memory_order_relaxed)); }

uint64_t HashIndex::Hash(std::string_view key) {
  return absl::Hash<std::string_view>{}(key);
}

void HashIndex::PrefetchSlot(ReclaimDomain::Guard& guard,
                             uint64_t hash) const {
  const Table* t = guard.Protect(table_, kHashTableSlot);
  __builtin_prefetch(&t->slots[hash & t->mask]);
}

void HashIndex::PrefetchRecord(ReclaimDomain::Guard& guard,
                               uint64_t hash) const {
  const Table* t = guard.Protect(table_, kHashTableSlot);
  const uint64_t tag = Tag(hash);
  // Bound: the capacity (Invariant 5).
  for (std::size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
    const Slot& s = t->slots[i];
    // Relaxed: the record pointer is only an address to prefetch.
    const uint64_t seen = s.tag.load(std::memory_order_relaxed);
    if (seen == 0) return;
    if (seen != tag) continue;
    const char* r = reinterpret_cast<const char*>(
        s.record.load(std::memory_order_relaxed));
    if (r == nullptr) continue;
    // The header, the tower and most keys, and for small values the
    // version inside the record (version.h, Invariant 4).
    __builtin_prefetch(r);
    __builtin_prefetch(r + 64);
    __builtin_prefetch(r + 128);
    return;
  }
}

Record* HashIndex::FindForWriter(std::string_view key, uint64_t hash) const {
  Table* t = table_.load(std::memory_order_relaxed);
  const uint64_t tag = Tag(hash);
  for (std::size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
    const Slot& s = t->slots[i];
    const uint64_t seen = s.tag.load(std::memory_order_relaxed);
    if (seen == 0) return nullptr;
    if (seen != tag) continue;
    Record* r = s.record.load(std::memory_order_relaxed);
    if (r != nullptr && r->hash == hash && r->key() == key) return r;
  }
}

void HashIndex::Insert(Record* record) {
  Table* t = table_.load(std::memory_order_relaxed);
  // Invariant 5: a new slot may be taken only below half the capacity.
  if (2 * (t->used + 1) > t->capacity()) {
    Grow();
    t = table_.load(std::memory_order_relaxed);
  }
  // (2) release: the record is initialised before readers can reach it;
  // pairs with the acquire and Protect loads in Find (1).
  t->Place(record, std::memory_order_release);
  size_.store(size() + 1, std::memory_order_relaxed);  // single writer
}

void HashIndex::Remove(Record* record) {
  Slot& s = table_.load(std::memory_order_relaxed)->SlotOf(record);
  // The tag stays: the slot becomes a tombstone (Invariant 1).
  s.record.store(nullptr, std::memory_order_release);
  size_.store(size() - 1, std::memory_order_relaxed);  // single writer
}

void HashIndex::Grow() {
  Table* old = table_.load(std::memory_order_relaxed);
  // Live records at most a quarter of the new table, so it absorbs as many
  // inserts again before the next rebuild; tombstones are dropped.
  const std::size_t capacity =
      std::max(kInitialCapacity, std::bit_ceil(4 * (size() + 1)));
  Table* t = Table::New(capacity);
  for (std::size_t i = 0; i <= old->mask; ++i) {
    Record* r = old->slots[i].record.load(std::memory_order_relaxed);
    if (r != nullptr) t->Place(r, std::memory_order_relaxed);
  }
  // (4) release: the whole new table is built before readers can see it.
  // A reader's check (3) after a retire's seq_cst fence that follows this
  // store sees it (Invariant 4).
  table_.store(t, std::memory_order_release);
  ReclaimDomain::Default().Retire(old, &Table::Delete, old->footprint());
}

}  // namespace mvkv::mvcc_internal
