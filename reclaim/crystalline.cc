// Crystalline-W: domain lifetime, registration, guard support, eras, counters.
// The batch hand-over is in crystalline_batch.cc, the slow path and helping
// in crystalline_slow.cc. Invariants: internal/crystalline_core.h.
#include "reclaim/crystalline.h"

#include <algorithm>

namespace mvkv::reclaim {
namespace crystalline_internal {

Core::Core(const CoreOptions& options)
    : options_(options), slots_(new ThreadSlot[options.max_threads]), claims_(options.max_threads) {
  if (options.fast_attempts == 0) {
    for (int i = 0; i < options.max_threads; ++i) slots_[i].active_mask = kNoBaseBit;
  }
}

Core::~Core() = default;

int Core::ClaimSlot() noexcept { return claims_.Claim("Crystalline-W"); }

void Core::ReleaseSlot(int slot) noexcept {
  ThreadSlot& s = slots_[slot];
  // The thread is outside every guard (guards live on its stack): drop what
  // its idle reservations still hold, then offer the partial batch. What
  // cannot go yet stays in the slot for the next owner or for Barrier
  // (AdoptOrphans): never leaked, never freed early.
  DrainIdle(s);
  OfferAll(s);
  claims_.Release(slot);
}

void Core::DetachAndDrop(ThreadSlot& s, Reservation& r) noexcept {
  Drop(s, r.list.exchange(0, std::memory_order_acq_rel));
}

void Core::DrainIdle(ThreadSlot& s) noexcept {
  for (Reservation& r : s.res) {
    // A helper may deposit late; a retirer may leave a stale node.
    const std::uintptr_t h = r.handoff.exchange(0, std::memory_order_acq_rel);
    if (h != 0) Unref(s, AsNode(h));
    if (r.list.load(std::memory_order_acquire) != 0) DetachAndDrop(s, r);
  }
}

std::uintptr_t Core::ProtectMoved(ThreadSlot& s, int index, const void* src,
                                  const SourceOps* ops, const Node* parent) noexcept {
  const int attempts = options_.fast_attempts;
  // The era moved during this guard: use the index's own reservation.
  if ((s.active_mask & (1u << index)) == 0) Activate(s, index);
  std::uint64_t mine = s.cached_era[index];
  // Bound: `attempts` iterations.
  for (int i = 0; i < attempts; ++i) {
    const std::uintptr_t v = ops->load(src);  // (P1) after E1
    const std::uint64_t now = Era();          // (P2)
    if (now == mine) return v;
    mine = Renew(s, index, now);
  }
  return SlowProtect(s, index, src, ops, parent);
}

void Core::Activate(ThreadSlot& s, int index) noexcept {
  // The index is inactive (era 0): forcing its cached era to 0 makes the
  // next attempt Renew it, which drops any stale list and publishes the era.
  s.active_mask |= 1u << index;
  s.cached_era[index] = 0;
}

std::uint64_t Core::EnterBaseCold(ThreadSlot& s) noexcept {
  if ((s.active_mask & kNoBaseBit) != 0) return kNoEra;
  // Nested guards share the base: an enclosing (or an earlier inner) guard
  // of this outermost guard activated it. Only the owner writes its era.
  return s.res[kBaseIndex].era.load(std::memory_order_relaxed);
}

std::uint64_t Core::Renew(ThreadSlot& s, int index, std::uint64_t era) noexcept {
  Reservation& r = s.res[index];
  // The old reservation ends: detach what it holds (Invariant 4).
  if (r.list.load(std::memory_order_acquire) != 0) {
    const std::uintptr_t old = r.list.exchange(0, std::memory_order_acq_rel);
    Drop(s, old);
    era = Era();  // dropping may have taken a while
  }
  // (E1) seq_cst: publication before the next load (P1), Invariant 3.
  r.era.store(era, std::memory_order_seq_cst);
  s.cached_era[index] = era;
  return era;
}

void Core::Leave(ThreadSlot& s) noexcept {
  std::uint32_t mask = s.active_mask & ~kNoBaseBit;
  s.active_mask &= kNoBaseBit;
  // Bound: at most kUserIndexes + 1 iterations (user indexes and the base).
  while (mask != 0) {
    const int i = __builtin_ctz(mask);
    mask &= mask - 1;
    Reservation& r = s.res[i];
    r.era.store(0, std::memory_order_release);  // (L1) as in ~Guard
    if (r.list.load(std::memory_order_acquire) != 0) DetachAndDrop(s, r);
  }
}

void Core::AdvanceEra(ThreadSlot& s) noexcept {
  s.alloc_countdown =
      static_cast<std::uint64_t>(options_.era_freq) * std::max(1, claims_.Registered());
  HelpAll(s);  // Invariant 5: help first, then advance.
  // (E2) seq_cst: orders the advance after the helping above.
  era_.fetch_add(1, std::memory_order_seq_cst);
}

void Core::AdoptOrphans(ThreadSlot& me) noexcept {
  (void)me;
  const int high = claims_.HighWater();
  // Bound: one pass over the slots that were ever used.
  for (int i = 0; i < high; ++i) {
    if (!claims_.TryClaim(i)) continue;
    ThreadSlot& s = slots_[i];
    DrainIdle(s);
    OfferAll(s);
    claims_.Release(i);
  }
}

void Core::FreeEverything() noexcept {
  const int high = claims_.HighWater();
  for (int i = 0; i < high; ++i) DrainIdle(slots_[i]);
  // With every reservation inactive, an offer frees its batch at once.
  for (int i = 0; i < high; ++i) OfferAll(slots_[i]);
}

Counters Core::Sum() noexcept {
  Counters c;
  const int high = claims_.HighWater();
  // Reclaimed first: a reclaim is ordered after its retire, so reading the
  // retired totals last keeps retired >= reclaimed in practice.
  for (int i = 0; i < high; ++i) {
    const SlotCounters& k = slots_[i].counters;
    c.reclaimed += k.reclaimed.load(std::memory_order_relaxed);
    c.reclaimed_bytes += k.reclaimed_bytes.load(std::memory_order_relaxed);
    c.slow_protects += k.slow_protects.load(std::memory_order_relaxed);
  }
  c.reclaimed += extra_reclaimed_.load(std::memory_order_relaxed);
  c.reclaimed_bytes += extra_reclaimed_bytes_.load(std::memory_order_relaxed);
  for (int i = 0; i < high; ++i) {
    const SlotCounters& k = slots_[i].counters;
    c.retired += k.retired.load(std::memory_order_relaxed);
    c.retired_bytes += k.retired_bytes.load(std::memory_order_relaxed);
  }
  c.unreclaimed = c.retired > c.reclaimed ? c.retired - c.reclaimed : 0;
  c.unreclaimed_bytes =
      c.retired_bytes > c.reclaimed_bytes ? c.retired_bytes - c.reclaimed_bytes : 0;
  std::uint64_t peak = peak_.load(std::memory_order_relaxed);
  // Bound: 4 attempts; a lost race only makes the sampled peak approximate.
  for (int i = 0; i < 4 && peak < c.unreclaimed; ++i) {
    if (peak_.compare_exchange_weak(peak, c.unreclaimed, std::memory_order_relaxed)) break;
  }
  c.unreclaimed_peak = std::max(peak, c.unreclaimed);
  return c;
}

void Core::SamplePeak() noexcept { (void)Sum(); }

}  // namespace crystalline_internal

namespace {
crystalline_internal::CoreOptions ToCore(const CrystallineDomain::Options& o) {
  return {std::max(1, o.max_threads), std::max(1, o.retire_freq), std::max(1, o.era_freq),
          std::max(0, o.fast_attempts)};
}
}  // namespace

CrystallineDomain& CrystallineDomain::Default() {
  static CrystallineDomain* const domain = new CrystallineDomain();
  return *domain;
}

CrystallineDomain::CrystallineDomain() : CrystallineDomain(Options()) {}

CrystallineDomain::CrystallineDomain(const Options& options) {
  auto core = std::make_shared<crystalline_internal::Core>(ToCore(options));
  core_ = core.get();
  client_ = std::move(core);
}

CrystallineDomain::~CrystallineDomain() { core_->FreeEverything(); }

void CrystallineDomain::Flush() noexcept {
  core_->OfferAll(MySlot());
}

void CrystallineDomain::Barrier() noexcept {
  Flush();
  crystalline_internal::ThreadSlot& s = MySlot();
  if (s.depth == 0) core_->DrainIdle(s);
  core_->AdoptOrphans(s);
}

}  // namespace mvkv::reclaim
