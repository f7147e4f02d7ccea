#include "mvcc/internal/snapshot_registry.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace mvkv::mvcc_internal {

SnapshotRegistry::~SnapshotRegistry() {
  Chunk* c = first_.next.load(std::memory_order_relaxed);
  while (c != nullptr) {
    Chunk* next = c->next.load(std::memory_order_relaxed);
    delete c;
    c = next;
  }
}

SnapshotRegistry::Slot* SnapshotRegistry::Claim(uint64_t txn_id) {
  Chunk* c = &first_;
  while (true) {
    for (Slot& s : c->slots) {
      uint64_t expected = kFree;
      if (s.ts.load(std::memory_order_relaxed) != kFree) continue;
      // Claimed: the writer skips the slot until (3) publishes a snapshot.
      if (!s.ts.compare_exchange_strong(expected, kClaimed,
                                        std::memory_order_acq_rel)) {
        continue;
      }
      s.txn_id.store(txn_id, std::memory_order_relaxed);
      // Only the owner writes it: no read-modify-write needed.
      s.generation.store(s.generation.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
      s.start_unix_ns.store(absl::GetCurrentTimeNanos(),
                            std::memory_order_relaxed);
      return &s;
    }
    Chunk* next = c->next.load(std::memory_order_acquire);
    if (next == nullptr) {
      auto* fresh = new Chunk();
      if (c->next.compare_exchange_strong(next, fresh,
                                          std::memory_order_acq_rel)) {
        next = fresh;
      } else {
        delete fresh;  // another thread appended; use theirs
      }
    }
    c = next;
  }
}

SnapshotRegistry::Slot* SnapshotRegistry::Acquire(
    uint64_t txn_id, const std::atomic<uint64_t>& visible_ts, uint64_t* ts) {
  Slot& s = *Claim(txn_id);
  uint64_t v;
  // Bound: see the protocol's progress note (lock-free).
  while (true) {
    // (2) seq_cst read of the snapshot.
    v = visible_ts.load(std::memory_order_seq_cst);
    // (3) publish it (seq_cst; also releases the metadata above).
    s.ts.store(v, std::memory_order_seq_cst);
    // (6) seq_cst: did a collect that missed (3) use a newer horizon?
    if (collected_horizon_.load(std::memory_order_seq_cst) <= v) break;
  }
  *ts = v;
  return &s;
}

SnapshotRegistry::Slot* SnapshotRegistry::AcquireAt(uint64_t txn_id,
                                                    uint64_t ts) {
  Slot* s = Claim(txn_id);
  // (3) and (6), seq_cst, as in Acquire.
  s->ts.store(ts, std::memory_order_seq_cst);
  if (collected_horizon_.load(std::memory_order_seq_cst) <= ts) return s;
  Release(s);
  return nullptr;
}

void SnapshotRegistry::Release(Slot* slot) {
  // Release: the owner's reads happen before the writer may prune for them.
  slot->ts.store(kFree, std::memory_order_release);
}

void SnapshotRegistry::Collect(const std::atomic<uint64_t>& visible_ts,
                               View* view) {
  view->snapshots.clear();
  // (4) seq_cst, then (4b) seq_cst, both before (5).
  const uint64_t horizon = visible_ts.load(std::memory_order_seq_cst);
  collected_horizon_.store(horizon, std::memory_order_seq_cst);
  for (Chunk* c = &first_; c != nullptr;
       c = c->next.load(std::memory_order_acquire)) {
    for (Slot& s : c->slots) {
      // (5) seq_cst.
      const uint64_t ts = s.ts.load(std::memory_order_seq_cst);
      if (ts == kFree || ts == kClaimed) continue;
      if (s.revoked()) continue;
      view->snapshots.push_back(ts);
    }
  }
  view->active = view->snapshots.size();
  std::sort(view->snapshots.begin(), view->snapshots.end());
  view->snapshots.erase(
      std::unique(view->snapshots.begin(), view->snapshots.end()),
      view->snapshots.end());
  view->horizon = horizon;
}

}  // namespace mvkv::mvcc_internal
