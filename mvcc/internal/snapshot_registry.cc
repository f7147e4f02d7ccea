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

SnapshotRegistry::Slot* SnapshotRegistry::Acquire(
    uint64_t txn_id, const std::atomic<uint64_t>& visible_ts, uint64_t* ts) {
  Chunk* c = &first_;
  while (true) {
    for (Slot& s : c->slots) {
      uint64_t expected = kFree;
      if (s.ts.load(std::memory_order_relaxed) != kFree) continue;
      // (1) seq_cst: pending before reading visible_ts (see the protocol).
      if (!s.ts.compare_exchange_strong(expected, kPending,
                                        std::memory_order_seq_cst)) {
        continue;
      }
      s.txn_id.store(txn_id, std::memory_order_relaxed);
      s.start_unix_ns.store(absl::GetCurrentTimeNanos(),
                            std::memory_order_relaxed);
      // (2) seq_cst read of the snapshot.
      const uint64_t v = visible_ts.load(std::memory_order_seq_cst);
      // (3) publish it; release so the metadata above is visible with it.
      s.ts.store(v, std::memory_order_seq_cst);
      *ts = v;
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

void SnapshotRegistry::Release(Slot* slot) {
  // Release: the owner's reads happen before the writer may prune for them.
  slot->ts.store(kFree, std::memory_order_release);
}

void SnapshotRegistry::Collect(const std::atomic<uint64_t>& visible_ts,
                               View* view) {
  view->snapshots.clear();
  // (4) seq_cst, before (5).
  const uint64_t horizon = visible_ts.load(std::memory_order_seq_cst);
  bool pending = false;
  for (Chunk* c = &first_; c != nullptr;
       c = c->next.load(std::memory_order_acquire)) {
    for (Slot& s : c->slots) {
      // (5) seq_cst.
      const uint64_t ts = s.ts.load(std::memory_order_seq_cst);
      if (ts == kFree) continue;
      if (ts == kPending) {
        pending = true;
        continue;
      }
      if (s.revoked()) continue;
      view->snapshots.push_back(ts);
    }
  }
  view->active = view->snapshots.size();
  std::sort(view->snapshots.begin(), view->snapshots.end());
  view->snapshots.erase(
      std::unique(view->snapshots.begin(), view->snapshots.end()),
      view->snapshots.end());
  if (pending) {
    view->horizon = last_clean_horizon_;
  } else {
    view->horizon = horizon;
    last_clean_horizon_ = horizon;
  }
}

}  // namespace mvkv::mvcc_internal
