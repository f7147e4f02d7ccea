// Core: one libraft server and everything that touches it, owned by one
// loop thread.
//
// Threads (a node has these four, plus the engine's own):
//   loop      owns `struct raft`, its uv I/O and TCP transport, and every
//             field below not marked otherwise; libraft calls the FSM and
//             every callback here. Nothing on it blocks.
//   persist   the commit pipeline's persist step: RaftDurability posts a
//             Proposal (one ring batch, encoded) and waits for its outcome.
//   applier   installs in the engine what the log applied (Applier).
//   worker    libuv's pool thread that streams a snapshot (snapshot_async).
// Other threads reach the loop only through the Inbox (uv_async_send).
//
// Leadership, as this node sees it (role_):
//   kFollower  refusing local commits (the engine's refusal names the leader).
//   kBarrier   raft made us leader: a barrier entry is in flight; once it is
//              applied, every entry of earlier terms has been applied here.
//   kEnabling  the applier was told to accept local commits after the last
//              applied batch (queued behind every batch applied before).
//   kReady     the applier confirmed: commits and linearizable reads served.
// Proposals are taken in kEnabling and kReady (a batch can only exist after
// the engine accepted); reads only in kReady.
//
// Invariants:
//  1. The commit timestamps of the log's batch entries strictly increase
//     and have no gaps: a proposal is taken only with nothing in flight and
//     its first timestamp applied_ts_ + 1. So a batch the engine built on a
//     state the log no longer has (a batch from an earlier leadership) is
//     refused. Along the committed log this holds across leaders because
//     each applies every earlier term's entry (its barrier) before it takes
//     a proposal.
//  2. At most one proposal is in flight (the persist step waits for each),
//     and it is identified by its raft index when applied.
//  3. applied_ts_ is the last timestamp of the batch entries applied here,
//     in log order; the applier receives every one not proposed by this
//     node in this leadership, in the same order.
#ifndef MVKV_REPLICATION_INTERNAL_CORE_H_
#define MVKV_REPLICATION_INTERNAL_CORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "mvcc/replica.h"
#include "replication/codec.h"
#include "replication/info.h"
#include "replication/internal/applier.h"
#include "replication/internal/inbox.h"
#include "replication/internal/libraft.h"
#include "replication/internal/log_budget.h"
#include "replication/internal/proposal.h"
#include "replication/internal/read_lease.h"
#include "replication/internal/transport.h"
#include "replication/options.h"

namespace mvkv::replication_internal {

class Core final {
 public:
  // `replica` must outlive the Core. `fresh`: the raft directory is empty
  // (bootstrap from options.bootstrap if given).
  Core(const replication::NodeOptions& options, std::string raft_dir,
       bool fresh, Replica* replica);
  ~Core();  // Stop()
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Before Start. Not owned; must outlive the Core's loop.
  void SetApplier(Applier* applier) { applier_ = applier; }

  // Starts the loop thread and libraft on it (loads the snapshot and log,
  // bootstraps a fresh directory, listens). Returns what that gave.
  absl::Status Start();
  // Closes libraft (pending proposals, reads and changes fail), ends the
  // loop thread and joins it. Idempotent. Not from the loop thread.
  void Stop();

  // Any thread: runs task(true) on the loop thread, or task(false) at once
  // on this one when the loop has stopped (see Inbox::Post).
  bool Post(Inbox::Task task) { return inbox_.Post(std::move(task)); }
  // Any thread: the latest report (refreshed by the loop thread).
  replication::ClusterInfo Info() const;
  // Any thread: the read lease holds now (a read that arrived before this
  // call is linearizable without a barrier: read_lease.h). With less than
  // half of it left, asks the loop to renew it (RenewLease).
  bool HoldsReadLease();

