// The engine behind Database: indexes, version chains, the snapshot
// registry and the commit pipeline.
//
// Thread safety: the reader functions (Find*, Read*, ScanAt, snapshots) are
// called from any thread inside a reclaim guard and never block. Every
// mutation of the indexes and chains is made by the single writer: whoever
// holds the writer role (writer_mu_: the pipeline's install step, or a
// committer running its own commit inline, see TryCommitInline). Commit()
// is called from any thread; it publishes a commit into the pipeline and
// waits until it is complete, or, in the fused in-memory layout with the
// ring idle, installs and completes it itself. CommitAsync() publishes a
// heap-owned commit and returns, or commits it inline the same way; completing
// it calls its `on_complete`.
//
// The steps of a commit (the words the code uses; see the glossary in
// docs/ARCHITECTURE.md):
//   publish   claim a ring slot and hand the PendingCommit to the pipeline.
//   install   validate it in commit order, assign its commit timestamp,
//             link its versions (not yet visible: newer than visible_ts)
//             and prune the chains it touched.
//   persist   hand each ring batch to Durability::PersistBatch as one group
//             commit (nothing to do without durability).
//   complete  advance visible_ts to the commit (in commit order), append
//             its key writes to the watches' change buffer, then notify
//             the committer: wake a blocking one, or call an async one's
//             on_complete.
// Layouts (Options::staged_pipeline): by default one pipeline thread runs
// install, persist and complete for each ring batch in order (the fused
// stage, with or without durability); staged, each step has its own thread.
//
// A replica (mvcc/replica.h) sends its requests through the same ring as
// kReplica commits: the writer installs replicated commits at the
// timestamps they carry, restores snapshots, and accepts or refuses local
// commits, all in ring order. A batch its Durability did not commit
// (BatchNotCommittedError) is taken back out by the writer (fused layout):
// see replica_writer.cc.
//
// Invariants:
//  1. visible_ts only grows, and every version with commit_ts <= visible_ts
//     is installed and durable.
//  2. Versions with commit_ts > visible_ts are never pruned.
//  3. The writer keeps, per chain, every version some registered snapshot or
//     the horizon (see snapshot_registry.h) may read; nothing else survives
//     a touch of the chain.
#ifndef MVKV_MVCC_INTERNAL_ENGINE_H_
#define MVKV_MVCC_INTERNAL_ENGINE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "disruptor/disruptor.h"
#include "mvcc/db.h"
#include "mvcc/internal/hash_index.h"
#include "mvcc/internal/ordered_index.h"
#include "mvcc/internal/snapshot_registry.h"
#include "mvcc/internal/version.h"

namespace mvkv::mvcc_internal {

// Guard reservation indexes for chain walks (see hash_index.h for 0-3 and
// ordered_index.h for 6-7).
inline constexpr int kVersionSlotA = 4;
inline constexpr int kVersionSlotB = 5;

class WatchHub;

struct BufferedWrite {
  bool tombstone = false;
  std::string value;
};

struct TVarWrite {
  std::shared_ptr<Record> record;
  Version* version = nullptr;  // owned until installed
};

struct ScannedRange {
  std::string start;
  std::string end;  // empty = to the last key
};

// kOpen -> kCommitted | kRolledBack, or, for Txn::CommitAsync,
// kOpen -> kCommitting -> kCommitted | kRolledBack.
enum class TxnPhase { kOpen, kCommitting, kCommitted, kRolledBack };

struct TxnState {
  Engine* engine = nullptr;
  uint64_t id = 0;
  IsolationLevel isolation = IsolationLevel::kSnapshot;
  const IsolationTraits* traits = &Traits(IsolationLevel::kSnapshot);
  uint64_t snapshot_ts = 0;
  SnapshotRegistry::Slot* slot = nullptr;  // null for kReadCommitted
  // Atomic because an async commit ends on the pipeline's completion thread
  // while the Txn's owner may look: the owner reads it (acquire) before
  // touching anything else; the completion thread writes every other field
  // first, then stores the final phase (release). Outside kOpen the owner
  // touches nothing but `phase` and, once committed, `commit_ts`.
  std::atomic<TxnPhase> phase{TxnPhase::kOpen};
  uint64_t commit_ts = 0;
  std::map<std::string, BufferedWrite, std::less<>> writes;
  std::vector<TVarWrite> tvar_writes;
  // The read set, kept when traits->records_reads (see ValidateReads).
  std::vector<std::string> read_keys;
  std::vector<std::shared_ptr<Record>> tvar_reads;
  std::vector<ScannedRange> ranges;

