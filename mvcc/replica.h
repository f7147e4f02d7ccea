// Replica: the engine entry points a replication layer drives. It knows
// nothing of Raft or of any network: a replicated log tells a Replica which
// commits to install, when to restore a snapshot, and whether this node may
// commit locally (it leads its group) or must refuse.
//
// Every entry point that changes the engine runs in the engine's single
// writer, in commit-pipeline order (a PendingCommit of kind kReplica), so the
// single-writer principle and the pruning and visibility rules are exactly
// those of local commits:
//   * Apply installs exactly the given versions at exactly the given commit
//     timestamps (the leader's), prunes like a local commit, and advances
//     visible_ts to the last one. Local commits, when accepted, continue
//     after the last timestamp installed: a new leader resumes after the last
//     commit it applied.
//   * While refusing, local commits fail with the refusal status (e.g.
//     Unavailable "not the leader; the leader is node 2 at ...").
//   * A batch the Durability answers with BatchNotCommittedError
//     (mvcc/durability.h) is taken back out by the writer: its versions are
//     unlinked, the accounts undone, records left without a version dropped,
//     the timestamp counter returns to before it, and its committers get
//     that Unavailable status (never OK, never a half-applied commit). A
//     replicated commit or a restore arriving in the same ring batch as
//     local commits not yet persisted does the same to them first.
//   * A snapshot is the state at one MVCC timestamp (every live key with its
//     commit timestamp), read without any lock while commits go on;
//     Restore replaces the whole state by one, atomically for readers, and
//     revokes the open snapshots older than it (they would read the wrong
//     history: their next read or commit is snapshot too old).
//
// TVars are local to each process: their writes are not replicated (a
// commit that writes only TVars replicates as a commit with no writes).
//
// Requirements: the Database was opened with Options::durability set (the
// replication layer's, whose PersistBatch replicates) and the default fused
// pipeline layout (staged_pipeline = false), because taking a batch back
// needs the persist step to run in the writer.
//
// Thread safety: thread-safe. Apply, Restore, AcceptLocalCommits and
// RefuseLocalCommits block until the writer has run them (they wait for room
// in a full ring like a blocking commit); they take effect in the order they
// return. Must not be called from a commit completion callback (they would
// wait for the thread they run on).
#ifndef MVKV_MVCC_REPLICA_H_
#define MVKV_MVCC_REPLICA_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "mvcc/db.h"
#include "mvcc/durability.h"

namespace mvkv {

namespace mvcc_internal {
class Engine;
}  // namespace mvcc_internal

class Replica final {
 public:
  // Attaches to `db` (not owned; must outlive the Replica) and makes it
  // refuse local commits with `refusal` until AcceptLocalCommits. Call it
  // before anyone else commits. InvalidArgument if db has no Durability, uses
  // the staged pipeline, or `refusal` is OK; Unavailable if db is closing.
  static absl::StatusOr<std::unique_ptr<Replica>> Attach(Database& db,
                                                          absl::Status refusal);
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Installs `commits` (ascending commit timestamps, all after the last one
  // installed) and returns once they are visible. An empty span is a no-op.
  // DataLoss if a timestamp does not follow the previous one (the log and
  // this engine disagree: nothing of `commits` is installed); Unavailable on
  // shutdown. The views in `commits` need only live until the call returns.
  absl::Status Apply(absl::Span<const DurableCommit> commits);

  // From now on local commits are accepted; they get timestamps after the
  // returned one (the last commit installed). Unavailable on shutdown.
  absl::StatusOr<uint64_t> AcceptLocalCommits();
  // From now on local commits fail with `refusal` (not OK: InvalidArgument).
  absl::Status RefuseLocalCommits(absl::Status refusal);

  // A registered snapshot at one timestamp; released when destroyed.
  class SnapshotPin final {
   public:
    SnapshotPin(SnapshotPin&& other) noexcept;
    SnapshotPin& operator=(SnapshotPin&& other) noexcept;
    ~SnapshotPin();
    uint64_t ts() const { return ts_; }

   private:
    friend class Replica;
    SnapshotPin(mvcc_internal::Engine* engine, void* slot, uint64_t ts)
        : engine_(engine), slot_(slot), ts_(ts) {}
    mvcc_internal::Engine* engine_ = nullptr;
    void* slot_ = nullptr;  // a SnapshotRegistry::Slot
    uint64_t ts_ = 0;
  };
  // Registers a snapshot at `ts`, which may be ahead of visible_ts (commits
  // the log applied that the engine has not shown yet): pruning keeps what
  // it needs from now on. FailedPrecondition if versions `ts` needs may have
  // been pruned already (ts is older than the writer's horizon).
  absl::StatusOr<SnapshotPin> PinSnapshot(uint64_t ts);

  // Waits (polling) until visible_ts >= ts. DeadlineExceeded after
  // `timeout`; Cancelled as soon as *cancel (if given) is true.
  absl::Status WaitVisible(uint64_t ts, absl::Duration timeout,
                           const std::atomic<bool>* cancel = nullptr) const;

  // Calls `sink` for every live key at pin.ts(), in ascending key order,
  // with its value and commit timestamp. No lock: reads `chunk` keys per
  // reclaim guard. REQUIRES: visible_ts >= pin.ts() (WaitVisible). OutOfRange
  // (snapshot too old) if the engine released the pin meanwhile (its limits,
  // or a Restore): what the sink got is then not a snapshot.
  absl::Status ReadSnapshot(const SnapshotPin& pin,
                            absl::FunctionRef<void(const SnapshotEntry&)> sink,
                            std::size_t chunk = 1024) const;

  // Replaces the whole state by the snapshot at `snapshot_ts` whose entries
  // `next` yields (true and *entry filled, or false at the end): live keys
  // in strictly ascending order, each with a commit timestamp in
  // [1, snapshot_ts]. The entry's views need only live until the next call.
  // Returns once the new state is visible; local commits of the current
  // ring batch not yet replicated are taken back first. DataLoss if
  // snapshot_ts is older than the last commit installed (nothing changed),
  // or if the entries break the rules above or contradict a commit
  // installed here: the state is then partly restored and must be
  // abandoned (a replication layer validates snapshots before).
  absl::Status Restore(uint64_t snapshot_ts,
                       absl::FunctionRef<bool(SnapshotEntry*)> next);

  // The newest visible commit timestamp (this replica's applied commit).
  uint64_t visible_ts() const;

 private:
  explicit Replica(mvcc_internal::Engine* engine) : engine_(engine) {}
  mvcc_internal::Engine* const engine_;
};

}  // namespace mvkv

#endif  // MVKV_MVCC_REPLICA_H_
