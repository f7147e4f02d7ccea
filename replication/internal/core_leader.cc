// Core: leadership as this node sees it, proposals (the persist step's
// batches), member records, and linearizable reads.
//
// Reads: by leader lease when NodeOptions::read_lease (read_lease.h has the
// argument: every entry of this term that commits proves that no other node
// can lead before its append time + election_timeout / 2; no per-follower
// acknowledgement time is needed). HoldsReadLease answers on the caller's
// thread; the loop only stamps entries (TakeLeaseStamp), extends the lease
// when they commit, invalidates it on every change of role or membership
// (StepDown, BecomeLeader, StopOnLoop; core_membership.cc before
// raft_transfer / raft_add / raft_assign / raft_remove and when they end),
// and renews it with a barrier when reads find it half spent and no entry
// of ours is on its way. Without the lease (or while it is out): ReadIndex-
// style, one raft_barrier for every read waiting when it is issued, up to
// kReadBarriers of them in flight (core.h). A barrier entry of this term
// committed by a quorum after a read arrived proves that no other leader
// could have acknowledged a write before that read that this node lacks;
// every entry before the barrier is then applied here (those of earlier
// terms are even installed: reads need kReady).
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "replication/codec.h"
#include "replication/internal/core.h"
#include "replication/internal/not_leader.h"
#include "replication/internal/raft_status.h"

namespace mvkv::replication_internal {

namespace {

// `cause`'s message and payloads (e.g. the leader hint), marked as a batch
// that did not commit.
absl::Status NotCommitted(const absl::Status& cause) {
  absl::Status s = BatchNotCommittedError(
      std::string_view(cause.message().data(), cause.message().size()));
  cause.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    s.SetPayload(url, payload);
  });
  return s;
}

}  // namespace

// ---- Leadership. ----

void Core::CheckRole() {
  if (!running_ || !failure_.ok()) return;
  const bool leading = raft_state(&raft_) == RAFT_LEADER;
  CheckLostLeadership();
  if (leading && leader_state_ == LeaderState::kFollower) {
    BecomeLeader();
  } else if (leader_state_ == LeaderState::kBarrier && !election_barrier_) {
    IssueElectionBarrier();  // refused earlier (a transfer in progress)
  }
  raft_id leader = 0;
  const char* address = nullptr;
  raft_leader(&raft_, &leader, &address);
  if (leader != known_leader_) {
    known_leader_ = leader;
    last_leader_change_ = absl::Now();
    if (leader != 0) ++leader_changes_;
    // The engine's refusal names the new leader.
    if (leader_state_ == LeaderState::kFollower) {
      applier_->Push(ApplierItem{.kind = ApplierItem::Kind::kRefuse,
                                 .refusal = NotLeader()});
    }
    RefreshInfo();
  }
}

void Core::CheckLostLeadership() {
  if (leader_state_ == LeaderState::kFollower) return;
  if (raft_state(&raft_) != RAFT_LEADER ||
      raft_.current_term != leader_term_) {
    StepDown();
  }
}

void Core::BecomeLeader() {
  lease_.Invalidate();
  leader_state_ = LeaderState::kBarrier;
  leader_term_ = raft_.current_term;
  IssueElectionBarrier();
  RefreshInfo();
}

void Core::IssueElectionBarrier() {
  auto* b = new BarrierRequest;
  b->req.data = b;
  b->core = this;
  b->election = true;
  b->term = leader_term_;
  auto done = [](struct raft_barrier* req, int status) {
    std::unique_ptr<BarrierRequest> b(static_cast<BarrierRequest*>(req->data));
    Core* self = b->core;
    self->election_barrier_ = false;
    if (status != 0 || !self->running_ ||
        self->leader_state_ != LeaderState::kBarrier ||
        self->leader_term_ != b->term ||
        raft_state(&self->raft_) != RAFT_LEADER) {
      return;  // CheckRole steps down or retries
    }
    // Every entry of earlier terms is applied here now: the applier
    // accepts local commits once it has installed them all.
    self->leader_state_ = LeaderState::kEnabling;
    self->accept_ts_ = self->applied_ts_;
    self->applier_->Push(
        ApplierItem{.kind = ApplierItem::Kind::kAccept, .term = b->term});
  };
  if (raft_barrier(&raft_, &b->req, done) != 0) {
    delete b;
    return;
  }
  election_barrier_ = true;
}

