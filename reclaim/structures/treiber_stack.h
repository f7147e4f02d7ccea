// reclaim/structures/treiber_stack.h — Treiber's lock-free stack, generic
// over the reclamation scheme (template <Domain D>).
//
// Thread safety: Push and Pop may run concurrently from any threads.
// Progress: lock-free (a CAS retry loop per operation; some operation always
// succeeds). Reclamation makes Pop's read of the top node safe and rules
// out ABA on the top pointer (a protected node cannot be freed and reused).
#ifndef MVKV_RECLAIM_STRUCTURES_TREIBER_STACK_H_
#define MVKV_RECLAIM_STRUCTURES_TREIBER_STACK_H_

#include <atomic>
#include <optional>
#include <utility>

#include "reclaim/domain.h"
#include "reclaim/node.h"

namespace mvkv::reclaim {

template <Domain D, class T>
class TreiberStack {
 public:
  explicit TreiberStack(D& domain = D::Default()) : domain_(domain) {}
  // REQUIRES: no concurrent operations. Frees the remaining items directly.
  ~TreiberStack() {
    Item* n = top_.load(std::memory_order_relaxed);
    while (n != nullptr) {
      Item* next = n->next;
      delete n;
      n = next;
    }
  }
  TreiberStack(const TreiberStack&) = delete;
  TreiberStack& operator=(const TreiberStack&) = delete;

  void Push(T value) {
    Item* n = domain_.template New<Item>(std::move(value));
    Item* top = top_.load(std::memory_order_relaxed);
    do {
      n->next = top;
      // (1) release: publishes the item's contents; pairs with (2).
    } while (!top_.compare_exchange_weak(top, n, std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
  }

  std::optional<T> Pop() {
    typename D::Guard guard(domain_);
    while (true) {
      // (2) Protect's load (seq_cst) pairs with (1).
      Item* top = guard.Protect(top_, 0);
      if (top == nullptr) return std::nullopt;
      Item* next = top->next;  // safe: `top` is protected
      if (top_.compare_exchange_strong(top, next, std::memory_order_seq_cst,
                                       std::memory_order_relaxed)) {
        T value = std::move(top->value);
        domain_.Retire(top);
        return value;
      }
    }
  }

 private:
  struct Item : Node {
    explicit Item(T v) : value(std::move(v)) {}
    T value;
    Item* next = nullptr;  // written before publication, then immutable
  };

  D& domain_;
  std::atomic<Item*> top_{nullptr};
};

}  // namespace mvkv::reclaim

#endif  // MVKV_RECLAIM_STRUCTURES_TREIBER_STACK_H_