  // ---- Loop thread (reached through Post). ----
  void Propose(Proposal* proposal);
  void ConfirmLeadership(replication::StatusCallback done);
  void AddMember(replication::Member member, replication::StatusCallback done);
  void RemoveMember(uint64_t id, replication::StatusCallback done);
  void TransferLeadership(uint64_t id, replication::StatusCallback done);
  // From the applier.
  void OnAccepted(uint64_t term, uint64_t last_ts);
  void OnApplierFailed(absl::Status status);
  // Blocks the loop thread (tests: a stalled node, like SIGSTOP).
  void StallForTesting(absl::Duration d, const std::atomic<bool>* release);

 private:
  // A raft_apply of ours: a batch (proposal set until it is finished) or
  // a member record.
  struct ApplyRequest {
    struct raft_apply req {};
    Core* core = nullptr;
    Proposal* proposal = nullptr;
    uint64_t last_ts = 0;
    ReadLease::Stamp stamp;
  };
  struct BarrierRequest {
    struct raft_barrier req {};
    Core* core = nullptr;
    bool election = false;  // the new leader's barrier, else a read barrier
    uint64_t term = 0;
    ReadLease::Stamp stamp;
    std::vector<replication::StatusCallback> reads;
  };
  struct ChangeRequest;
  struct TransferRequest;
  // The snapshot being taken: pinned on the loop thread, streamed by the
  // worker, released by the finalize callback.
  struct SnapshotJob {
    Replica::SnapshotPin pin;
    replication::SnapshotHeader header;
  };
  enum class LeaderState { kFollower, kBarrier, kEnabling, kReady };

  // core.cc: start, stop, the loop.
  void RunLoop(std::promise<absl::Status>* started);
  absl::Status StartOnLoop();
  void StopOnLoop();
  static void OnCloseTimer(uv_timer_t* handle);
  void MaybeCloseRaft();
  static void OnRaftClosed(raft* r);
  static void OnCheck(uv_check_t* handle);
  static void OnTimer(uv_timer_t* handle);
  void RefreshInfo();
  void Fatal(absl::Status status);

  // core_fsm.cc: the state machine libraft drives.
  static int FsmApply(raft_fsm* fsm, const raft_buffer* buf, void** result);
  static int FsmSnapshot(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n);
  static int FsmSnapshotAsync(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n);
  static int FsmSnapshotFinalize(raft_fsm* fsm, raft_buffer* bufs[],
                                 unsigned* n);
  static int FsmRestore(raft_fsm* fsm, raft_buffer* buf);
  int Apply(const raft_buffer& buf);
  int ApplyForeign(std::string_view entry);
  int TakeSnapshot();
  int StreamSnapshot(raft_buffer* bufs[], unsigned* n);
  void FinalizeSnapshot(raft_buffer* bufs[], unsigned* n);
  int Restore(raft_buffer* buf);

  // core_leader.cc: leadership, proposals, reads.
  void CheckRole();
  // The step-down half of CheckRole, safe inside libraft's callbacks.
  void CheckLostLeadership();
  void BecomeLeader();
  void IssueElectionBarrier();
  void StepDown();
  bool TakesProposals() const;
  void FinishProposal(absl::Status status);
  static void OnApplied(struct raft_apply* req, int status, void* result);
  void ProposeMember(uint64_t id, const std::string& client_address);
  void IssueReadBarrier(bool renew_lease = false);
  void FailReads(const absl::Status& status);
  // The lease: a stamp for an entry handed to libraft now; an entry of ours
  // committed (extends the lease if nothing invalidated it since); a
  // barrier to renew it when no entry is on its way (HoldsReadLease asked).
  ReadLease::Stamp TakeLeaseStamp() const;
  void LeaseEntryCommitted(const ReadLease::Stamp& stamp);
  void RenewLease();
  absl::Status NotLeader() const;
  std::string ClientAddressOf(uint64_t id) const;

  // core_membership.cc: configuration changes.
  absl::Status CheckCanChange() const;
  void StartChange(std::unique_ptr<ChangeRequest> change);
  static void OnChanged(raft_change* req, int status);
  static void OnTransferred(struct raft_transfer* req);