  ~TxnState();
};

// A replica's request to the single writer (see mvcc/replica.h), carried by
// a PendingCommit of kind kReplica. Owned by the requester, which waits.
struct ReplicaOp {
  enum class Kind { kApply, kRestore, kAccept, kRefuse };
  Kind kind = Kind::kApply;
  absl::Span<const DurableCommit> commits;                  // kApply
  uint64_t snapshot_ts = 0;                                 // kRestore
  absl::FunctionRef<bool(SnapshotEntry*)>* next = nullptr;  // kRestore
  absl::Status refusal;                                     // kRefuse
  uint64_t last_ts = 0;  // kAccept: the timestamp local commits follow
};

// One commit in flight. A blocking commit's PendingCommit lives on the
// committer's stack until `completed` is set; an async one (on_complete set)
// is heap-owned, and the pipeline owns it from publication until it hands it
// to on_complete.
struct PendingCommit {
  // kSweep asks the writer to prune every chain; kMaintenance to check the
  // snapshot limits and prune a slice of chains (neither commits anything);
  // kReplica carries a ReplicaOp.
  enum class Kind { kWrite, kSweep, kMaintenance, kReplica };
  Kind kind = Kind::kWrite;
  ReplicaOp* replica = nullptr;  // kReplica
  TxnState* txn = nullptr;      // null for a single-key autocommit write
  std::string_view key;         // single-key write
  std::string_view value;
  bool tombstone = false;

  // Results, written by the pipeline before the commit is complete.
  absl::Status status;
  uint64_t commit_ts = 0;
  std::vector<DurableWrite> durable;  // filled by install when persisting
  std::atomic<uint32_t> completed{0};  // blocking commits: set by Complete

  // Async commits: called exactly once, after every result field is final
  // and visible_ts covers the commit, by the complete step (or inline by
  // CommitAsync when the commit cannot be published). It takes ownership of
  // the PendingCommit; nothing in the pipeline touches it afterwards.
  void (*on_complete)(PendingCommit& request) = nullptr;
};

class Engine final {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const Options& options);
  // Stops the maintenance tick and drains the pipeline: every published
  // request completes; later commits get Unavailable. Reads still work.
  // Idempotent. REQUIRES: called by one thread, with no commit in progress
  // other than from completion callbacks.
  void Close();
  ~Engine();  // Close(), then frees everything.
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Options& options() const { return options_; }
  const Limits& limits() const { return options_.limits; }

  // ---- Readers (any thread, never block). ----
  uint64_t visible_ts() const {
    return visible_ts_.load(std::memory_order_acquire);
  }
  // The newest version at or below `snapshot`, or null.
  static const Version* ReadAt(ReclaimDomain::Guard& guard, const Record* r,
                               uint64_t snapshot);
  // The newest visible version (read committed / autocommit), or null.
  // Inline (below), as Find is: a point read is one function whose guard
  // state stays in registers.
  [[gnu::always_inline]] const Version* ReadLatest(ReclaimDomain::Guard& guard,
                                                   const Record* r) const;
  [[gnu::always_inline]] Record* Find(ReclaimDomain::Guard& guard, std::string_view key) const {
    return hash_.Find(guard, key, HashIndex::Hash(key));
  }
  // The newest visible version of `key` if it is not a tombstone, else null
  // (an autocommit point read). Protected while `guard` lives and the
  // guard's version slots are not protected again.
  [[gnu::always_inline]] const Version* FindLatest(ReclaimDomain::Guard& guard,
                                                   std::string_view key) const {
    const Record* r = Find(guard, key);
    const Version* v = r == nullptr ? nullptr : ReadLatest(guard, r);
    return v == nullptr || v->tombstone() ? nullptr : v;
  }
  // MultiRead's `snapshot` for "the newest visible version" (ReadLatest).
  static constexpr uint64_t kLatest = ~uint64_t{0};
  // Batched point reads: calls visit(i, v) for every i in key order, with v
  // the version keys[i] has at `snapshot` (ReadAt; kLatest: ReadLatest) or
  // null if it has none. Groups of kMultiReadGroup keys share one guard, and
  // each group issues its slots', then its records', then its versions'
  // prefetches before reading any key, so their cache misses overlap. `v`
  // is protected only during its visit; visit must be short and not block.
  // REQUIRES: every key is valid (ValidateKey).
  static constexpr std::size_t kMultiReadGroup = 16;
  void MultiRead(absl::Span<const std::string_view> keys, uint64_t snapshot,
                 absl::FunctionRef<void(std::size_t, const Version*)> visit)
      const;
  // Live pairs in [start, end) at `snapshot`, in key order, at most `limit`
  // (0 = all).
  std::vector<KeyValue> ScanAt(std::string_view start, std::string_view end,
                               std::size_t limit, uint64_t snapshot) const;