void Core::OnAccepted(uint64_t term, uint64_t last_ts) {
  if (!running_ || leader_state_ != LeaderState::kEnabling ||
      leader_term_ != term || raft_state(&raft_) != RAFT_LEADER) {
    return;  // a stale answer: we stepped down meanwhile
  }
  if (last_ts != accept_ts_) {
    Fatal(absl::DataLossError(absl::StrCat(
        "the engine resumes after commit ", last_ts,
        " but the log applied up to ", accept_ts_)));
    return;
  }
  leader_state_ = LeaderState::kReady;
  // Client addresses the log does not carry yet: ours, and the bootstrap
  // members' (the first leader of a new group records them all).
  for (const auto& [id, address] : told_addresses_) {
    auto it = client_addresses_.find(id);
    const bool self = id == options_.node_id;
    if (it == client_addresses_.end() || (self && it->second != address)) {
      ProposeMember(id, address);
    }
  }
  IssueReadBarrier();
  RefreshInfo();
}

void Core::StepDown() {
  lease_.Invalidate();
  leader_state_ = LeaderState::kFollower;
  leader_term_ = 0;
  FailReads(NotLeader());
  if (failure_.ok()) {
    applier_->Push(ApplierItem{.kind = ApplierItem::Kind::kRefuse,
                               .refusal = NotLeader()});
  }
  RefreshInfo();
}

absl::Status Core::NotLeader() const {
  raft_id leader = 0;
  const char* address = nullptr;
  if (running_) raft_leader(const_cast<raft*>(&raft_), &leader, &address);
  return NotLeaderError(options_.node_id, leader, ClientAddressOf(leader));
}

std::string Core::ClientAddressOf(uint64_t id) const {
  if (id == 0) return "";
  if (auto it = client_addresses_.find(id); it != client_addresses_.end()) {
    return it->second;
  }
  if (auto it = told_addresses_.find(id); it != told_addresses_.end()) {
    return it->second;
  }
  return "";
}

// ---- Proposals. ----

bool Core::TakesProposals() const {
  return running_ && failure_.ok() && inflight_ == nullptr &&
         (leader_state_ == LeaderState::kEnabling ||
          leader_state_ == LeaderState::kReady) &&
         raft_state(const_cast<raft*>(&raft_)) == RAFT_LEADER &&
         raft_.current_term == leader_term_ && raft_.transfer == nullptr;
}

void Core::Propose(Proposal* p) {
  absl::Status refused;
  if (!running_) {
    refused = BatchNotCommittedError("not committed: the node is shutting down");
  } else if (!TakesProposals()) {
    refused = NotCommitted(failure_.ok() ? NotLeader() : failure_);
  } else if (p->first_ts != applied_ts_ + 1) {
    // Invariant 1: built on a state the log has left behind.
    refused = BatchNotCommittedError(absl::StrCat(
        "not committed: commits ", p->first_ts, "..", p->last_ts,
        " do not follow the log's last applied commit ", applied_ts_));
  }
  if (refused.ok()) {
    auto* req = new ApplyRequest;
    req->req.data = req;
    req->core = this;
    req->proposal = p;
    req->last_ts = p->last_ts;
    req->stamp = TakeLeaseStamp();
    if (const int rv = raft_apply(&raft_, &req->req, &p->entry, 1, &OnApplied);
        rv != 0) {
      delete req;
      refused = NotCommitted(RaftStatus(rv, "not committed", raft_errmsg(&raft_)));
    } else {
      inflight_ = req;  // libraft owns p->entry now
      return;
    }
  }
  raft_free(p->entry.base);
  p->Finish(std::move(refused));
}

void Core::FinishProposal(absl::Status status) {
  if (inflight_ == nullptr) return;
  Proposal* p = inflight_->proposal;
  inflight_->proposal = nullptr;  // OnApplied frees the request later
  inflight_ = nullptr;
  p->Finish(std::move(status));
}

void Core::OnApplied(struct raft_apply* req, int status, void* /*result*/) {
  std::unique_ptr<ApplyRequest> r(static_cast<ApplyRequest*>(req->data));
  Core* self = r->core;
  if (status == 0) self->LeaseEntryCommitted(r->stamp);
  if (status == 0 || r->proposal == nullptr) return;  // done in Apply()
  if (self->inflight_ == r.get()) self->inflight_ = nullptr;
  Proposal* p = r->proposal;
  if (status == RAFT_LEADERSHIPLOST || status == RAFT_SHUTDOWN) {
    p->Finish(BatchNotCommittedError(absl::StrCat(
        "outcome unknown: node ", self->options_.node_id,
        " lost its leadership while this commit was being replicated; it may "
        "or may not have committed (check before retrying)")));
    return;
  }
  // A failed log write: libraft truncates its own log, but followers may
  // hold the entry and commit it; proposing those timestamps again could
  // put two entries with one timestamp in the log. This node leaves.
  absl::Status cause = RaftStatus(status, "raft log write failed");
  p->Finish(NotCommitted(cause));
  self->Fatal(cause);
}