  const replication::NodeOptions options_;
  const std::string raft_dir_;
  const bool fresh_;
  Replica* const replica_;
  Applier* applier_ = nullptr;

  std::thread thread_;
  // Stop has begun: the snapshot worker's wait gives up. Release stores by
  // Stop and StopOnLoop, acquire loads in Replica::WaitVisible.
  std::atomic<bool> stopping_{false};
  bool started_ = false;  // Start succeeded (the loop thread runs); Stop's

  // ---- Loop thread. ----
  uv_loop_t loop_{};
  Inbox inbox_;
  uv_check_t check_{};
  uv_timer_t timer_{};
  raft_uv_transport tcp_{};
  std::unique_ptr<TunedTransport> transport_;
  raft_io io_{};
  raft_fsm fsm_{};
  raft raft_{};
  bool raft_open_ = false;  // raft_init done, raft_close not yet called
  bool running_ = false;    // raft_start done, not stopping
  bool stop_started_ = false;
  absl::Time close_deadline_;  // StopOnLoop: wait for writes until then

  LeaderState leader_state_ = LeaderState::kFollower;
  uint64_t leader_term_ = 0;     // the term leader_state_ refers to
  bool election_barrier_ = false;  // one in flight
  uint64_t known_leader_ = 0;
  absl::Time last_leader_change_ = absl::InfinitePast();
  uint64_t leader_changes_ = 0;  // to a known leader (not to "none")

  ApplyRequest* inflight_ = nullptr;  // the proposal in Raft (invariant 2)
  uint64_t applied_ts_ = 0;           // invariant 3
  // applied_ts_ when the election barrier asked the engine to accept local
  // commits: what the engine must resume after (OnAccepted). applied_ts_
  // itself may be past it by then: the engine accepts before OnAccepted
  // reaches the loop, and this leadership's first batches can commit and
  // apply in between.
  uint64_t accept_ts_ = 0;
  // Client addresses by node id: as the log says (member records and
  // snapshots), and as this node was told (its own, the bootstrap list,
  // AddMember) for members the log has no record of yet.
  std::map<uint64_t, std::string> client_addresses_;
  std::map<uint64_t, std::string> told_addresses_;

  std::vector<replication::StatusCallback> reads_waiting_;  // next barrier
  std::vector<replication::StatusCallback> reads_in_barrier_;
  // Read barriers in flight, at most kReadBarriers: reads that arrive while
  // one is replicating get the next at once instead of waiting a round for
  // it (any barrier appended after a read arrived confirms it).
  static constexpr int kReadBarriers = 2;
  int read_barriers_ = 0;
  ChangeRequest* change_ = nullptr;  // one membership change at a time
  TransferRequest* transfer_ = nullptr;

  LogBudget budget_;
  // Extended by our committed entries, invalidated on every change of
  // leadership or membership (core_leader.cc, core_membership.cc).
  ReadLease lease_;
  // A RenewLease task is posted and has not run. Exchange (acq_rel) by
  // HoldsReadLease, store false (release) by the task on the loop.
  std::atomic<bool> renewal_posted_{false};
  absl::Status failure_;  // Fatal() ran

  // The snapshot being taken: made on the loop thread, read by the worker
  // (libuv's queue orders the two; snapshot_mu_ makes it plain for TSan).
  std::mutex snapshot_mu_;
  std::unique_ptr<SnapshotJob> snapshot_job_;

  // Counters and the report, read by any thread.
  std::atomic<uint64_t> snapshots_taken_{0};
  std::atomic<uint64_t> snapshots_installed_{0};
  std::atomic<uint64_t> snapshot_failures_{0};
  mutable std::mutex info_mu_;
  replication::ClusterInfo info_;  // guarded by info_mu_
};

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_CORE_H_
