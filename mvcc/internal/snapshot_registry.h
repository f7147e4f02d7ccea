// The registry of active snapshots, so the single writer always knows which
// versions some reader may still need.
//
// Thread safety: Acquire/Release from any thread (each slot is owned by one
// transaction at a time); Collect and Revoke from the writer only.
//
// Protocol (why a reader never loses a version it needs):
//   reader:  claim a slot (kClaimed: the writer ignores it); then
//            v = visible_ts (2); slot.ts = v (3); h = collected_horizon (6);
//            if h > v, repeat from (2).
//   writer:  V = visible_ts (4); collected_horizon = V (4b); read every
//            slot (5); prune keeping, per chain, every version newer than V,
//            the newest at or below V, and the newest at or below each
//            registered snapshot.
//   All of these are seq_cst. Take any collect and a reader's last round.
//   If the collect's (5) saw (3), it keeps the newest version at or below
//   v. Otherwise (5) precedes (3), so (4b) precedes (6) and the reader read
//   that collect's V or a later collect's, all >= that V (visible_ts only
//   grows): it stopped only with V <= h <= v, and then the newest version at
//   or below v is newer than V or the newest at or below V — kept either
//   way. A reader preempted while registering holds nothing back (the
//   previous protocol published a pending marker, and the writer then had
//   to freeze its horizon until the reader came back).
//   Progress: a reader repeats only if a collect with a newer horizon ran
//   between its (2) and (6), i.e. only while commits complete (lock-free).
//
// Invariants:
//  1. A slot's ts is kFree, kClaimed, or a snapshot timestamp owned by
//     exactly one live transaction.
//  2. Chunks are only appended, never freed before the registry.
//  3. collected_horizon only grows.
#ifndef MVKV_MVCC_INTERNAL_SNAPSHOT_REGISTRY_H_
#define MVKV_MVCC_INTERNAL_SNAPSHOT_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <vector>

namespace mvkv::mvcc_internal {

class SnapshotRegistry final {
 public:
  static constexpr uint64_t kFree = ~uint64_t{0};
  static constexpr uint64_t kClaimed = ~uint64_t{0} - 1;

  struct alignas(64) Slot {
    std::atomic<uint64_t> ts{kFree};
    // The owner's transaction id (Txn::id(): for Stats and messages only).
    std::atomic<uint64_t> txn_id{0};
    std::atomic<int64_t> start_unix_ns{0};
    // Bumped by every Acquire of this slot (by its new owner, relaxed).
    std::atomic<uint64_t> generation{0};
    // The generation whose snapshot the writer released here (snapshot too
    // old). Holding the generation, not a flag, means a revocation aimed at
    // an owner that already left never hits the slot's next owner. Read by
    // the owner after each read (acquire).
    std::atomic<uint64_t> revoked_generation{0};

    // True if the current owner's snapshot was released.
    bool revoked() const {
      return revoked_generation.load(std::memory_order_acquire) ==
             generation.load(std::memory_order_relaxed);
    }
  };

  SnapshotRegistry() = default;
  ~SnapshotRegistry();
  SnapshotRegistry(const SnapshotRegistry&) = delete;
  SnapshotRegistry& operator=(const SnapshotRegistry&) = delete;

  // Registers a snapshot at the current value of `visible_ts` and returns
  // the slot; *ts receives the snapshot. `txn_id` is only reported (Stats).
  // Lock-free: a pass over the slots
  // plus, when all are taken, one chunk append, and one more round of the
  // protocol per collect that overtook it.
  Slot* Acquire(uint64_t txn_id, const std::atomic<uint64_t>& visible_ts,
                uint64_t* ts);
  // Registers a snapshot at exactly `ts`, which may be ahead of visible_ts
  // (a replica pins the timestamp of the last commit its log applied, before
  // the engine shows it). The protocol above with v = ts fixed: after (3),
  // (6) must find collected_horizon <= ts, else a collect may already have
  // pruned a version that ts needs and the pin fails (null, nothing held).
  // The proof needs only v >= the horizon of any collect that missed (3),
  // which (6) checks. Lock-free like Acquire, without the retry.
  Slot* AcquireAt(uint64_t txn_id, uint64_t ts);
  void Release(Slot* slot);

  struct View {
    uint64_t horizon = 0;             // V
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
    slot.revoked_generation.store(
        slot.generation.load(std::memory_order_relaxed),
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
        if (ts != kFree && ts != kClaimed && !s.revoked()) fn(s, ts);
      }
    }
  }

 private:
  static constexpr int kChunkSlots = 64;
  struct Chunk {
    Slot slots[kChunkSlots];
    std::atomic<Chunk*> next{nullptr};
  };

  // Claims a free slot (kClaimed) for `txn_id` and stamps its metadata.
  Slot* Claim(uint64_t txn_id);

  Chunk first_;
  // (4b) The horizon of the latest collect (written by the writer only).
  std::atomic<uint64_t> collected_horizon_{0};
};

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_SNAPSHOT_REGISTRY_H_
