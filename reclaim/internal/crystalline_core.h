// reclaim/internal/crystalline_core.h — Crystalline-W's shared state: the era,
// the per-thread slots and their reservations. Not part of the public API;
// crystalline.h inlines the guard's fast path against it.
//
// Thread safety: a ThreadSlot's owner-private fields are touched only by the
// thread that claimed the slot (or, after it released the slot, by a thread
// that claimed it again; SlotClaims' acquire/release orders the hand-over).
// The shared fields are atomics, with the protocol below.
//
// Words of a Reservation (one per reservation index of a slot):
//   era     the era this index reserves; 0 while the index is outside any
//           guard (inactive). Retirers look only at active reservations.
//   list    head of the list of batch nodes handed to the index (0 = empty),
//           or a token (reference node | kTokenBit) standing for one
//           reference. A retirer racing with the end of a guard may leave a
//           node on an inactive list ("stale"); the retirer takes it back
//           if it is still on top, else the owner drops it when the index is
//           next activated, at its Barrier, or when the thread exits.
//   round   nonzero while the owner is in the slow path for this index.
//   result  (16 bytes, only via dcas.h) (kPending, round) while a slow-path
//           request is open, then (value, era) installed by exactly one of the
//           owner and its helpers.
//   request src / ops / parent / parent_birth of the open request.
//   handoff a reference (on a reference node) a helper left for the owner.
//
// Invariants:
//  1. A batch's reference count = bias (until the retirer finishes offering it)
//     + one per node of the batch sitting in some reservation list + one per
//     token or handoff or helper-held parent reference naming it. The thread
//     that brings it to 0 frees the whole batch, once.
//  2. A batch is inserted only into a reservation that is active (era != 0)
//     and whose era (or open slow-path result era) is >= the batch's minimum
//     birth era.
//     A reservation with a smaller era never receives it: that is the memory
//     bound (a stalled reader pins only batches born no later than its era).
//  3. A value returned by Protect at index i was loaded while the global era
//     equalled an era that index i (or the guard's base reservation, which
//     lasts until the guard ends) published before the load, so any
//     retirement of it scans that reservation after the publication (2).
//  4. An index's list is detached (exchange) before its era changes, when
//     its guard ends (if non-empty after era := 0) and when it is activated
//     again; detached lists drop their references (Drop). A guard's entry is
//     one seq_cst store of the era, its exit one release store of 0.
//  5. The global era moves only in InitNode, and only after the advancing
//     thread helped every open slow-path request it sees: while a request is
//     open the era moves at most (threads - 1) more times, which bounds every
//     loop of the slow path and of helping (kSlowPathBound).
//  6. Every 16-byte word is accessed only with cmpxchg16b (dcas.h).
#ifndef MVKV_RECLAIM_INTERNAL_CRYSTALLINE_CORE_H_
#define MVKV_RECLAIM_INTERNAL_CRYSTALLINE_CORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "reclaim/internal/dcas.h"
#include "reclaim/internal/node_access.h"
#include "reclaim/internal/thread_registry.h"
#include "reclaim/node.h"

