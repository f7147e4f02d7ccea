// ReadLease: the leader's read lease, a time before which no other node
// can lead, so a linearizable read may skip the Raft barrier.
//
// Why a lease needs no per-follower acknowledgement time (checked against
// libraft 0.15's source; T = election_timeout):
//  (a) Let s be this leader's CLOCK_MONOTONIC time just before it calls
//      raft_apply / raft_barrier for an entry E of its current term. When E
//      commits, a quorum Q stores E, and each member of Q got E in an
//      AppendEntries (or InstallSnapshot) this leader sent after s. A
//      follower handling one from its current leader sets
//      election_timer_start = io->time() (recv_append_entries.c,
//      recv_install_snapshot.c), and starts an election only when
//      now - election_timer_start >= its randomized timeout, drawn by
//      uvRandom in [T, 2T) (election.c, tick.c). A restarted node with its
//      log starts that timer at its restart, later still.
//  (b) A leader of a later term needs votes from a quorum, which meets Q in
//      some voter V; V grants a (pre-)vote only to a candidate whose log is
//      at least as up to date as V's (and, without disrupt_leader, only
//      while V knows no leader: recv_request_vote.c). So the first later
//      leader holds E or a later entry of E's term, i.e. it got this
//      leader's AppendEntries after s, and became a candidate only when its
//      own timer fired: no earlier than s + T on its clock.
//  (c) The exceptions are the leader's own hand-over — raft_transfer sends
//      TimeoutNow, and the target starts an election at once with
//      disrupt_leader (recv_timeout_now.c); nothing else in libraft sends
//      it — and membership changes (quorums change). The Core invalidates
//      the lease before raft_transfer / raft_add / raft_assign /
//      raft_remove and again when they end, and entries stamped before an
//      invalidation never extend it (the epoch). After a transfer ended, a
//      late TimeoutNow is honoured only by a follower whose log equals the
//      leader's at the send (recv_timeout_now.c), so it lacks every entry
//      stamped later and loses to Q's voters. A node that lost its log
//      (an in-memory node restarted under the same id) votes for anyone:
//      the lease is off without a data directory.
//  (d) So: lease_until = max(lease_until, s + T * kMargin). raft_uv's
//      io->time is uv_now(), the loop's time cached when it last polled, so
//      a follower whose loop was held up (descheduled) between that poll and
//      reading our message would date its timer restart up to the hold-up
//      before s; the Core replaces it with a clock read at the call
//      (core.cc FreshTime), so the restart is dated at or after the read,
//      after s. The margin is then for clock-rate drift between machines
//      (and any step this argument missed): kMargin = 0.5, a lease of 250 ms
//      at the default T = 500 ms.
// Linearizability of a read checked at time c (its arrival a <= c) and
// executed on the engine after c: a write acknowledged before a was
// acknowledged by a leader of an earlier term (the election barrier applied
// it here before kReady), or by this node after applying it; not by a later
// leader, which cannot exist before c < s + T*kMargin. The engine only
// moves forward, so a read that pauses after the check still sees all of
// them; what it sees is committed; and a later read anywhere sees at least
// as much (a later leader holds every committed entry). A pause after the
// check only lets a concurrent write be ordered after the read.
//
// Thread safety: Take, Committed and Invalidate on the loop thread only;
// Holds and Remaining from any thread.
#ifndef MVKV_REPLICATION_INTERNAL_READ_LEASE_H_
#define MVKV_REPLICATION_INTERNAL_READ_LEASE_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "absl/time/time.h"

namespace mvkv::replication_internal {

class ReadLease final {
 public:
  static constexpr double kMargin = 0.5;

  // What an entry is tagged with when it is handed to libraft.
  struct Stamp {
    int64_t start_ns = 0;  // Now() just before raft_apply / raft_barrier
    uint64_t epoch = 0;
    uint64_t term = 0;     // the leader term it was appended in
  };

  // `election_timeout` is libraft's T; `enabled` false: Holds() never.
  ReadLease(absl::Duration election_timeout, bool enabled)
      : duration_ns_(enabled ? static_cast<int64_t>(absl::ToInt64Nanoseconds(
                                                        election_timeout) *
                                                    kMargin)
                             : 0) {}

  // CLOCK_MONOTONIC (steady_clock on Linux) in nanoseconds.
  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  bool enabled() const { return duration_ns_ > 0; }

  // Loop thread, just before the entry is handed to libraft.
  Stamp Take(uint64_t term) const { return Stamp{Now(), epoch_, term}; }

  // Loop thread: an entry stamped `stamp` committed in the term it was
  // stamped in (the caller checks the term and the role). Extends the lease
  // to stamp.start_ns + T * kMargin unless invalidated since the stamp.
  void Committed(const Stamp& stamp) {
    if (!enabled() || stamp.epoch != epoch_) return;
    const int64_t until = stamp.start_ns + duration_ns_;
    // Release: pairs with Holds' acquire (a reader that sees the lease
    // sees the loop's writes before it: the applied state it confirms).
    if (until > until_.load(std::memory_order_relaxed)) {
      until_.store(until, std::memory_order_release);
    }
  }

  // Loop thread: the lease ends now, and entries stamped before it extend
  // it no more. A seq_cst exchange (a locked read-modify-write, a full
  // barrier; no separate fence, which TSan cannot model): the clear is
  // visible to every core before whatever the loop does next
  // (raft_transfer's TimeoutNow write(2)), so a read that arrives after a
  // new leader could exist loads 0. Pairs with Holds' acquire load.
  void Invalidate() {
    ++epoch_;
    until_.exchange(0, std::memory_order_seq_cst);
  }

  // Any thread: the lease holds at `now_ns` (a read that arrived before
  // now_ns may skip the barrier).
  bool Holds(int64_t now_ns) const { return now_ns < Until(); }
  // Any thread: nanoseconds of lease left at now_ns (<= 0: none).
  int64_t Remaining(int64_t now_ns) const { return Until() - now_ns; }
  int64_t duration_ns() const { return duration_ns_; }

 private:
  // Acquire: pairs with Committed's release and Invalidate's store.
  int64_t Until() const { return until_.load(std::memory_order_acquire); }

  const int64_t duration_ns_;
  uint64_t epoch_ = 1;  // loop thread
  std::atomic<int64_t> until_{0};
};

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_READ_LEASE_H_
