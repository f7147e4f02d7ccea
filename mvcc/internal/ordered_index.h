// A skip list of records in key order, for scans and range validation.
//
// Thread safety: single writer (the commit pipeline's install stage) calls
// Insert and Remove; readers iterate concurrently inside a reclaim guard
// without locks. Records are the skip-list nodes (their towers).
//
// Invariants:
//  1. A record is fully initialised, its tower links included, before the
//     release store that links it at level 0; higher levels are linked after,
//     bottom-up, so a reader that finds it at level i finds it at level 0.
//  2. Remove unlinks top-down and never changes where the removed record's
//     own links point. Keys inserted after the removal may be missed by a
//     reader that was on it; they were committed after the reader's snapshot
//     (see docs/ARCHITECTURE.md), so a snapshot scan cannot need them.
//  3. Remove first sets kRemovedMark on every link of the record (seq_cst),
//     then unlinks it. A removed record's successor may itself be removed
//     and freed later (it can be younger than the reader's reservations),
//     so a reader that loads a marked link does not follow it: it seeks
//     again from the head. An unmarked link was read while its owner was
//     still linked, so its target was reachable then and the reader's
//     reservation protects it.
#ifndef MVKV_MVCC_INTERNAL_ORDERED_INDEX_H_
#define MVKV_MVCC_INTERNAL_ORDERED_INDEX_H_

#include <atomic>
#include <cstdint>
#include <random>
#include <string_view>

#include "mvcc/internal/version.h"

namespace mvkv::mvcc_internal {

inline constexpr int kSkipSlotA = 6;
inline constexpr int kSkipSlotB = 7;

class OrderedIndex final {
 public:
  OrderedIndex();
  ~OrderedIndex();  // frees the head only
  OrderedIndex(const OrderedIndex&) = delete;
  OrderedIndex& operator=(const OrderedIndex&) = delete;

  // A height for a new record (writer only).
  int RandomHeight();

  // Reader cursor over records in key order.
  class Cursor {
   public:
    Cursor(const OrderedIndex& index, ReclaimDomain::Guard& guard)
        : index_(index), guard_(guard) {}
    // Positions at the first record with key >= target.
    void Seek(std::string_view target);
    bool Valid() const { return node_ != nullptr; }
    Record* record() const { return node_; }
    void Next();

   private:
    // Loads a link of `owner` (the head, or the record held at slot_) into
    // the other slot, never over the owner's own reservation.
    Record* Load(const Record* owner, const std::atomic<Record*>& link);
    // The record just loaded becomes the one held.
    void Advance() { slot_ = Spare(); }
    int Spare() const { return slot_ == kSkipSlotA ? kSkipSlotB : kSkipSlotA; }

    const OrderedIndex& index_;
    ReclaimDomain::Guard& guard_;
    Record* node_ = nullptr;
    int slot_ = kSkipSlotA;  // the slot protecting the record held
  };

  // The low bit of a removed record's links (Invariant 3).
  static constexpr std::uintptr_t kRemovedMark = 1;

  // Writer only: first record with key >= target, no guard.
  Record* SeekForWriter(std::string_view target) const;
  // Writer only: r's successor at `level`, without the mark.
  static Record* NextForWriter(Record* r, int level = 0) {
    return reinterpret_cast<Record*>(
        reinterpret_cast<std::uintptr_t>(r->next[level].load(std::memory_order_relaxed)) &
        ~kRemovedMark);
  }

  // REQUIRES: record->height >= 1 and its key is not present.
  void Insert(Record* record);
  void Remove(Record* record);

 private:
  // Fills prev[i] with the last node at level i whose key < target.
  void FindPredecessors(std::string_view target, Record** prev) const;

  Record* head_;
  std::minstd_rand rng_{0x5eed};
};

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_ORDERED_INDEX_H_
