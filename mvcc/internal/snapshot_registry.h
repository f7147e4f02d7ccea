// The registry of active snapshots, so the single writer always knows which
// versions some reader may still need.
//
// Thread safety: Acquire/Release from any thread (each slot is owned by one
// transaction at a time); Collect and Revoke from the writer only.
//
// Protocol (why a reader never loses a version it needs):
//   reader:  slot.ts = kPending (1); v = visible_ts (2); slot.ts = v (3)
//   writer:  V = visible_ts (4); read every slot (5); prune keeping, per
//            chain, every version newer than V, the newest at or below V, and
//            the newest at or below each registered snapshot.
//   All of (1), (2), (4), (5) are seq_cst. If (5) saw the slot free, then (1)
//   follows (5) and so (2) follows (4): v >= V, and the newest version at or
//   below v is kept (it is newer than V or the newest at or below V). If (5)
//   saw kPending, v is unknown; the writer then uses, instead of V, the V of
//   its last collect that saw no pending slot: the reader's (1) came after
//   that collect's (5), so v is at least that V.
//
// Invariants:
//  1. A slot's ts is kFree, kPending, or a snapshot timestamp owned by
//     exactly one live transaction.
//  2. Chunks are only appended, never freed before the registry.
#ifndef MVKV_MVCC_INTERNAL_SNAPSHOT_REGISTRY_H_
#define MVKV_MVCC_INTERNAL_SNAPSHOT_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <vector>

namespace mvkv::mvcc_internal {

class SnapshotRegistry final {
 public:
  static constexpr uint64_t kFree = ~uint64_t{0};
  static constexpr uint64_t kPending = ~uint64_t{0} - 1;

  struct alignas(64) Slot {
    std::atomic<uint64_t> ts{kFree};
    std::atomic<uint64_t> txn_id{0};
    std::atomic<int64_t> start_unix_ns{0};
    // The id of the transaction whose snapshot the writer released here
    // (snapshot too old). Holding the id, not a flag, means a revocation
    // aimed at a transaction that already left never hits the slot's next
    // owner. Read by the owner after each read (acquire).
    std::atomic<uint64_t> revoked_txn{0};

    // True if the current owner's snapshot was released.
    bool revoked() const {
      return revoked_txn.load(std::memory_order_acquire) ==
             txn_id.load(std::memory_order_relaxed);
    }
  };

  SnapshotRegistry() = default;
  ~SnapshotRegistry();
  SnapshotRegistry(const SnapshotRegistry&) = delete;
  SnapshotRegistry& operator=(const SnapshotRegistry&) = delete;

  // Registers a snapshot at the current value of `visible_ts` and returns
  // the slot; *ts receives the snapshot. Lock-free: a pass over the slots
  // plus, when all are taken, one chunk append.
  Slot* Acquire(uint64_t txn_id, const std::atomic<uint64_t>& visible_ts,
                uint64_t* ts);
  void Release(Slot* slot);

  struct View {
    uint64_t horizon = 0;             // V (or the safe V when pending)
    std::vector<uint64_t> snapshots;  // sorted ascending, unique
    std::size_t active = 0;
  };
  // Writer only. Fills *view (reusing its capacity).
  void Collect(const std::atomic<uint64_t>& visible_ts, View* view);

  // Writer only: releases the snapshot of the transaction that owns `slot`
  // (if it still does). Ordering: this seq_cst store precedes every prune
  // that relies on it, so a reader that observes such a prune (acquire)
  // observes the revocation when it checks afterwards.
  static void Revoke(Slot& slot) {
    slot.revoked_txn.store(slot.txn_id.load(std::memory_order_relaxed),
                           std::memory_order_seq_cst);
  }

  // Calls fn(slot, ts) for every registered, unrevoked snapshot. Safe from
  // any thread (reads atomics only); exact only in the writer.
  template <class Fn>
  void ForEach(Fn&& fn) {
    for (Chunk* c = &first_; c != nullptr;
         c = c->next.load(std::memory_order_acquire)) {
      for (Slot& s : c->slots) {
        const uint64_t ts = s.ts.load(std::memory_order_acquire);
        if (ts != kFree && ts != kPending && !s.revoked()) fn(s, ts);
      }
    }
  }

 private:
  static constexpr int kChunkSlots = 64;
  struct Chunk {
    Slot slots[kChunkSlots];
    std::atomic<Chunk*> next{nullptr};
  };

  Chunk first_;
  uint64_t last_clean_horizon_ = 0;  // writer-only
};

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_SNAPSHOT_REGISTRY_H_
