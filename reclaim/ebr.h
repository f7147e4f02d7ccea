// reclaim/ebr.h — epoch-based reclamation (EBR, Fraser 2004), the baseline
// scheme behind the same interface as CrystallineDomain (see reclaim.h).
//
// A guard announces the global epoch; a retired object is freed two epoch
// advances later; the epoch advances only when every thread inside a guard
// has announced the current one. Fast and simple, but one thread stalled
// inside a guard stops all reclamation: the backlog grows without bound.
//
// Thread safety: as CrystallineDomain. Progress: Guard entry/exit, Protect
// and InitNode are wait-free; Retire, Flush and Barrier are wait-free in
// steps (bounded scans, a single CAS attempt to advance) but reclamation
// itself is blocking: it waits for every guard that was active to end.
#ifndef MVKV_RECLAIM_EBR_H_
#define MVKV_RECLAIM_EBR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "reclaim/internal/ebr_core.h"
#include "reclaim/internal/node_access.h"
#include "reclaim/internal/thread_registry.h"
#include "reclaim/internal/typed_nodes.h"
#include "reclaim/node.h"

namespace mvkv::reclaim {

class EbrDomain final : public reclaim_internal::TypedNodes<EbrDomain> {
 public:
  struct Options {
    int max_threads = 128;  // as CrystallineDomain::Options::max_threads
    int retire_freq = 32;   // try to advance the epoch and free every N retires
  };
  static constexpr int kMaxIndexes = 8;  // accepted and ignored

  static EbrDomain& Default();  // process-wide, never destroyed
  EbrDomain();
  explicit EbrDomain(const Options& options);
  // REQUIRES: no guard alive, no concurrent use. Frees everything retired.
  ~EbrDomain();
  EbrDomain(const EbrDomain&) = delete;
  EbrDomain& operator=(const EbrDomain&) = delete;

  void InitNode(Node*) noexcept {}  // EBR keeps no birth era
  using TypedNodes::New;
  // REQUIRES: as CrystallineDomain::Retire.
  void Retire(Node* n, Deleter d, std::size_t bytes) noexcept {
    core_->Retire(MySlot(), n, d, bytes);
  }
  using TypedNodes::Retire;  // Retire(T*)
  // Tries once to advance the epoch, then frees this thread's expired objects.
  void Flush() noexcept;
  // Up to three advance-and-free rounds over this thread's and exited
  // threads' objects. After all guards ended, unreclaimed reaches 0 as for
  // CrystallineDomain::Barrier.
  void Barrier() noexcept;
  Counters GetCounters() const noexcept { return core_->Sum(); }

  // RAII critical section; nests (inner guards are a counter increment).
  class Guard {
   public:
    [[gnu::always_inline]] explicit Guard(EbrDomain& d = Default()) noexcept
        : slot_(&d.core_->Slot(reclaim_internal::ThisThreadSlot(d.client_))) {
      if (slot_->depth++ == 0) {
        // (G1) seq_cst: the announcement precedes every protected load (G2);
        // pairs with the scan in TryAdvance (T1). Invariant 1.
        slot_->announce.store((d.core_->Epoch() << 1) | 1, std::memory_order_seq_cst);
      }
    }
    [[gnu::always_inline]] ~Guard() {
      // (G3) release: the guard's loads happen before a scan that sees 0.
      if (--slot_->depth == 0) slot_->announce.store(0, std::memory_order_release);
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

    // A plain load inside the epoch; `index` and `parent` are ignored.
    template <class T>
    T* Protect(const std::atomic<T*>& src, int /*index*/, const Node* = nullptr) noexcept {
      return src.load(std::memory_order_seq_cst);  // (G2)
    }
    template <class T = Node>
    std::uintptr_t Protect(const std::atomic<std::uintptr_t>& src, int /*index*/,
                           const Node* = nullptr) noexcept {
      return src.load(std::memory_order_seq_cst);  // (G2)
    }

   private:
    ebr_internal::EbrSlot* slot_;
  };

 private:
  ebr_internal::EbrSlot& MySlot() noexcept {
    return core_->Slot(reclaim_internal::ThisThreadSlot(client_));
  }

  std::shared_ptr<reclaim_internal::RegistryClient> client_;
  ebr_internal::Core* core_;
};

}  // namespace mvkv::reclaim

#endif  // MVKV_RECLAIM_EBR_H_
