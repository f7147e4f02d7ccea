#include "mvcc/internal/ordered_index.h"

namespace mvkv::mvcc_internal {

OrderedIndex::OrderedIndex()
    : head_(NewRecord("", 0, Record::kMaxHeight)) {}

OrderedIndex::~OrderedIndex() { DeleteRecord(head_); }

int OrderedIndex::RandomHeight() {
  int height = 1;
  while (height < Record::kMaxHeight && (rng_() & 3) == 0) ++height;
  return height;
}

Record* OrderedIndex::Cursor::Load(const Record* owner,
                                   const std::atomic<Record*>& link) {
  // (1) acquire via Protect: pairs with the release stores (2) and (3).
  // The head is never freed (a root); any other owner is a protected record.
  return guard_.Protect(link, Spare(),
                        owner == index_.head_ ? nullptr : owner);
}

void OrderedIndex::Cursor::Seek(std::string_view target) {
  Record* x = index_.head_;
  for (int level = Record::kMaxHeight - 1; level >= 0; --level) {
    while (true) {
      Record* next = Load(x, x->next[level]);
      if (next == nullptr || next->key() >= target) break;
      x = next;
      Advance();
    }
  }
  node_ = Load(x, x->next[0]);
  Advance();
}

void OrderedIndex::Cursor::Next() {
  node_ = Load(node_, node_->next[0]);
  Advance();
}

void OrderedIndex::FindPredecessors(std::string_view target,
                                    Record** prev) const {
  Record* x = head_;
  for (int level = Record::kMaxHeight - 1; level >= 0; --level) {
    while (true) {
      Record* next = x->next[level].load(std::memory_order_relaxed);
      if (next == nullptr || next->key() >= target) break;
      x = next;
    }
    prev[level] = x;
  }
}

Record* OrderedIndex::SeekForWriter(std::string_view target) const {
  Record* prev[Record::kMaxHeight];
  FindPredecessors(target, prev);
  return prev[0]->next[0].load(std::memory_order_relaxed);
}

void OrderedIndex::Insert(Record* record) {
  Record* prev[Record::kMaxHeight];
  FindPredecessors(record->key(), prev);
  for (int i = 0; i < record->height; ++i) {
    record->next[i].store(prev[i]->next[i].load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
    // (2) release: the record (and its lower links) are initialised before
    // it becomes reachable at level i (invariant 1).
    prev[i]->next[i].store(record, std::memory_order_release);
  }
}

void OrderedIndex::Remove(Record* record) {
  Record* prev[Record::kMaxHeight];
  FindPredecessors(record->key(), prev);
  for (int i = record->height - 1; i >= 0; --i) {
    if (prev[i]->next[i].load(std::memory_order_relaxed) != record) continue;
    // (3) release: unlink top-down, leaving record->next intact (invariant 2).
    prev[i]->next[i].store(record->next[i].load(std::memory_order_relaxed),
                           std::memory_order_release);
  }
}

}  // namespace mvkv::mvcc_internal