namespace mvkv::reclaim::crystalline_internal {

using reclaim_internal::kCacheLine;
using reclaim_internal::Word128;

inline constexpr int kUserIndexes = 8;            // CrystallineDomain::kMaxIndexes
inline constexpr int kParentIndex = kUserIndexes;  // a helper's hold on a helpee's parent
inline constexpr int kHelpIndex = kUserIndexes + 1;  // a helper's hold on what it reads
// The guard's base reservation: activated with the current era at the first
// Protect of a guard and kept (never renewed) until the guard ends. A load
// made while the era still equals the base era is covered by it, so while
// the era does not move a guard costs one activation and one release,
// whatever the number of indexes it uses; the user indexes take over only
// for loads made after the era moved.
inline constexpr int kBaseIndex = kUserIndexes + 2;
inline constexpr int kIndexes = kUserIndexes + 3;
inline constexpr std::uint32_t kBaseBit = 1u << kBaseIndex;
// Set in every slot's active_mask, permanently, when the base is never used
// (fast_attempts == 0): it sends each guard's first Protect out of line.
inline constexpr std::uint32_t kNoBaseBit = 1u << 31;

inline constexpr std::uintptr_t kTokenBit = 1;
inline constexpr std::uintptr_t kClaimedLink = 2;  // a list link taken by Drop
inline constexpr std::uint64_t kPending = ~std::uint64_t{0};
inline constexpr std::uint64_t kNoEra = ~std::uint64_t{0};  // above every era
inline constexpr std::uintptr_t kMarkMask = 3;  // low bits Protect tolerates
inline constexpr std::uintptr_t kBatchBias = std::uintptr_t{1} << 62;
inline constexpr std::uintptr_t kParentBias = std::uintptr_t{1} << 61;

// How a helper reads a request's source and finds the Node of what it read.
struct SourceOps {
  std::uintptr_t (*load)(const void* src) noexcept;
  reclaim::Node* (*to_node)(std::uintptr_t value) noexcept;
};

template <class T>
struct PointerSource {
  static std::uintptr_t Load(const void* src) noexcept {
    // seq_cst: see Invariant 3 and Core::Protect.
    return reinterpret_cast<std::uintptr_t>(
        static_cast<const std::atomic<T*>*>(src)->load(std::memory_order_seq_cst));
  }
  static reclaim::Node* ToNode(std::uintptr_t v) noexcept {
    v &= ~kMarkMask;
    return v == 0 ? nullptr : static_cast<reclaim::Node*>(reinterpret_cast<T*>(v));
  }
  static constexpr SourceOps kOps{&Load, &ToNode};
};

template <class T>
struct WordSource {
  static std::uintptr_t Load(const void* src) noexcept {
    return static_cast<const std::atomic<std::uintptr_t>*>(src)->load(std::memory_order_seq_cst);
  }
  static constexpr SourceOps kOps{&Load, &PointerSource<T>::ToNode};
};

struct alignas(kCacheLine) Reservation {
  Word128 result;
  std::atomic<std::uintptr_t> list{0};
  std::atomic<std::uint64_t> era{0};
  std::atomic<std::uint64_t> round{0};
  std::atomic<std::uintptr_t> handoff{0};
  std::atomic<const void*> src{nullptr};
  std::atomic<const SourceOps*> ops{nullptr};
  std::atomic<const reclaim::Node*> parent{nullptr};
  std::atomic<std::uint64_t> parent_birth{0};
};

// Counters written only by the slot's owner (relaxed load + store, no RMW).
struct alignas(kCacheLine) SlotCounters {
  std::atomic<std::uint64_t> retired{0};
  std::atomic<std::uint64_t> reclaimed{0};
  std::atomic<std::uint64_t> retired_bytes{0};
  std::atomic<std::uint64_t> reclaimed_bytes{0};
  std::atomic<std::uint64_t> slow_protects{0};

