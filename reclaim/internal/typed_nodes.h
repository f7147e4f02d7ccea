// reclaim/internal/typed_nodes.h — the typed New<T> / Retire(T*) forms every
// domain offers on top of its InitNode and Retire(Node*, Deleter, bytes).
// Not part of the public API.
#ifndef MVKV_RECLAIM_INTERNAL_TYPED_NODES_H_
#define MVKV_RECLAIM_INTERNAL_TYPED_NODES_H_

#include <utility>

#include "reclaim/internal/node_access.h"

namespace mvkv::reclaim::reclaim_internal {

// CRTP base: `class D : public TypedNodes<D>` with D::InitNode(Node*) and
// D::Retire(Node*, Deleter, std::size_t); D adds `using TypedNodes::Retire;`
// (its own Retire hides the template otherwise). Empty; every call inlines
// to D's own.
template <class D>
class TypedNodes {
 public:
  // `new T(args...)` followed by InitNode. T must derive from Node (first base).
  template <class T, class... Args>
  T* New(Args&&... args) {
    T* p = new T(std::forward<Args>(args)...);
    static_cast<D*>(this)->InitNode(p);
    return p;
  }
  // Retire with `delete p` as deleter and sizeof(T) bytes.
  template <class T>
  void Retire(T* p) noexcept {
    static_cast<D*>(this)->Retire(p, &DeleteAs<T>, sizeof(T));
  }
};

}  // namespace mvkv::reclaim::reclaim_internal

#endif  // MVKV_RECLAIM_INTERNAL_TYPED_NODES_H_
