// Crystalline-W: retiring into batches, offering a batch to the reservations
// that can see it, and the reference counts that free it. Invariants:
// internal/crystalline_core.h.
#include <algorithm>
#include <atomic>

#include "reclaim/internal/crystalline_core.h"

namespace mvkv::reclaim::crystalline_internal {

using reclaim_internal::Hi;
using reclaim_internal::Lo;
using reclaim_internal::Load128;
using reclaim_internal::NodeAccess;

void Core::Retire(ThreadSlot& s, Node* n, Deleter d, std::size_t bytes) noexcept {
  NodeAccess::SetDeleter(n, d);
  SlotCounters::Add(s.counters.retired, 1);
  SlotCounters::Add(s.counters.retired_bytes, bytes);
  // A batch is pinned by its minimum birth era (Invariant 2): one object
  // born before a stalled reader's era would hold back every younger object
  // of its batch. So objects that the oldest known reservation may pin go
  // to their own batch, and a stalled reader pins only objects it can
  // really reach (those born by its era), not the batches they share.
  const std::uint64_t birth = W(n, 0).load(std::memory_order_relaxed);
  RetireBatch& b = s.batch[birth <= s.old_horizon ? kOld : kYoung];
  if (b.refs == nullptr) {
    // The first node is the batch's reference node: its word 0 (birth) is
    // the running minimum, word 2 the count, word 1 stays 0 until the offer.
    W(n, 2).store(kBatchBias, std::memory_order_relaxed);
    b.refs = n;
  } else {
    Node* refs = b.refs;
    if (birth < W(refs, 0).load(std::memory_order_relaxed)) {
      W(refs, 0).store(birth, std::memory_order_relaxed);
    }
    W(n, 2).store(AsWord(b.first), std::memory_order_relaxed);
    // (N2) seq_cst: `n` counts as retired (RefsOf) from here; ordered after
    // the minimum update, before any offer's scan (O1).
    W(n, 1).store(AsWord(refs), std::memory_order_seq_cst);
  }
  b.first = n;
  // Offer every retire_freq retirements (a countdown: no division here).
  if (b.countdown == 0) b.countdown = static_cast<std::uint64_t>(options_.retire_freq);
  if (--b.countdown == 0) Offer(s, static_cast<int>(&b - s.batch));
}

void Core::OfferAll(ThreadSlot& s) noexcept {
  for (int kind = 0; kind < kBatchKinds; ++kind) {
    if (s.batch[kind].refs != nullptr) Offer(s, kind);
  }
}

bool Core::Eligible(Reservation& r, std::uint64_t min_birth, std::uint64_t& oldest) noexcept {
  // Order matters (see AdoptResult): an open result first, then the era.
  if (r.round.load(std::memory_order_seq_cst) != 0) {
    const reclaim_internal::U128 v = Load128(r.result);
    if (Lo(v) != kPending) {
      oldest = std::min(oldest, Hi(v));
      if (Hi(v) >= min_birth) return true;
    }
  }
  const std::uint64_t era = r.era.load(std::memory_order_seq_cst);
  if (era == 0) return false;  // outside any guard
  oldest = std::min(oldest, era);
  return era >= min_birth;
}

bool Core::InsertNode(ThreadSlot& s, Reservation& r, Node* n, std::uint64_t min_birth) noexcept {
  std::uint64_t unused = kNoEra;
  if (!Eligible(r, min_birth, unused)) return false;
  // (O2) acq_rel: publishes `n` (release) to the Drop that detaches it.
  const std::uintptr_t prev = r.list.exchange(AsWord(n), std::memory_order_acq_rel);
  if (prev != 0) {
    // (O3) acq_rel: link `n` to the older nodes unless a Drop already
    // claimed `n`'s link (D1); then that Drop stopped at `n` and the older
    // nodes are ours to drop.
    std::uintptr_t expect = 0;
    if (!W(n, 0).compare_exchange_strong(expect, prev, std::memory_order_acq_rel)) {
      Drop(s, prev);
    }
  }
  // (O4) The guard may have ended meanwhile (era 0, no open request): take
  // `n` back if it is still on top, so idle threads do not keep stale nodes.
  // Safe: a guard that starts after this seq_cst read of era 0 loads only
  // after it, when this batch's objects were long unlinked.
  if (r.round.load(std::memory_order_seq_cst) == 0 &&
      r.era.load(std::memory_order_seq_cst) == 0) {
    std::uintptr_t expect = AsWord(n);
    if (r.list.compare_exchange_strong(expect, prev, std::memory_order_acq_rel)) return false;
  }
  return true;
}

void Core::Offer(ThreadSlot& s, int kind) noexcept {
  // Sample the peak at every 16th offer, before this offer frees anything.
  if (s.offers++ % 16 == 0) SamplePeak();
  RetireBatch& b = s.batch[kind];
  Node* const refs = b.refs;
  Node* const first = b.first;
  const std::uint64_t min_birth = W(refs, 0).load(std::memory_order_relaxed);
  // (O0) seq_cst: the reference node counts as retired from here on.
  W(refs, 1).store(AsWord(first) | kTokenBit, std::memory_order_seq_cst);
  // (O1) seq_cst fence: pairs with the readers' publications (A1, E1, S1)
  // followed by their seq_cst loads (P1): a reader that loaded a node of
  // this batch before it was unlinked is seen by the scan below.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // Pass 1: bind one node (never the reference node) to each reservation
  // that can see the batch. Bound: HighWater() x kIndexes.
  // The same scan finds the oldest reserved era, for Retire's split.
  Node* cur = first;
  std::uint64_t oldest = kNoEra;
  const int high = claims_.HighWater();
  for (int i = 0; i < high; ++i) {
    for (Reservation& r : slots_[i].res) {
      if (!Eligible(r, min_birth, oldest)) continue;
      if (cur == refs) return;  // too few nodes: keep filling (never skip a reader)
      W(cur, 0).store(AsWord(&r), std::memory_order_relaxed);
      cur = AsNode(W(cur, 2).load(std::memory_order_relaxed));
    }
  }
  // A hint only: a stale value moves objects between batches, never
  // changes which reservations a batch is offered to.
  s.old_horizon = oldest == kNoEra ? 0 : oldest;
  // Pass 2: push each bound node onto its reservation's list.
  std::uintptr_t inserted = 0;
  for (Node* n = first; n != cur;) {
    Node* const next = AsNode(W(n, 2).load(std::memory_order_relaxed));
    Reservation& r = *reinterpret_cast<Reservation*>(W(n, 0).load(std::memory_order_relaxed));
    W(n, 0).store(0, std::memory_order_relaxed);
    if (InsertNode(s, r, n, min_birth)) ++inserted;
    n = next;
  }
  b = RetireBatch{};
  Unref(s, refs, kBatchBias - inserted);
}

void Core::Drop(ThreadSlot& me, std::uintptr_t head) noexcept {
  // Bound: the length of the detached list; each node is on one list once.
  while (head != 0) {
    if (head & kTokenBit) {
      Unref(me, AsNode(head & ~kTokenBit));
      return;
    }
    Node* const n = AsNode(head);
    // (D1) acq_rel: pairs with O3; reading the link before the Unref below,
    // which may free `n`.
    head = W(n, 0).exchange(kClaimedLink, std::memory_order_acq_rel);
    Unref(me, RefsOf(n));
  }
}

void Core::Unref(ThreadSlot& me, Node* refs, std::uintptr_t n) noexcept {
  // (C1) acq_rel: the last decrement sees every use of the batch.
  if (W(refs, 2).fetch_sub(n, std::memory_order_acq_rel) == n) FreeBatch(me, refs);
}

void Core::FreeBatch(ThreadSlot& me, Node* refs) noexcept {
  Node* n = AsNode(W(refs, 1).load(std::memory_order_relaxed) & ~kTokenBit);
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  // Bound: the batch's size. The chain runs newest to oldest, ending at refs.
  while (n != refs) {
    Node* const next = AsNode(W(n, 2).load(std::memory_order_relaxed));
    bytes += NodeAccess::Delete(n);
    ++count;
    n = next;
  }
  bytes += NodeAccess::Delete(refs);
  ++count;
  SlotCounters::Add(me.counters.reclaimed, count);
  SlotCounters::Add(me.counters.reclaimed_bytes, bytes);
}

}  // namespace mvkv::reclaim::crystalline_internal