  // ---- Snapshots. ----
  // Shared: an async commit keeps the state alive after its Txn is gone.
  // `id` 0 = a fresh engine-numbered id.
  std::shared_ptr<TxnState> NewTxn(IsolationLevel isolation, uint64_t id);
  void ReleaseSnapshot(TxnState* txn);
  // A snapshot registered at exactly `ts` (see SnapshotRegistry::AcquireAt);
  // null if versions `ts` needs may already be pruned.
  SnapshotRegistry::Slot* PinAt(uint64_t ts) {
    return registry_.AcquireAt(NextTxnId(), ts);
  }
  // Temporarily registered snapshot for one autocommit scan.
  SnapshotRegistry::Slot* AcquireSnapshot(uint64_t* ts) {
    return registry_.Acquire(NextTxnId(), visible_ts_, ts);
  }
  void ReleaseSnapshot(SnapshotRegistry::Slot* slot) {
    registry_.Release(slot);
  }

  // ---- Writes. ----
  // Publishes `request` and waits until it is complete. Returns its status.
  // Waits up to commit_queue_timeout for room in a full ring.
  absl::Status Commit(PendingCommit& request);
  // Publishes `request` and returns at once. Never blocks: a full ring,
  // shutdown or a stopped pipeline set request.status and call on_complete
  // inline. REQUIRES: request.on_complete is set.
  void CommitAsync(PendingCommit& request);

  // Prunes every chain in the single writer and removes deleted keys no
  // snapshot can see. Returns once done.
  absl::Status Sweep();
  absl::Status Checkpoint(const std::string& dir);

  std::shared_ptr<Record> NewTVarRecord(Version* initial);

  Stats GetStats() const;

  // The watches' hub (watch_hub.h); null when watches are disabled.
  const std::shared_ptr<WatchHub>& watches() const { return watches_; }
  // For a state restored at `last_ts` (a replica's snapshot install): the
  // change buffer drops everything it holds, so every open watch fails as
  // fallen behind (ResourceExhausted) and resuming it is "compacted" with
  // oldest start_ts last_ts + 1: its client re-reads. A replica's restore
  // does this itself (FeedWatches, at its completion); replicated commits
  // feed the buffer commit by commit, like local ones. REQUIRES: no commit completing meanwhile
  // (the writer role in the fused layout; a drained pipeline otherwise),
  // and last_ts >= every commit_ts appended before.
  void ResetWatches(uint64_t last_ts);

  // The steps of a commit (see the file comment), run by the writer role.
  void Install(PendingCommit& request);
  void Persist(PendingCommit& request, bool end_of_batch);
  void Complete(PendingCommit& request);

