// reclaim/structures/harris_michael_list.h — the Harris–Michael lock-free
// sorted linked list (a set of keys), generic over the reclamation scheme.
// Michael's variant (PODC 2002 / SPAA 2002): a removed node is first marked
// (low bit of its `next`), then unlinked by whichever thread sees the mark,
// and retired by the thread whose CAS unlinked it.
//
// Thread safety: Insert, Remove and Contains may run concurrently from any
// threads. Progress: lock-free. Each operation uses reservation indexes
// 0..3 of its guard (rotating prev/curr/next and a spare) and passes the node
// that holds each link as `parent` (needed by Crystalline-W's helped slow
// path). Find is always inlined: it is the whole hot path of every operation,
// and inlined into its caller the guard's state stays in registers.
//
// Invariants:
//  1. Keys strictly increase along unmarked links from the head.
//  2. A marked node's `next` never changes again; it is unlinked once.
//  3. While traversing, prev (or the head), curr and next are protected at
//     three distinct indexes; an index is reused only for a node that is no
//     longer needed.
#ifndef MVKV_RECLAIM_STRUCTURES_HARRIS_MICHAEL_LIST_H_
#define MVKV_RECLAIM_STRUCTURES_HARRIS_MICHAEL_LIST_H_

#include <atomic>
#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

#include "reclaim/domain.h"
#include "reclaim/node.h"

namespace mvkv::reclaim {

template <Domain D>
class HarrisMichaelList {
 public:
  using Key = std::uint64_t;

  explicit HarrisMichaelList(D& domain = D::Default()) : domain_(domain) {}
  // REQUIRES: no concurrent operations. Frees the remaining nodes directly.
  ~HarrisMichaelList() {
    LNode* n = head_.load(std::memory_order_relaxed);
    while (n != nullptr) {
      LNode* next = Unmarked(n->next.load(std::memory_order_relaxed));
      delete n;
      n = next;
    }
  }
  HarrisMichaelList(const HarrisMichaelList&) = delete;
  HarrisMichaelList& operator=(const HarrisMichaelList&) = delete;

  // Returns false if `key` was present.
  bool Insert(Key key) {
    typename D::Guard guard(domain_);
    LNode* fresh = nullptr;
    while (true) {
      Position pos;
      if (Find(guard, key, pos)) {
        if (fresh != nullptr) delete fresh;  // never published
        return false;
      }
      if (fresh == nullptr) fresh = domain_.template New<LNode>(key);
      fresh->next.store(pos.curr, std::memory_order_relaxed);
      LNode* expect = pos.curr;
      // (1) seq_cst: publishes `fresh`; pairs with the Protect loads.
      if (pos.prev->compare_exchange_strong(expect, fresh, std::memory_order_seq_cst)) return true;
    }
  }

  // Returns false if `key` was absent.
  bool Remove(Key key) {
    typename D::Guard guard(domain_);
    while (true) {
      Position pos;
      if (!Find(guard, key, pos)) return false;
      LNode* next = pos.next;
      // (2) mark curr's link: the logical removal (Invariant 2).
      if (!pos.curr->next.compare_exchange_strong(next, Marked(next), std::memory_order_seq_cst)) {
        continue;
      }
      LNode* expect = pos.curr;
      if (pos.prev->compare_exchange_strong(expect, next, std::memory_order_seq_cst)) {
        domain_.Retire(pos.curr);
      } else {
        Find(guard, key, pos);  // someone else unlinks (and retires) it
      }
      return true;
    }
  }

  bool Contains(Key key) {
    typename D::Guard guard(domain_);
    Position pos;
    return Find(guard, key, pos);
  }

  // Keys in order. REQUIRES: no concurrent operations (tests only).
  std::vector<Key> Snapshot() const {
    std::vector<Key> keys;
    for (LNode* n = head_.load(); n != nullptr; n = Unmarked(n->next.load())) keys.push_back(n->key);
    return keys;
  }

 private:
  struct LNode : Node {
    explicit LNode(Key k) : key(k) {}
    const Key key;
    std::atomic<LNode*> next{nullptr};  // low bit: this node is removed
  };
  struct Position {
    std::atomic<LNode*>* prev = nullptr;
    LNode* curr = nullptr;
    LNode* next = nullptr;
  };

  static bool IsMarked(LNode* p) { return (reinterpret_cast<std::uintptr_t>(p) & 1) != 0; }
  static LNode* Marked(LNode* p) {
    return reinterpret_cast<LNode*>(reinterpret_cast<std::uintptr_t>(p) | 1);
  }
  static LNode* Unmarked(LNode* p) {
    return reinterpret_cast<LNode*>(reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{1});
  }

  // Positions `pos` at the first node with key >= `key` (curr, possibly
  // null), unlinking marked nodes on the way. Returns curr->key == key.
  [[gnu::always_inline]] bool Find(typename D::Guard& guard, Key key, Position& pos) {
  retry:
    std::atomic<LNode*>* prev = &head_;
    const Node* prev_node = nullptr;  // the node holding *prev (null: the head)
    // Four reservation indexes in a ring of 2-bit fields, from the low
    // bits: next, spare, prev, curr. Moving one node ahead is a rotation by
    // one field: next becomes curr, spare becomes next, prev becomes spare
    // (no longer needed) and curr becomes prev: one rotate instruction, where
    // three index variables cost registers in the hot loop.
    std::uint8_t ring = 1 | 2 << 2 | 3 << 4 | 0 << 6;
    LNode* curr = guard.Protect(*prev, ring >> 6, prev_node);
    // Bound: none (lock-free): each retry means another thread progressed.
    while (true) {
      if (curr == nullptr) {
        pos = {prev, nullptr, nullptr};
        return false;
      }
      LNode* next = guard.Protect(curr->next, ring & 3, curr);
      // Still linked from prev? Otherwise curr may be unlinked: restart.
      if (prev->load(std::memory_order_seq_cst) != curr) goto retry;
      if (IsMarked(next)) {
        LNode* expect = curr;
        if (!prev->compare_exchange_strong(expect, Unmarked(next), std::memory_order_seq_cst)) {
          goto retry;
        }
        domain_.Retire(curr);
        curr = Unmarked(next);
        // curr now sits at next's index: swap the two fields.
        ring = static_cast<std::uint8_t>((ring & 0x3c) | (ring & 3) << 6 | ring >> 6);
        continue;
      }
      if (curr->key >= key) {
        pos = {prev, curr, next};
        return curr->key == key;
      }
      prev = &curr->next;
      prev_node = curr;
      ring = std::rotr(ring, 2);
      curr = next;
    }
  }

  D& domain_;
  std::atomic<LNode*> head_{nullptr};
};

}  // namespace mvkv::reclaim

#endif  // MVKV_RECLAIM_STRUCTURES_HARRIS_MICHAEL_LIST_H_
