#include "mvcc/internal/hash_index.h"

#include <algorithm>
#include <bit>
#include <new>

#include "absl/hash/hash.h"

namespace mvkv::mvcc_internal {

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

namespace {
constexpr std::size_t kInitialCapacity = 1024;
}  // namespace

HashIndex::HashIndex() : table_(Table::New(kInitialCapacity)) {}

HashIndex::~HashIndex() { Table::Delete(table_.load(std::memory_order_relaxed)); }

uint64_t HashIndex::Hash(std::string_view key) {
  return absl::Hash<std::string_view>{}(key);
}

Record* HashIndex::Find(ReclaimDomain::Guard& guard, std::string_view key,
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