  static void Add(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// A thread's filling batch. Owner-private.
struct RetireBatch {
  reclaim::Node* first = nullptr;  // newest node
  reclaim::Node* refs = nullptr;   // its reference node (oldest)
  std::uint64_t countdown = 0;     // retirements until the next offer (0: unset)
};
inline constexpr int kYoung = 0;
inline constexpr int kOld = 1;
inline constexpr int kBatchKinds = 2;

struct ThreadSlot {
  Reservation res[kIndexes];
  // The parent this slot, as a helper, currently holds (Invariant 1).
  alignas(kCacheLine) std::atomic<const reclaim::Node*> help_parent{nullptr};
  SlotCounters counters;
  // Owner-private from here on.
  alignas(kCacheLine) std::uint64_t cached_era[kUserIndexes] = {};
  // Indexes (user, base) active in the current guard, plus kNoBaseBit.
  std::uint32_t active_mask = 0;
  int depth = 0;                  // nesting depth of guards
  std::uint64_t alloc_countdown = 1;  // allocations until the next era advance
  std::uint64_t next_round = 0;
  std::uint64_t offers = 0;  // batch hand-overs, for peak sampling
  // Two filling batches, split by birth era (see Core::Retire): kYoung for
  // objects born after `old_horizon`, kOld for the others.
  RetireBatch batch[kBatchKinds];
  // The oldest era any reservation held at this thread's last complete offer
  // scan (0: none). An object born no later may be pinned by that
  // reservation; one born later cannot.
  std::uint64_t old_horizon = 0;
};

struct CoreOptions {
  int max_threads;
  int retire_freq;
  int era_freq;
  int fast_attempts;
};

class Core final : public reclaim_internal::RegistryClient {
 public:
  explicit Core(const CoreOptions& options);
  ~Core() override;

  int ClaimSlot() noexcept override;
  void ReleaseSlot(int slot) noexcept override;

  ThreadSlot& Slot(int i) noexcept { return slots_[i]; }
  std::uint64_t Era() const noexcept { return era_.load(std::memory_order_seq_cst); }
  const CoreOptions& options() const noexcept { return options_; }

  // Guard support (crystalline.cc).
  // Protect after the era moved during the guard (or with fast_attempts ==
  // 0): the index's own reservation, then the slow path.
  __attribute__((noinline)) std::uintptr_t ProtectMoved(ThreadSlot& s, int index,
                                                        const void* src, const SourceOps* ops,
                                                        const reclaim::Node* parent) noexcept;
  void Activate(ThreadSlot& s, int index) noexcept;
  // The era of `s`'s base reservation, activating it with the current era
  // if it is not active yet (a guard's first Protect). kNoEra if the base is
  // never used (fast_attempts == 0): no era equals it, so every Protect
  // takes the slow path. Inlined: the common case is one era load, one
  // seq_cst store and one load of the list.
  [[gnu::always_inline]] std::uint64_t EnterBase(ThreadSlot& s) noexcept {
    // Any active index means the base is active (ProtectMoved runs only
    // after it), unless kNoBaseBit says it is disabled; both out of line.
    if (s.active_mask != 0) [[unlikely]] return EnterBaseCold(s);
    Reservation& b = s.res[kBaseIndex];
    const std::uint64_t era = Era();
    // (A1) seq_cst: activates the base reservation with `era` before the
    // first load of Protect (P1); pairs with the retirer's fence (O1).
    b.era.store(era, std::memory_order_seq_cst);
    // A list found here was pushed by a retirer racing with the end of an
    // earlier guard, or for objects unlinked before (A1): nothing we load.
    if (b.list.load(std::memory_order_acquire) != 0) [[unlikely]] DetachAndDrop(s, b);
    s.active_mask = kBaseBit;
    return era;
  }
  std::uint64_t Renew(ThreadSlot& s, int index, std::uint64_t era) noexcept;
  void Leave(ThreadSlot& s) noexcept;
  // Detaches `r`'s list and drops it. REQUIRES: `r` belongs to `s`, and
  // nothing the caller still uses depends on it.
  void DetachAndDrop(ThreadSlot& s, Reservation& r) noexcept;
  // Drops every reference `s`'s reservations and handoffs still hold.
  // REQUIRES: `s` is outside any guard and owned by the caller (or unowned
  // with no concurrent use).
  void DrainIdle(ThreadSlot& s) noexcept;
  std::uintptr_t SlowProtect(ThreadSlot& s, int index, const void* src, const SourceOps* ops,
                             const reclaim::Node* parent) noexcept;

  // Domain operations (crystalline.cc / crystalline_batch.cc).
  // Inlined (below); every era_freq x threads calls, AdvanceEra.
  void InitNode(ThreadSlot& s, reclaim::Node* n) noexcept;
  void AdvanceEra(ThreadSlot& s) noexcept;
  void Retire(ThreadSlot& s, reclaim::Node* n, reclaim::Deleter d, std::size_t bytes) noexcept;
  // Offers `s`'s batch `kind`. REQUIRES: it is not empty.
  void Offer(ThreadSlot& s, int kind) noexcept;
  // Offers every non-empty batch of `s`.
  void OfferAll(ThreadSlot& s) noexcept;
  void AdoptOrphans(ThreadSlot& me) noexcept;
  void FreeEverything() noexcept;
  reclaim::Counters Sum() noexcept;

  // Reference counting (crystalline_batch.cc).
  void Drop(ThreadSlot& me, std::uintptr_t head) noexcept;
  void Unref(ThreadSlot& me, reclaim::Node* refs, std::uintptr_t n = 1) noexcept;

 private:
  // Whether `r` can see a batch whose minimum birth era is `min_birth`;
  // lowers `oldest` to any era `r` reserves.
  bool Eligible(Reservation& r, std::uint64_t min_birth, std::uint64_t& oldest) noexcept;
  bool InsertNode(ThreadSlot& s, Reservation& r, Node* n, std::uint64_t min_birth) noexcept;
  void FreeBatch(ThreadSlot& me, reclaim::Node* refs) noexcept;
  void SamplePeak() noexcept;
  void HelpAll(ThreadSlot& me) noexcept;
  void HelpOne(ThreadSlot& me, Reservation& r) noexcept;
  void HelpRead(ThreadSlot& me, Reservation& r, std::uint64_t round, const void* src,
                const SourceOps* ops) noexcept;
  void HoldSystemIndex(ThreadSlot& me, int index, std::uint64_t era) noexcept;
  void ReleaseSystemIndex(ThreadSlot& me, int index) noexcept;
  void AdoptResult(ThreadSlot& s, Reservation& r, std::uintptr_t value, std::uint64_t era,
                   const SourceOps* ops) noexcept;
  void HandOffParent(ThreadSlot& s, const reclaim::Node* parent) noexcept;
  bool ResultOpen(Reservation& r, std::uint64_t round) noexcept;
  // EnterBase when the base is already active (a nested guard) or disabled.
  std::uint64_t EnterBaseCold(ThreadSlot& s) noexcept;
  int SlowPathBound() const noexcept { return 2 * options_.max_threads + 16; }

  const CoreOptions options_;
  std::unique_ptr<ThreadSlot[]> slots_;
  reclaim_internal::SlotClaims claims_;
  alignas(kCacheLine) std::atomic<std::uint64_t> era_{1};
  alignas(kCacheLine) std::atomic<std::uint64_t> slow_count_{0};
  alignas(kCacheLine) std::atomic<std::uint64_t> peak_{0};
  // Objects freed by threads without a slot (domain destructor).
  std::atomic<std::uint64_t> extra_reclaimed_{0};
  std::atomic<std::uint64_t> extra_reclaimed_bytes_{0};
};

// Node word helpers shared by the .cc files.
inline std::atomic<std::uintptr_t>& W(reclaim::Node* n, int i) noexcept {
  return reclaim_internal::NodeAccess::Word(n, i);
}
inline reclaim::Node* AsNode(std::uintptr_t v) noexcept {
  return reinterpret_cast<reclaim::Node*>(v);
}
inline std::uintptr_t AsWord(const void* p) noexcept { return reinterpret_cast<std::uintptr_t>(p); }

// The reference node of the batch `n` belongs to, or nullptr if `n` is not
// retired yet (or heads a batch that has not been offered yet).
inline reclaim::Node* RefsOf(reclaim::Node* n) noexcept {
  // (N1) acquire: pairs with the seq_cst stores of word 1 in Retire/Offer.
  const std::uintptr_t link = W(n, 1).load(std::memory_order_seq_cst);
  if (link == 0) return nullptr;
  return (link & kTokenBit) ? n : AsNode(link);
}

inline void Core::InitNode(ThreadSlot& s, reclaim::Node* n) noexcept {
  // Every era_freq x (registered threads) allocations of this thread (a
  // countdown: no division on the allocation path).
  if (--s.alloc_countdown == 0) [[unlikely]] AdvanceEra(s);
  W(n, 0).store(Era(), std::memory_order_relaxed);
  W(n, 1).store(0, std::memory_order_relaxed);
}

}  // namespace mvkv::reclaim::crystalline_internal

#endif  // MVKV_RECLAIM_INTERNAL_CRYSTALLINE_CORE_H_
