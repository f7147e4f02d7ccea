// Crystalline-W: the slow path of Protect and the helping that makes it
// wait-free. Invariants: internal/crystalline_core.h (5 bounds every loop).
//
// A request (one per reservation index) goes through:
//   open:    the owner publishes src/ops/parent, sets `round`, and stores
//            (kPending, round) in `result`;
//   install: exactly one of the owner and its helpers replaces
//            (kPending, round) by (value, era) with cmpxchg16b, where `value`
//            was loaded while the global era was `era` and the installer held
//            a reservation of `era` (the owner's own index, or a helper's
//            kHelpIndex);
//   adopt:   the owner publishes `era` at the index, closes the round, and if
//            `value`'s batch was already retired takes a reference on it.
// While the round is open an installed result counts as the index's era for
// retirers (Eligible), and a helper that sees `value` already retired leaves
// a reference in `handoff`, so the object stays covered from its load by the
// installer until the owner's own reservation or reference takes over.
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "reclaim/internal/crystalline_core.h"

namespace mvkv::reclaim::crystalline_internal {

using reclaim_internal::Cas128;
using reclaim_internal::Hi;
using reclaim_internal::Lo;
using reclaim_internal::Load128;
using reclaim_internal::Pack;
using reclaim_internal::U128;

namespace {

// An era that is >= the minimum birth era of `parent`'s batch, whether or not
// `parent` has been retired. REQUIRES: `parent` is protected by the caller.
std::uint64_t ParentBirth(const Node* parent) noexcept {
  Node* p = const_cast<Node*>(parent);
  const std::uint64_t birth = W(p, 0).load(std::memory_order_seq_cst);
  const std::uintptr_t link = W(p, 1).load(std::memory_order_seq_cst);
  // A retired batch node reuses word 0; its reference node keeps the batch's
  // minimum (which only decreases, so any value read is still >= it).
  if (link != 0 && (link & kTokenBit) == 0) {
    return W(AsNode(link), 0).load(std::memory_order_seq_cst);
  }
  return birth;
}

[[noreturn]] void BoundExceeded(const char* where) {
  std::fprintf(stderr, "mvkv::reclaim: Crystalline-W %s exceeded its wait-free bound (bug)\n",
               where);
  std::abort();
}

}  // namespace

bool Core::ResultOpen(Reservation& r, std::uint64_t round) noexcept {
  return Load128(r.result) == Pack(kPending, round);
}

std::uintptr_t Core::SlowProtect(ThreadSlot& s, int index, const void* src, const SourceOps* ops,
                                 const Node* parent) noexcept {
  Reservation& r = s.res[index];
  SlotCounters::Add(s.counters.slow_protects, 1);
  // Open the request. (S0) seq_cst stores: a helper that sees the round open
  // (its Load128) sees these fields.
  r.src.store(src, std::memory_order_seq_cst);
  r.ops.store(ops, std::memory_order_seq_cst);
  r.parent.store(parent, std::memory_order_seq_cst);
  r.parent_birth.store(parent != nullptr ? ParentBirth(parent) : 0, std::memory_order_seq_cst);
  const std::uint64_t round = ++s.next_round;
  r.round.store(round, std::memory_order_seq_cst);
  slow_count_.fetch_add(1, std::memory_order_seq_cst);
  U128 old_result = Load128(r.result);
  // Only the owner writes a word that is not (kPending, its round): this
  // CAS cannot fail.
  if (!Cas128(r.result, old_result, Pack(kPending, round))) BoundExceeded("request open");

  std::uintptr_t held = 0;  // a list detached after a helper installed
  bool self = false;
  std::uint64_t mine = s.cached_era[index];
  const int bound = SlowPathBound();
  int i = 0;
  for (; i < bound; ++i) {  // Bound: Invariant 5 (the era moves < threads times)
    const std::uintptr_t v = ops->load(src);
    const std::uint64_t now = Era();
    if (now == mine) {
      U128 expect = Pack(kPending, round);
      self = Cas128(r.result, expect, Pack(v, now));
      break;  // installed, by us or by a helper
    }
    const std::uintptr_t old = r.list.exchange(0, std::memory_order_acq_rel);
    if (!ResultOpen(r, round)) {
      held = old;  // may hold the batch of the helper's value: drop after adopting
      break;
    }
    Drop(s, old);
    mine = Era();
    r.era.store(mine, std::memory_order_seq_cst);  // (E1) as in Renew
    s.cached_era[index] = mine;
    if (!ResultOpen(r, round)) break;
  }
  if (i == bound) BoundExceeded("slow path");

  const U128 result = Load128(r.result);
  const std::uintptr_t value = Lo(result);
  if (self) {
    r.round.store(0, std::memory_order_seq_cst);
  } else {
    AdoptResult(s, r, value, Hi(result), ops);
    s.cached_era[index] = Hi(result);
  }
  slow_count_.fetch_sub(1, std::memory_order_seq_cst);
  const std::uintptr_t h = r.handoff.exchange(0, std::memory_order_acq_rel);
  if (h != 0) Unref(s, AsNode(h));
  if (held != 0) Drop(s, held);
  if (parent != nullptr) HandOffParent(s, parent);
  return value;
}

void Core::AdoptResult(ThreadSlot& s, Reservation& r, std::uintptr_t value, std::uint64_t era,
                       const SourceOps* ops) noexcept {
  // (S1) seq_cst: retirers see `era` at this index from here on...
  r.era.store(era, std::memory_order_seq_cst);
  // (S2) ...and stop looking at the result only after (S1): Eligible reads
  // round, then result, then era.
  r.round.store(0, std::memory_order_seq_cst);
  Node* const node = ops->to_node(value);
  if (node == nullptr) return;
  Node* const refs = RefsOf(node);
  if (refs == nullptr) return;  // its retirement will scan after (S1)
  // Already retired: its batch is still covered (by the installer's
  // reservation, a handoff, or this index's list); take our own reference.
  W(refs, 2).fetch_add(1, std::memory_order_acq_rel);
  const std::uintptr_t old =
      r.list.exchange(AsWord(refs) | kTokenBit, std::memory_order_acq_rel);
  Drop(s, old);
}

void Core::HandOffParent(ThreadSlot& s, const Node* parent) noexcept {
  Node* const refs = RefsOf(const_cast<Node*>(parent));
  // Not retired: a later retirement sees the helpers' kParentIndex reservations.
  if (refs == nullptr) return;
  // The bias keeps the count positive while helpers receive and drop refs.
  W(refs, 2).fetch_add(kParentBias, std::memory_order_acq_rel);
  std::uintptr_t given = 0;
  const int high = claims_.HighWater();
  for (int i = 0; i < high; ++i) {  // Bound: one pass
    const Node* expect = parent;
    // (H1) acq_rel: pairs with the helper's exchange (H2); a helper still
    // registered on `parent` now owns one reference on its batch.
    if (slots_[i].help_parent.compare_exchange_strong(expect, nullptr,
                                                      std::memory_order_acq_rel,
                                                      std::memory_order_relaxed)) {
      ++given;
    }
  }
  Unref(s, refs, kParentBias - given);
}

void Core::HelpAll(ThreadSlot& me) noexcept {
  if (slow_count_.load(std::memory_order_seq_cst) == 0) return;
  const int high = claims_.HighWater();
  // Bound: HighWater() x kUserIndexes requests, each helped in bounded steps.
  for (int i = 0; i < high; ++i) {
    for (int j = 0; j < kUserIndexes; ++j) {
      Reservation& r = slots_[i].res[j];
      if (r.round.load(std::memory_order_seq_cst) != 0) HelpOne(me, r);
    }
  }
}

void Core::HelpOne(ThreadSlot& me, Reservation& r) noexcept {
  const U128 seen = Load128(r.result);
  if (Lo(seen) != kPending) return;
  const std::uint64_t round = Hi(seen);
  const void* const src = r.src.load(std::memory_order_seq_cst);
  const SourceOps* const ops = r.ops.load(std::memory_order_seq_cst);
  const Node* const parent = r.parent.load(std::memory_order_seq_cst);
  const std::uint64_t parent_birth = r.parent_birth.load(std::memory_order_seq_cst);
  if (parent != nullptr) {
    // Cover `parent` (where `src` lives) before reading `src`: its batch
    // reaches kParentIndex if retired later, or the owner hands us a
    // reference (HandOffParent) if it was retired already.
    HoldSystemIndex(me, kParentIndex, parent_birth);
    me.help_parent.store(parent, std::memory_order_seq_cst);
  }
  // Still the same round after registering: the fields read above belong to
  // it, and the owner has not handed off `parent` yet.
  if (ResultOpen(r, round)) HelpRead(me, r, round, src, ops);
  if (parent != nullptr) {
    // (H2) seq_cst: if the owner took our registration, we hold a reference.
    if (me.help_parent.exchange(nullptr, std::memory_order_seq_cst) != parent) {
      Unref(me, RefsOf(const_cast<Node*>(parent)));
    }
    ReleaseSystemIndex(me, kParentIndex);
  }
}

void Core::HelpRead(ThreadSlot& me, Reservation& r, std::uint64_t round, const void* src,
                    const SourceOps* ops) noexcept {
  const int bound = SlowPathBound();
  int i = 0;
  for (; i < bound; ++i) {  // Bound: Invariant 5
    const std::uint64_t era = Era();
    HoldSystemIndex(me, kHelpIndex, era);
    const std::uintptr_t v = ops->load(src);
    if (Era() == era) {
      U128 expect = Pack(kPending, round);
      if (Cas128(r.result, expect, Pack(v, era))) {
        Node* const node = ops->to_node(v);
        Node* const refs = node != nullptr ? RefsOf(node) : nullptr;
        if (refs != nullptr) {
          // Already retired: our kHelpIndex covers it now; leave the owner a
          // reference for after we let go.
          W(refs, 2).fetch_add(1, std::memory_order_acq_rel);
          const std::uintptr_t stale = r.handoff.exchange(AsWord(refs), std::memory_order_acq_rel);
          if (stale != 0) Unref(me, AsNode(stale));
        }
      }
      break;
    }
    if (!ResultOpen(r, round)) break;
  }
  if (i == bound) BoundExceeded("helping");
  ReleaseSystemIndex(me, kHelpIndex);
}

void Core::HoldSystemIndex(ThreadSlot& me, int index, std::uint64_t era) noexcept {
  Reservation& r = me.res[index];
  // What the index held for an earlier attempt is no longer needed.
  if (r.list.load(std::memory_order_acquire) != 0) DetachAndDrop(me, r);
  r.era.store(era < 1 ? 1 : era, std::memory_order_seq_cst);  // (E1) as in Renew
}

void Core::ReleaseSystemIndex(ThreadSlot& me, int index) noexcept {
  Reservation& r = me.res[index];
  r.era.store(0, std::memory_order_release);  // (L1) as in ~Guard
  if (r.list.load(std::memory_order_acquire) != 0) DetachAndDrop(me, r);
}

}  // namespace mvkv::reclaim::crystalline_internal
