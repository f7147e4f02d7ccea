#include "mvcc/internal/ordered_index.h"

#include <cstdint>
#include <string>

namespace mvkv::mvcc_internal {

OrderedIndex::OrderedIndex()
    : head_(NewRecord("", 0, Record::kMaxHeight)) {}

OrderedIndex::~OrderedIndex() { DeleteRecord(head_); }

int OrderedIndex::RandomHeight() {
  int height = 1;
  while (height < Record::kMaxHeight && (rng_() & 3) == 0) ++height;
  return height;
}

namespace {
bool IsMarked(const Record* p) {
  return (reinterpret_cast<std::uintptr_t>(p) & OrderedIndex::kRemovedMark) != 0;
}
}  // namespace

Record* OrderedIndex::Cursor::Load(const Record* owner,
                                   const std::atomic<Record*>& link) {
  // (1) acquire via Protect: pairs with the release stores (2) and (3).
  // The head is never freed (a root); any other owner is a protected record.
  return guard_.Protect(link, Spare(),
                        owner == index_.head_ ? nullptr : owner);
}

void OrderedIndex::Cursor::Seek(std::string_view target) {
  // Bound: one restart per removal that overlapped the walk (lock-free).
restart:
  Record* x = index_.head_;
  for (int level = Record::kMaxHeight - 1; level >= 0; --level) {
    while (true) {
      Record* next = Load(x, x->next[level]);
      // Invariant 3: x was removed; its links may name freed records.
      if (IsMarked(next)) goto restart;
      if (next == nullptr || next->key() >= target) break;
      x = next;
      Advance();
    }
  }
  Record* first = Load(x, x->next[0]);
  if (IsMarked(first)) goto restart;
  node_ = first;
  Advance();
}

void OrderedIndex::Cursor::Next() {
  Record* next = Load(node_, node_->next[0]);
  if (IsMarked(next)) {
    // Invariant 3: the record held was removed. Continue after its key
    // from the head (node_ stays protected while the key is copied).
    std::string after(node_->key());
    after.push_back('\0');  // the smallest key greater than node_'s
    Seek(after);
    return;
  }
  node_ = next;
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
  // (4) seq_cst: mark every link before unlinking (Invariant 3). A reader
  // whose seq_cst load of a link finds no mark read it before this store,
  // while the record was still linked, so what it read was reachable then.
  for (int i = 0; i < record->height; ++i) {
    Record* next = record->next[i].load(std::memory_order_relaxed);
    record->next[i].store(reinterpret_cast<Record*>(
                              reinterpret_cast<std::uintptr_t>(next) | kRemovedMark),
                          std::memory_order_seq_cst);
  }
  for (int i = record->height - 1; i >= 0; --i) {
    if (prev[i]->next[i].load(std::memory_order_relaxed) != record) continue;
    // (3) release: unlink top-down; the record keeps its (marked) links.
    prev[i]->next[i].store(NextForWriter(record, i), std::memory_order_release);
  }
}

}  // namespace mvkv::mvcc_internal
