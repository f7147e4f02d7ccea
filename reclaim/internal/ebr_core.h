// reclaim/internal/ebr_core.h — the shared state of EbrDomain. Not public.
//
// Thread safety: as for Crystalline-W's core: owner-private slot fields are
// touched by the slot's owner only; `announce` and the counters are atomics.
//
// Invariants:
//  1. announce = (epoch << 1) | 1 while the slot's thread is inside a guard,
//     0 outside. An epoch is announced (seq_cst) before any protected load.
//  2. The global epoch moves from e to e+1 only after a scan saw every
//     active slot announcing e.
//  3. A node retired while the global epoch was r is freed only once the
//     epoch reached r + 2: every guard that could have loaded it has ended.
//  4. A slot's limbo list is ordered newest first, so retire epochs never
//     increase along it.
#ifndef MVKV_RECLAIM_INTERNAL_EBR_CORE_H_
#define MVKV_RECLAIM_INTERNAL_EBR_CORE_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "reclaim/internal/node_access.h"
#include "reclaim/internal/thread_registry.h"
#include "reclaim/node.h"

namespace mvkv::reclaim::ebr_internal {

using reclaim_internal::kCacheLine;

struct EbrSlot {
  alignas(kCacheLine) std::atomic<std::uint64_t> announce{0};
  // Written by the owner only (relaxed load + store).
  alignas(kCacheLine) std::atomic<std::uint64_t> retired{0};
  std::atomic<std::uint64_t> reclaimed{0};
  std::atomic<std::uint64_t> retired_bytes{0};
  std::atomic<std::uint64_t> reclaimed_bytes{0};
  // Owner-private.
  alignas(kCacheLine) int depth = 0;
  reclaim::Node* limbo = nullptr;       // newest first
  reclaim::Node* limbo_tail = nullptr;  // oldest: Collect is O(1) when nothing expired
  std::uint64_t retires = 0;
  std::uint64_t advances = 0;
};

class Core final : public reclaim_internal::RegistryClient {
 public:
  Core(int max_threads, int retire_freq);
  ~Core() override;

  int ClaimSlot() noexcept override;
  void ReleaseSlot(int slot) noexcept override;

  EbrSlot& Slot(int i) noexcept { return slots_[i]; }
  std::uint64_t Epoch() const noexcept { return epoch_.load(std::memory_order_seq_cst); }

  void Retire(EbrSlot& s, reclaim::Node* n, reclaim::Deleter d, std::size_t bytes) noexcept;
  bool TryAdvance() noexcept;
  void Collect(EbrSlot& s) noexcept;
  void AdoptOrphans() noexcept;
  void FreeEverything() noexcept;
  reclaim::Counters Sum() noexcept;

 private:
  void FreeChain(EbrSlot& s, reclaim::Node* n) noexcept;

  const int retire_freq_;
  std::unique_ptr<EbrSlot[]> slots_;
  reclaim_internal::SlotClaims claims_;
  alignas(kCacheLine) std::atomic<std::uint64_t> epoch_{2};
  alignas(kCacheLine) std::atomic<std::uint64_t> peak_{0};
};

}  // namespace mvkv::reclaim::ebr_internal

#endif  // MVKV_RECLAIM_INTERNAL_EBR_CORE_H_