void Core::ProposeMember(uint64_t id, const std::string& client_address) {
  const std::string record =
      replication::EncodeMember({options_.cluster_id, id, client_address});
  raft_buffer buf{raft_malloc(record.size()), record.size()};
  if (buf.base == nullptr) return;
  std::memcpy(buf.base, record.data(), record.size());
  auto* req = new ApplyRequest;
  req->req.data = req;
  req->core = this;
  req->stamp = TakeLeaseStamp();
  if (raft_apply(&raft_, &req->req, &buf, 1, &OnApplied) != 0) {
    raft_free(buf.base);
    delete req;  // the next leadership proposes it again
  }
}

// ---- Reads. ----

void Core::ConfirmLeadership(replication::StatusCallback done) {
  if (!running_ || !failure_.ok()) {
    std::move(done)(failure_.ok()
                        ? absl::UnavailableError("the node is shutting down")
                        : failure_);
    return;
  }
  if (raft_state(&raft_) != RAFT_LEADER) {
    std::move(done)(NotLeader());
    return;
  }
  reads_waiting_.push_back(std::move(done));
  // Not ready yet: OnAccepted issues it.
  if (leader_state_ == LeaderState::kReady) IssueReadBarrier();
}

void Core::IssueReadBarrier(bool renew_lease) {
  if (read_barriers_ >= kReadBarriers ||
      (reads_waiting_.empty() && !renew_lease)) {
    return;
  }
  auto* b = new BarrierRequest;
  b->req.data = b;
  b->core = this;
  b->term = leader_term_;
  b->stamp = TakeLeaseStamp();
  b->reads = std::move(reads_waiting_);
  reads_waiting_.clear();
  auto done = [](struct raft_barrier* req, int status) {
    std::unique_ptr<BarrierRequest> b(static_cast<BarrierRequest*>(req->data));
    Core* self = b->core;
    --self->read_barriers_;
    const bool confirmed = status == 0 && self->running_ &&
                           self->leader_state_ == LeaderState::kReady &&
                           self->leader_term_ == b->term;
    if (confirmed) self->LeaseEntryCommitted(b->stamp);
    const absl::Status s =
        confirmed ? absl::OkStatus()
        : self->running_ ? self->NotLeader()
                         : absl::UnavailableError("the node is shutting down");
    for (replication::StatusCallback& read : b->reads) std::move(read)(s);
    if (confirmed) self->IssueReadBarrier();  // the reads that came meanwhile
  };
  if (const int rv = raft_barrier(&raft_, &b->req, done); rv != 0) {
    const absl::Status s = rv == RAFT_NOTLEADER ? NotLeader()
                                                : RaftStatus(rv, "read barrier");
    for (replication::StatusCallback& read : b->reads) std::move(read)(s);
    delete b;
    return;
  }
  ++read_barriers_;
}

void Core::FailReads(const absl::Status& status) {
  std::vector<replication::StatusCallback> reads = std::move(reads_waiting_);
  reads_waiting_.clear();
  for (replication::StatusCallback& read : reads) std::move(read)(status);
}

// ---- The read lease. ----

ReadLease::Stamp Core::TakeLeaseStamp() const {
  return lease_.Take(raft_.current_term);
}

void Core::LeaseEntryCommitted(const ReadLease::Stamp& stamp) {
  // Committed in the term it was appended in, by the ready leader of that
  // term, with no hand-over or membership change under way (read_lease.h
  // (c); the epoch covers those that began and ended since the stamp).
  if (!running_ || !failure_.ok() || leader_state_ != LeaderState::kReady ||
      stamp.term != leader_term_ || raft_.current_term != leader_term_ ||
      raft_state(&raft_) != RAFT_LEADER || change_ != nullptr ||
      transfer_ != nullptr || raft_.transfer != nullptr ||
      raft_.leader_state.change != nullptr) {
    return;
  }
  lease_.Committed(stamp);
}

bool Core::HoldsReadLease() {
  if (!lease_.enabled()) return false;
  const int64_t now = ReadLease::Now();
  const int64_t left = lease_.Remaining(now);
  if (left <= 0) return false;
  if (left < lease_.duration_ns() / 2 &&
      !renewal_posted_.exchange(true, std::memory_order_acq_rel)) {
    Post([this](bool on_loop) {
      renewal_posted_.store(false, std::memory_order_release);
      if (on_loop) RenewLease();
    });
  }
  return true;
}

void Core::RenewLease() {
  // An entry of ours on its way renews it when it commits: a proposal, or
  // a read barrier (which carries the reads that found the lease out).
  if (!running_ || !failure_.ok() || leader_state_ != LeaderState::kReady ||
      inflight_ != nullptr || read_barriers_ > 0) {
    return;
  }
  IssueReadBarrier(/*renew_lease=*/true);
}

}  // namespace mvkv::replication_internal
