// Node: one member of a replicated mvkv group. It owns a Database whose
// commits go through a Raft log (canonical's libraft, TCP between peers):
//
//   * One log entry per commit-pipeline ring batch: the leader's persist
//     step encodes the batch's commits (timestamps and writes) as one entry
//     and its commits complete (visible, acknowledged) once a quorum has the
//     entry and it is applied on the leader: "visible only when durable",
//     with the quorum as the durability mode.
//   * Every replica installs exactly those versions at those timestamps
//     (mvcc/replica.h), so a snapshot at timestamp S reads the same on every
//     replica that has applied S.
//   * The Raft log is the write-ahead log; snapshots are the engine's state
//     at one MVCC timestamp, streamed without a lock; compaction keeps the
//     log within NodeOptions' entry and byte bounds, and a node that is too
//     far behind (new, restarted, stalled) catches up by snapshot.
//   * A new leader applies every earlier entry (a barrier), resumes
//     timestamps after the last applied commit, and only then accepts
//     commits; elsewhere commits fail with Unavailable naming the leader
//     (LeaderHint in info.h). A commit whose batch was in flight when the
//     leader lost its leadership fails with Unavailable: it may or may not
//     have committed (never a false OK, never half applied).
//   * Restarting a node (or the whole group) recovers from its directory
//     (NodeOptions::data_dir; without one the node is in memory and forgets
//     everything when closed).
//
// Reads: the Database serves reads on every node at its applied state
// (stale reads: Database::GetStats().visible_ts is the applied commit
// timestamp). For a linearizable read on the leader, call
// ConfirmLeadership (or HoldsReadLease) first and read after it succeeds:
// by leader lease (NodeOptions::read_lease; the argument is in
// replication/internal/read_lease.h), else a barrier per batch of reads.
//
// Thread safety: all methods are thread-safe. The asynchronous ones call
// their StatusCallback exactly once, on the node's loop thread (see info.h:
// short, non-blocking, no Close) — except ConfirmLeadership under a valid
// lease, which calls it at once on the calling thread.
#ifndef MVKV_REPLICATION_NODE_H_
#define MVKV_REPLICATION_NODE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mvcc/db.h"
#include "replication/info.h"
#include "replication/options.h"

namespace mvkv::replication_internal {
class Applier;
class Core;
class NodeDir;
class RaftDurability;
}  // namespace mvkv::replication_internal

namespace mvkv {
class Replica;
}  // namespace mvkv

namespace mvkv::replication {

class Node final {
 public:
  // Validates `options` (InvalidArgument, nothing written), opens the
  // directory (see replication/internal/node_dir.h for its errors: another
  // cluster's or node's directory is FailedPrecondition, nothing written),
  // opens a Database with `db_options` (its durability must be unset and its
  // pipeline fused: InvalidArgument), restores it from the directory's
  // snapshot and log, bootstraps a fresh directory from options.bootstrap,
  // and starts serving Raft on options.raft_address (Unavailable if it
  // cannot listen; a fresh directory is then left as it was found). Returns
  // before an election: commits are refused until this node leads and has
  // caught up (ClusterInfo::ready). Sets SIGPIPE to SIG_IGN if it was
  // SIG_DFL (libuv writes to peers that may have gone).
  static absl::StatusOr<std::unique_ptr<Node>> Open(const NodeOptions& options,
                                                    Options db_options = Options());

  // Close().
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Leaves Raft (a leader's commits in flight fail with Unavailable; the
  // others elect a new leader), stops the threads, drains and closes the
  // Database. Idempotent. Not from a StatusCallback.
  void Close();

  // The replicated database. Valid until Close. Commits on a node that is
  // not the ready leader fail with Unavailable (LeaderHint names the leader).
  Database& db() { return *db_; }

  // A report of this node and its group (refreshed every 50 ms and on
  // every change of role).
  ClusterInfo Info() const;

  // OK once this node is confirmed leader at a point after the call: a read
  // started then (at the latest visible state) is linearizable. With the
  // read lease held, at once on the calling thread; else batched: one Raft
  // barrier confirms every read waiting when it is issued (and renews the
  // lease). Unavailable (with LeaderHint) on a follower, or when leadership
  // is lost meanwhile; a leader still catching up after its election
  // answers once it is ready.
  void ConfirmLeadership(StatusCallback done);
  // True if this node holds the read lease now: a read that arrived before
  // this call and reads the engine after it is linearizable, with no Raft
  // round. False (use ConfirmLeadership) when the lease is off, out, or
  // this node does not lead. Cheap: one clock read and one atomic load.
  bool HoldsReadLease();

  // Membership, on the ready leader only (elsewhere Unavailable with
  // LeaderHint); one change at a time (FailedPrecondition otherwise).
  // AddMember: a fresh node started with an empty bootstrap (join) at
  // member.raft_address becomes a voter once it caught up (by snapshot when
  // the log was compacted). InvalidArgument for a bad id or address,
  // AlreadyExists for an id or raft address already in use, Unavailable if
  // it did not catch up in time (it stays a spare; add it again to retry).
  void AddMember(Member member, StatusCallback done);
  // NotFound if not a member; FailedPrecondition for the last voter. A
  // leader removing itself steps down once the change is committed.
  void RemoveMember(uint64_t id, StatusCallback done);
  // Hands leadership to voter `id` (0: any). OK once it leads;
  // DeadlineExceeded if it did not within an election timeout;
  // InvalidArgument for this node or a non-voter, NotFound for a stranger.
  void TransferLeadership(uint64_t id, StatusCallback done);

  // Tests: blocks this node's loop thread for `d`, or until *release is true
  // (libraft stops, as under SIGSTOP, while the kernel keeps its sockets
  // open). Returns once the stall has begun. `release` must outlive it.
  void StallForTesting(absl::Duration d,
                       const std::atomic<bool>* release = nullptr);
  // Tests: `hook` runs once, on the applier thread, the next time this
  // node's engine accepts local commits (it became leader), before the loop
  // thread is told; while it blocks, this leadership's first batches can
  // commit and apply ahead of the loop's accept check (the order fixed in
  // ad75902).
  void OnNextAcceptForTesting(std::function<void()> hook);

 private:
  Node();

  std::unique_ptr<replication_internal::NodeDir> dir_;
  std::unique_ptr<replication_internal::RaftDurability> durability_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<replication_internal::Core> core_;
  std::unique_ptr<replication_internal::Applier> applier_;
  bool closed_ = false;
  std::mutex accept_hook_mu_;
  std::function<void()> accept_hook_;  // guarded by accept_hook_mu_
};

}  // namespace mvkv::replication

#endif  // MVKV_REPLICATION_NODE_H_
