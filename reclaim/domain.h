// reclaim/domain.h — the concept every reclamation scheme satisfies, so that
// structures and tests can be written once (template <Domain D>).
//
// Thread safety: whatever the scheme documents; all current schemes allow
// any thread to use a domain concurrently.
#ifndef MVKV_RECLAIM_DOMAIN_H_
#define MVKV_RECLAIM_DOMAIN_H_

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "reclaim/node.h"

namespace mvkv::reclaim {

template <class D>
concept Domain = requires(D& d, Node* n, Deleter del, std::size_t bytes,
                          const std::atomic<Node*>& src, const std::atomic<std::uintptr_t>& word) {
  { D::Default() } -> std::same_as<D&>;
  { D::kMaxIndexes } -> std::convertible_to<int>;
  d.InitNode(n);
  d.Retire(n, del, bytes);
  d.Flush();
  d.Barrier();
  { d.GetCounters() } -> std::same_as<Counters>;
  requires std::constructible_from<typename D::Guard, D&>;
  requires !std::movable<typename D::Guard>;
  requires requires(typename D::Guard& g) {
    { g.Protect(src, 0) } -> std::same_as<Node*>;
    { g.Protect(src, 0, n) } -> std::same_as<Node*>;
    { g.Protect(word, 0) } -> std::same_as<std::uintptr_t>;
  };
};

}  // namespace mvkv::reclaim

#endif  // MVKV_RECLAIM_DOMAIN_H_
