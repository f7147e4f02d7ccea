// reclaim/internal/node_access.h — the schemes' view of a Node's four words.
// Not part of the public API.
#ifndef MVKV_RECLAIM_INTERNAL_NODE_ACCESS_H_
#define MVKV_RECLAIM_INTERNAL_NODE_ACCESS_H_

#include <atomic>
#include <cstdint>

#include "reclaim/node.h"

namespace mvkv::reclaim::reclaim_internal {

// Crystalline-W uses the words as:
//   word 0: birth era while live; then the reservation a batch node is bound
//           for (during hand-over); then its link in a reservation list.
//           On a batch's reference node: the batch's minimum birth era.
//   word 1: 0 while live (or while the batch is still filling); on a batch
//           node the address of the batch's reference node; on the reference
//           node (first node | 1) once the batch has been offered.
//   word 2: reference node: the batch's reference count; other nodes: the
//           next node of the batch (towards the reference node).
//   word 3: the Deleter.
// EBR uses word 0 for the retire epoch, word 1 for the limbo link, word 3 for
// the Deleter.
class NodeAccess {
 public:
  static std::atomic<std::uintptr_t>& Word(Node* n, int i) noexcept { return n->word_[i]; }
  static const std::atomic<std::uintptr_t>& Word(const Node* n, int i) noexcept {
    return n->word_[i];
  }
  static void SetDeleter(Node* n, Deleter d) noexcept {
    n->word_[3].store(reinterpret_cast<std::uintptr_t>(d), std::memory_order_relaxed);
  }
  // Runs the deleter stored by SetDeleter; returns its byte count.
  static std::size_t Delete(Node* n) noexcept {
    Deleter d = reinterpret_cast<Deleter>(n->word_[3].load(std::memory_order_relaxed));
    return d(n);
  }
};

template <class T>
std::size_t DeleteAs(Node* n) noexcept {
  delete static_cast<T*>(n);
  return sizeof(T);
}

}  // namespace mvkv::reclaim::reclaim_internal

#endif  // MVKV_RECLAIM_INTERNAL_NODE_ACCESS_H_
