// reclaim/crystalline.h — Crystalline-W: wait-free memory reclamation with a
// bounded backlog (Nikolaev & Ravindran, DISC 2021 / PLDI 2024). The design,
// the memory bound and when not to use it are in reclaim/reclaim.h.
//
// Thread safety: a CrystallineDomain is shared by any number of threads (up to
// Options::max_threads at a time). A Guard belongs to the thread that created
// it and must be destroyed on that thread. Retire, New, InitNode, Flush,
// Barrier and GetCounters may be called from any thread, inside or outside a
// guard.
#ifndef MVKV_RECLAIM_CRYSTALLINE_H_
#define MVKV_RECLAIM_CRYSTALLINE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "reclaim/internal/crystalline_core.h"
#include "reclaim/internal/node_access.h"
#include "reclaim/internal/thread_registry.h"
#include "reclaim/internal/typed_nodes.h"
#include "reclaim/node.h"

namespace mvkv::reclaim {

class CrystallineDomain final
    : public reclaim_internal::TypedNodes<CrystallineDomain> {
 public:
  struct Options {
    // Threads that can hold a slot at the same time. Registering one more
    // aborts the process with a message (it never waits for a slot).
    int max_threads = 128;
    // A thread offers its batch of retired objects every `retire_freq`
    // retirements (a batch needs more nodes than there are reservations that
    // can see it, so it may keep filling past this size).
    int retire_freq = 32;
    // A thread advances the global era every `era_freq` x (registered
    // threads) of its own allocations (InitNode/New).
    int era_freq = 32;
    // Fast-path attempts of Protect before the helped slow path. Tests lower
    // it (0 forces the slow path every time); the paper uses 16.
    int fast_attempts = 16;
  };

  static constexpr int kMaxIndexes = crystalline_internal::kUserIndexes;

  // The process-wide domain. Never destroyed.
  static CrystallineDomain& Default();

  CrystallineDomain();
  explicit CrystallineDomain(const Options& options);
  // REQUIRES: no guard of this domain is alive and no thread uses it
  // concurrently. Frees every object still retired. Threads that used the
  // domain may outlive it (their slots are released when they exit).
  ~CrystallineDomain();
  CrystallineDomain(const CrystallineDomain&) = delete;
  CrystallineDomain& operator=(const CrystallineDomain&) = delete;

  // Stamps `n` with the current era (its birth era). Every `era_freq` x
  // threads calls on a thread, first helps every open slow-path Protect, then
  // advances the era. Wait-free (bounded by threads x indexes x helping bound).
  // REQUIRES: called once, before `n` is published to other threads.
  void InitNode(Node* n) noexcept {
    core_->InitNode(MySlot(), n);
  }

  // New<T>(args...): `new T(args...)` followed by InitNode (TypedNodes).
  using TypedNodes::New;

  // Hands `n` to the domain: `d(n)` runs once no guard can still use it.
  // `bytes` is added to Counters::retired_bytes. Wait-free: O(1), plus every
  // retire_freq calls one offer of the batch (one pass over the reservations
  // of max_threads slots).
  // REQUIRES: `n` was initialized by InitNode/New of this domain, is
  // unreachable for readers that start after this call, and is retired once.
  void Retire(Node* n, Deleter d, std::size_t bytes) noexcept {
    core_->Retire(MySlot(), n, d, bytes);
  }
  // Retire(T* p): with `delete p` as deleter and sizeof(T) bytes (TypedNodes).
  using TypedNodes::Retire;

  // Offers this thread's partial batch now. Wait-free (one offer). A batch
  // smaller than the number of reservations that can see it stays pending.
  void Flush() noexcept;

  // Best effort "reclaim everything reclaimable now": Flush; outside a
  // guard, drop what this thread's idle reservations still hold; then adopt
  // the slots of exited threads and offer their pending batches. Wait-free
  // (one pass over the slots). After every guard has ended and each thread
  // that used the domain has called Barrier or exited (then one call from
  // any thread), Counters::unreclaimed is 0. (A thread that only read may
  // hold a node a retirer pushed while its last guard was ending, until its
  // next guard, Barrier or exit.)
  void Barrier() noexcept;

  // Sums the per-thread counters. Wait-free, O(max_threads).
  Counters GetCounters() const noexcept { return core_->Sum(); }

  // RAII critical section. Objects loaded through Protect stay allocated
  // while the guard lives (see Protect for the index rule). Guards nest on a
  // thread: an inner guard shares the slot of the outer one and is cheap;
  // reservations end when the outermost guard ends. Caveat: nested guards
  // share the reservation indexes, so an inner guard that protects index i
  // replaces the outer guard's reservation at i; give nested users disjoint
  // indexes. Not movable. Constructor and destructor are wait-free (the
  // first guard of a thread in a domain also registers it: one bounded pass).
  class Guard {
   public:
    [[gnu::always_inline]] explicit Guard(CrystallineDomain& d = Default()) noexcept
        : core_(d.core_),
          slot_(&core_->Slot(reclaim_internal::ThisThreadSlot(d.client_))) {
      ++slot_->depth;
    }
    [[gnu::always_inline]] ~Guard() {
      if (--slot_->depth != 0) return;
      const std::uint32_t mask = slot_->active_mask;
      if (mask == crystalline_internal::kBaseBit) [[likely]] {
        // Common case (the era did not move): release the base reservation.
        slot_->active_mask = 0;
        crystalline_internal::Reservation& b = slot_->res[crystalline_internal::kBaseIndex];
        // (L1) release: the guard's loads happen before any retirer that
        // reads era 0 (its seq_cst load) and skips this reservation.
        b.era.store(0, std::memory_order_release);
        if (b.list.load(std::memory_order_acquire) != 0) core_->DetachAndDrop(*slot_, b);
        return;
      }
      if (mask != 0) core_->Leave(*slot_);
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

    // Loads `src` and reserves the result at `index` (0 <= index < kMaxIndexes):
    // the object it points to (ignoring up to 2 low mark bits) is not freed
    // while this guard lives, until `index` is protected again. Returns the
    // raw loaded value, mark bits included. Wait-free: at most
    // Options::fast_attempts tries of (load, compare era), then the slow path
    // whose loops are bounded by 2 x max_threads + 16 (helpers finish it).
    //
    // `parent`: if `src` lives inside a reclaimable object, pass that object
    // (which this guard must already protect at another index): a helper that
    // reads `src` on this thread's behalf keeps `parent` alive while it does.
    // With parent == nullptr, `src` must not be inside memory that can be
    // freed while this call runs (a root, or an object kept alive otherwise).
    // REQUIRES: the pointee, if any, derives from Node (first base) and was
    // initialized by this domain; nothing else may be stored in `src`.
    template <class T>
    [[gnu::always_inline]] T* Protect(const std::atomic<T*>& src, int index,
                                      const Node* parent = nullptr) noexcept {
      const std::uintptr_t v =
          ProtectWith([&src] { return crystalline_internal::PointerSource<T>::Load(&src); }, &src,
                      &crystalline_internal::PointerSource<T>::kOps, index, parent);
      return reinterpret_cast<T*>(v);
    }

    // Same for a tagged word holding a `T*` plus up to 2 low mark bits.
    template <class T = Node>
    [[gnu::always_inline]] std::uintptr_t Protect(const std::atomic<std::uintptr_t>& src,
                                                  int index,
                                                  const Node* parent = nullptr) noexcept {
      return ProtectWith([&src] { return crystalline_internal::WordSource<T>::Load(&src); }, &src,
                         &crystalline_internal::WordSource<T>::kOps, index, parent);
    }

   private:
    // The inlined part is only the common case: this guard knows the base
    // reservation is active (base_era_ != 0) and the era has not moved since
    // it was taken. Guard-local state is read before the seq_cst load so the
    // compiler can keep it in registers across it.
    template <class LoadFn>
    [[gnu::always_inline]] std::uintptr_t ProtectWith(LoadFn load, const void* src,
                                                      const crystalline_internal::SourceOps* ops,
                                                      int index, const Node* parent) noexcept {
      crystalline_internal::Core* const core = core_;
      std::uint64_t base = base_era_;
      if (base == 0) [[unlikely]] {
        // First Protect of this guard: activate the base (or adopt the one an
        // enclosing or inner guard activated). kNoEra with fast_attempts == 0
        // (tests): the base is never used, every Protect takes the slow path.
        base = base_era_ = core->EnterBase(*slot_);
      }
      // Eras start at 1: this lets the compiler drop the test above once
      // the first Protect of a loop has run.
      if (base == 0) __builtin_unreachable();
      // (P1) seq_cst load of the source, after the publication of the base
      // era (A1): Invariant 3; pairs with the retirer's seq_cst fence before
      // it scans reservations (O1 in crystalline_batch.cc).
      const std::uintptr_t v = load();
      // (P2) the era after the load: equal means `v` was born no later and
      // the base reservation covers it until the guard ends.
      if (core->Era() == base) [[likely]] return v;
      return core->ProtectMoved(*slot_, index, src, ops, parent);
    }

    crystalline_internal::Core* core_;
    crystalline_internal::ThreadSlot* slot_;
    // The era of the slot's base reservation once this guard's first Protect
    // saw it active (0 before). The base lasts until the outermost guard
    // ends, so the copy stays valid for this guard's lifetime.
    std::uint64_t base_era_ = 0;
  };

 private:
  crystalline_internal::ThreadSlot& MySlot() noexcept {
    return core_->Slot(reclaim_internal::ThisThreadSlot(client_));
  }

  std::shared_ptr<reclaim_internal::RegistryClient> client_;
  crystalline_internal::Core* core_;  // the object client_ owns
};

}  // namespace mvkv::reclaim

#endif  // MVKV_RECLAIM_CRYSTALLINE_H_
