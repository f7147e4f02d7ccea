#include "mvcc/internal/hash_index.h"

#include <new>

#include "absl/hash/hash.h"

namespace mvkv::mvcc_internal {

struct HashIndex::Entry : reclaim::Node {
  std::atomic<Record*> record{nullptr};
  std::atomic<Entry*> next{nullptr};
};

struct HashIndex::Table : reclaim::Node {
  std::size_t mask = 0;
  std::atomic<Entry*> buckets[1];  // mask + 1 entries (the last member)

  static std::size_t BytesFor(std::size_t n) {
    return sizeof(Table) + (n - 1) * sizeof(std::atomic<Entry*>);
  }

  static Table* New(std::size_t buckets) {
    void* raw = ::operator new(BytesFor(buckets));
    auto* t = new (raw) Table();
    t->mask = buckets - 1;
    for (std::size_t i = 1; i < buckets; ++i) {
      new (&t->buckets[i]) std::atomic<Entry*>(nullptr);
    }
    ReclaimDomain::Default().InitNode(t);
    return t;
  }
  std::size_t footprint() const {
    return BytesFor(mask + 1);
  }
  static std::size_t Delete(reclaim::Node* node) noexcept {
    auto* t = static_cast<Table*>(node);
    const std::size_t bytes = t->footprint();
    t->~Table();
    ::operator delete(t);
    return bytes;
  }
};

namespace {

constexpr std::size_t kInitialBuckets = 1024;

template <class E>
std::size_t DeleteEntry(reclaim::Node* node) noexcept {
  delete static_cast<E*>(node);
  return sizeof(E);
}

}  // namespace

HashIndex::HashIndex() : table_(Table::New(kInitialBuckets)) {}

HashIndex::~HashIndex() {
  Table* t = table_.load(std::memory_order_relaxed);
  for (std::size_t b = 0; b <= t->mask; ++b) {
    Entry* e = t->buckets[b].load(std::memory_order_relaxed);
    while (e != nullptr) {
      Entry* next = e->next.load(std::memory_order_relaxed);
      delete e;
      e = next;
    }
  }
  Table::Delete(t);
}

uint64_t HashIndex::Hash(std::string_view key) {
  return absl::Hash<std::string_view>{}(key);
}

Record* HashIndex::Find(ReclaimDomain::Guard& guard, std::string_view key,
                        uint64_t hash) const {
  // (1) acquire loads pair with the writer's release stores (2)-(4).
  Table* t = guard.Protect(table_, kHashTableSlot);
  // Each link lives inside a reclaimable object: pass it as the parent, so
  // a slow-path helper reading the link on our behalf keeps it alive.
  Entry* e = guard.Protect(t->buckets[hash & t->mask], kHashEntrySlotA, t);
  int slot = kHashEntrySlotB;
  while (e != nullptr) {
    Record* r = guard.Protect(e->record, kRecordSlot, e);
    if (r->hash == hash && r->key() == key) return r;
    e = guard.Protect(e->next, slot, e);
    slot = slot == kHashEntrySlotA ? kHashEntrySlotB : kHashEntrySlotA;
  }
  return nullptr;
}

Record* HashIndex::FindForWriter(std::string_view key, uint64_t hash) const {
  Table* t = table_.load(std::memory_order_relaxed);
  for (Entry* e = t->buckets[hash & t->mask].load(std::memory_order_relaxed);
       e != nullptr; e = e->next.load(std::memory_order_relaxed)) {
    Record* r = e->record.load(std::memory_order_relaxed);
    if (r->hash == hash && r->key() == key) return r;
  }
  return nullptr;
}

void HashIndex::Insert(Record* record) {
  if (size() + 1 > (table_.load(std::memory_order_relaxed)->mask + 1)) Grow();
  Table* t = table_.load(std::memory_order_relaxed);
  auto* e = new Entry();
  ReclaimDomain::Default().InitNode(e);
  e->record.store(record, std::memory_order_relaxed);
  std::atomic<Entry*>& head = t->buckets[record->hash & t->mask];
  e->next.store(head.load(std::memory_order_relaxed),
                std::memory_order_relaxed);
  // (2) release: the entry and the record are initialised before readers
  // can reach them; pairs with the acquire in Find (1).
  head.store(e, std::memory_order_release);
  size_.store(size() + 1, std::memory_order_relaxed);  // single writer
}

void HashIndex::Remove(Record* record) {
  Table* t = table_.load(std::memory_order_relaxed);
  std::atomic<Entry*>* link = &t->buckets[record->hash & t->mask];
  for (Entry* e = link->load(std::memory_order_relaxed); e != nullptr;
       e = link->load(std::memory_order_relaxed)) {
    if (e->record.load(std::memory_order_relaxed) == record) {
      // (3) release: unlink; the entry keeps its own `next` (invariant 3).
      link->store(e->next.load(std::memory_order_relaxed),
                  std::memory_order_release);
      ReclaimDomain::Default().Retire(e, &DeleteEntry<Entry>, sizeof(Entry));
      size_.store(size() - 1, std::memory_order_relaxed);  // single writer
      return;
    }
    link = &e->next;
  }
}

void HashIndex::Grow() {
  Table* old = table_.load(std::memory_order_relaxed);
  Table* t = Table::New((old->mask + 1) * 2);
  for (std::size_t b = 0; b <= old->mask; ++b) {
    for (Entry* e = old->buckets[b].load(std::memory_order_relaxed);
         e != nullptr; e = e->next.load(std::memory_order_relaxed)) {
      Record* r = e->record.load(std::memory_order_relaxed);
      auto* copy = new Entry();
      ReclaimDomain::Default().InitNode(copy);
      copy->record.store(r, std::memory_order_relaxed);
      std::atomic<Entry*>& head = t->buckets[r->hash & t->mask];
      copy->next.store(head.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
      head.store(copy, std::memory_order_relaxed);
    }
  }
  // (4) release: the whole new table is built before readers can see it.
  table_.store(t, std::memory_order_release);
  for (std::size_t b = 0; b <= old->mask; ++b) {
    Entry* e = old->buckets[b].load(std::memory_order_relaxed);
    while (e != nullptr) {
      Entry* next = e->next.load(std::memory_order_relaxed);
      ReclaimDomain::Default().Retire(e, &DeleteEntry<Entry>, sizeof(Entry));
      e = next;
    }
  }
  ReclaimDomain::Default().Retire(old, &Table::Delete, old->footprint());
}

}  // namespace mvkv::mvcc_internal