 private:
  explicit Engine(const Options& options);
  void StartPipeline();
  // Claims a ring slot (waiting up to commit_queue_timeout, or not at all)
  // and publishes `request`. Unavailable after a durability failure or on
  // shutdown, ResourceExhausted when the ring stays full.
  absl::Status Publish(PendingCommit& request, bool wait_for_room);
  // Completes what was published but never processed when the pipeline
  // stopped (Unavailable); see ~Engine.
  void FailUnprocessed();
  // The end of completing: wakes a blocking committer or hands an async
  // commit to its on_complete.
  static void NotifyCommitter(PendingCommit& request);
  uint64_t NextTxnId() {
    return next_txn_id_.fetch_add(1, std::memory_order_relaxed);
  }
  absl::Status LoadDurableState();
  void MaintenanceLoop();
  void StopMaintenance();

  // Writer: collects the snapshot view, then enforces the snapshot limits.
  void RefreshView();
  // Releases over-age snapshots and, past the budget, the oldest one, and
  // prunes what they alone needed incrementally (the release pass): a
  // released snapshot leaves the view at once (its owner's next read fails),
  // and each install batch prunes kReleasePassPerBatch more chains of one
  // lap over the index, the maintenance tick its background slice. While a
  // pass runs, the budget releases nothing more (RetainedBytes still counts
  // what the pass will free). Bounded work per call.
  void EnforceLimits();
  // The explicit Sweep: finishes any release pass and releases oldest
  // snapshots until the budget holds, sweeping every chain after each.
  // O(keys x releases).
  void EnforceLimitsNow();
  bool OverBudget() const;
  // Revokes the oldest registered snapshot; false if there is none.
  bool ReleaseOldest();
  // After a release: refreshes the view and starts a lap.
  void StartReleasePass();
  void ContinueReleasePass(uint64_t n);
  // The two counters are read separately while TVars may be created or
  // dropped on other threads, so the difference is clamped: a torn read
  // must never look like a huge retention (it would release every snapshot).
  uint64_t RetainedBytes() const {
    const uint64_t all = version_bytes_.load(std::memory_order_relaxed);
    const uint64_t heads = head_bytes_.load(std::memory_order_relaxed);
    return all > heads ? all - heads : 0;
  }

  // In the fused in-memory layout: runs a commit (blocking, or async: then
  // its on_complete too, under the role) on the caller's
  // thread when the pipeline is idle and the writer role is free, or frees
  // up within a few tries (no hand-off, no wake-up). False: not taken,
  // publish it instead.
  bool TryCommitInline(PendingCommit& request);
  // Nothing claimed in the ring that the (first) stage has not processed.
  bool RingIdle() const;
  // The first half of the complete step: advances visible_ts to the
  // commit (writer role, in commit order). An inline commit stops here: its
  // committer is the caller.
  void AdvanceVisible(const PendingCommit& request);
  // The end of an install batch: the next install collects a fresh view.
  void EndInstallBatch();
  // The second part of the complete step (in commit order, after
  // AdvanceVisible): the commit's key writes go to the change buffer.
  void FeedWatches(const PendingCommit& request);

  // Install helpers (writer only).
  // The commit-time checks of the transaction's IsolationTraits.
  absl::Status Validate(const TxnState& txn);
  absl::Status ValidateWrites(const TxnState& txn);  // first committer wins
  absl::Status ValidateReads(const TxnState& txn);   // read set and ranges
  void InstallKey(std::string_view key, std::string_view value, bool tombstone,
                  uint64_t ts);
  void InstallVersion(Record* r, Version* v, uint64_t ts);
  void Prune(Record* r);
  void SweepAll();
  // The background pass: prunes the next `n` chains after the last one it
  // visited, wrapping around (at most once per call). Returns the number
  // pruned (< n only when the index holds fewer).
  uint64_t SweepSome(int n);
  void RemoveRecord(Record* r);
  void RetireVersion(Version* v);

  // Replicas and batches taken back (replica_writer.cc; writer only).
  void InstallReplicaOp(PendingCommit& request);
  absl::Status ApplyReplicated(absl::Span<const DurableCommit> commits);
  absl::Status RestoreSnapshot(uint64_t ts,
                               absl::FunctionRef<bool(SnapshotEntry*)> next);
  // Merges the engine's keys with a snapshot's, key by key (RestoreSnapshot).
  absl::Status MergeSnapshot(uint64_t ts,
                             absl::FunctionRef<bool(SnapshotEntry*)> next);
  // Takes every local commit of the current ring batch back out (their
  // versions, accounts, and records left with no version), fails them with
  // `why` and returns last_ts_ to before the first of them.
  void DiscardLocal(const absl::Status& why);
  void UninstallCommit(const PendingCommit& request);
  // Unlinks r's newest version (installed by a commit being taken back).
  void UnlinkNewest(Record* r);
  // Revokes every registered snapshot older than `ts` (a restore to `ts`
  // replaces the history they would read).
  void RevokeSnapshotsBefore(uint64_t ts);

  const Options options_;
  HashIndex hash_;
  OrderedIndex ordered_;
  SnapshotRegistry registry_;

  // (1) release stores by the complete step (AdvanceVisible); acquire (or
  // seq_cst, in the snapshot registry's protocol) loads by readers.
  std::atomic<uint64_t> visible_ts_{0};
  std::atomic<uint64_t> next_txn_id_{1};

  // The writer role: whoever holds writer_mu_ is the single writer. The
  // fused stage holds it for each ring batch; in the fused in-memory layout
  // (caller_runs_) a blocking committer that finds the ring idle may take it
  // and install and complete its own commit (TryCommitInline). Other
  // layouts never contend for it.
  std::mutex writer_mu_;
  const bool caller_runs_;

  // Writer-only state (guarded by the writer role).
  uint64_t last_ts_ = 0;
  std::string sweep_cursor_;  // next key for the background pass
  // Chains left in the current release pass (0: none running).
  uint64_t release_pass_left_ = 0;
  SnapshotRegistry::View view_;
  bool view_fresh_ = false;
  std::vector<DurableCommit> batch_;
  std::vector<PendingCommit*> batch_commits_;  // batch_[i] is theirs
  std::vector<PendingCommit*> batch_requests_;
  // Set at Open (null if watches are disabled), then only read.
  std::shared_ptr<WatchHub> watches_;
  // FeedWatches' scratch: only whoever completes touches it (the writer
  // role, or the staged pipeline's complete thread).
  std::vector<DurableWrite> watch_writes_;
  // Local commits: accepted, or refused with refusal_ (a replica that is not
  // its group's leader; see ReplicaOp).
  bool accepting_ = true;
  absl::Status refusal_;

  bool closed_ = false;  // Close() ran; touched by the closing thread only

  // Set once by the persist step on a durability error; never cleared.
  std::atomic<bool> failed_{false};
  absl::Status failure_;  // written before failed_ (release)

  // Accounts, written by the writer (relaxed), read by GetStats.
  std::atomic<uint64_t> live_keys_{0};
  std::atomic<uint64_t> versions_{0};
  std::atomic<uint64_t> version_bytes_{0};
  // The newest version of each chain: everything else is retention.
  std::atomic<uint64_t> chains_{0};
  std::atomic<uint64_t> head_bytes_{0};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> aborts_write_{0};
  std::atomic<uint64_t> aborts_read_{0};
  std::atomic<uint64_t> aborts_too_old_{0};
  std::atomic<uint64_t> batches_{0};

  // The maintenance tick (see Options::maintenance_interval).
  std::thread maintenance_;
  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  bool maintenance_stop_ = false;  // guarded by maintenance_mu_

  struct Stage;
  std::vector<std::unique_ptr<Stage>> stages_;
  std::unique_ptr<disruptor::Disruptor<PendingCommit*>> pipeline_;
};

inline const Version* Engine::ReadLatest(ReclaimDomain::Guard& guard,
                                         const Record* r) const {
  int slot = kVersionSlotA;
  for (const Version* v = guard.Protect(r->newest, slot, r); v != nullptr;) {
    // Re-reading visible_ts per version keeps the read linearizable: the
    // version returned was the newest visible one at that moment, and the
    // writer never prunes the newest version at or below its horizon.
    if (v->commit_ts <= visible_ts()) return v;
    if (v->in_record) break;  // the oldest (version.h, Invariant 4)
    slot = slot == kVersionSlotA ? kVersionSlotB : kVersionSlotA;
    v = guard.Protect(v->older, slot, v);
  }
  return nullptr;
}

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_ENGINE_H_
