// Core: changing the group while it serves. One change at a time (libraft
// allows one configuration change in flight), only on the ready leader.
//   add       member record (its client address), raft_add as a spare, then
//             raft_assign to voter: libraft catches the node up first
//             (entries, or a snapshot when the log no longer has what it
//             needs) and commits the new configuration after.
//   remove    raft_remove; never the last voter.
//   transfer  raft_transfer; done when the target leads, or failed after an
//             election timeout.
#include <utility>

#include "absl/strings/str_cat.h"
#include "replication/internal/core.h"
#include "replication/internal/raft_status.h"

namespace mvkv::replication_internal {

struct Core::ChangeRequest {
  enum class Step { kAdd, kAssign, kRemove };
  raft_change req{};
  Core* core = nullptr;
  Step step = Step::kAdd;
  replication::Member member;  // kAdd, kAssign: member.id; kRemove: member.id
  replication::StatusCallback done;
};

struct Core::TransferRequest {
  struct raft_transfer req{};
  Core* core = nullptr;
  uint64_t target = 0;  // 0: libraft picks a voter
  replication::StatusCallback done;
};

namespace {

const raft_server* Find(const raft& r, uint64_t id) {
  for (unsigned i = 0; i < r.configuration.n; ++i) {
    if (r.configuration.servers[i].id == id) return &r.configuration.servers[i];
  }
  return nullptr;
}

}  // namespace

absl::Status Core::CheckCanChange() const {
  if (!running_) return absl::UnavailableError("the node is shutting down");
  if (!failure_.ok()) return failure_;
  if (leader_state_ != LeaderState::kReady) return NotLeader();
  if (change_ != nullptr || raft_.leader_state.change != nullptr) {
    return absl::FailedPreconditionError(
        "another membership change is in progress; retry when it is done");
  }
  if (transfer_ != nullptr || raft_.transfer != nullptr) {
    return absl::FailedPreconditionError(
        "a leadership transfer is in progress");
  }
  return absl::OkStatus();
}

void Core::AddMember(replication::Member m,
                     replication::StatusCallback done) {
  absl::Status s = CheckCanChange();
  if (s.ok() && m.id == 0) s = absl::InvalidArgumentError("node id 0: ids start at 1");
  if (s.ok()) s = replication::ValidateRaftAddress(m.raft_address);
  if (s.ok()) s = replication::ValidateClientAddress(m.client_address);
  auto change = std::make_unique<ChangeRequest>();
  change->step = ChangeRequest::Step::kAdd;
  for (unsigned i = 0; s.ok() && i < raft_.configuration.n; ++i) {
    const raft_server& server = raft_.configuration.servers[i];
    if (server.id == m.id) {
      if (m.raft_address != server.address) {
        s = absl::AlreadyExistsError(absl::StrCat(
            "node id ", m.id, " is already a member, at ", server.address));
      } else if (server.role == RAFT_VOTER) {
        s = absl::AlreadyExistsError(
            absl::StrCat("node ", m.id, " is already a voter"));
      } else {
        change->step = ChangeRequest::Step::kAssign;  // a retry: promote it
      }
    } else if (m.raft_address == server.address) {
      s = absl::AlreadyExistsError(absl::StrCat(
          "raft address ", m.raft_address, " is already used by node ",
          server.id));
    }
  }
  if (!s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  told_addresses_[m.id] = m.client_address;
  ProposeMember(m.id, m.client_address);
  change->member = std::move(m);
  change->done = std::move(done);
  StartChange(std::move(change));
}

void Core::RemoveMember(uint64_t id, replication::StatusCallback done) {
  absl::Status s = CheckCanChange();
  const raft_server* server = s.ok() ? Find(raft_, id) : nullptr;
  if (s.ok() && server == nullptr) {
    s = absl::NotFoundError(absl::StrCat("node ", id, " is not a member"));
  }
  if (s.ok() && server->role == RAFT_VOTER) {
    unsigned voters = 0;
    for (unsigned i = 0; i < raft_.configuration.n; ++i) {
      voters += raft_.configuration.servers[i].role == RAFT_VOTER ? 1 : 0;
    }
    if (voters == 1) {
      s = absl::FailedPreconditionError(absl::StrCat(
          "refusing to remove node ", id,
          ": it is the last voter (the group would have no quorum)"));
    }
  }
  if (!s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  auto change = std::make_unique<ChangeRequest>();
  change->step = ChangeRequest::Step::kRemove;
  change->member.id = id;
  change->done = std::move(done);
  StartChange(std::move(change));
}

void Core::StartChange(std::unique_ptr<ChangeRequest> c) {
  c->req.data = c.get();
  c->core = this;
  const uint64_t id = c->member.id;
  int rv = 0;
  const char* what = "";
  // Quorums change: the lease ends before the configuration entry exists
  // and is not extended until the change is done (read_lease.h (c)).
  lease_.Invalidate();
  switch (c->step) {
    case ChangeRequest::Step::kAdd:
      what = "adding the node";
      rv = raft_add(&raft_, &c->req, id, c->member.raft_address.c_str(),
                    &OnChanged);
      break;
    case ChangeRequest::Step::kAssign:
      what = "promoting the node to voter";
      rv = raft_assign(&raft_, &c->req, id, RAFT_VOTER, &OnChanged);
      break;
    case ChangeRequest::Step::kRemove:
      what = "removing the node";
      rv = raft_remove(&raft_, &c->req, id, &OnChanged);
      break;
  }
  if (rv != 0) {
    std::move(c->done)(RaftStatus(rv, absl::StrCat(what, " ", id),
                                  raft_errmsg(&raft_)));
    return;
  }
  change_ = c.release();
  RefreshInfo();
}

void Core::OnChanged(raft_change* req, int status) {
  std::unique_ptr<ChangeRequest> c(static_cast<ChangeRequest*>(req->data));
  Core* self = c->core;
  self->change_ = nullptr;
  self->lease_.Invalidate();  // entries stamped during the change
  const uint64_t id = c->member.id;
  if (status != 0) {
    std::string what = absl::StrCat("changing node ", id);
    if (c->step == ChangeRequest::Step::kAssign) {
      what = absl::StrCat("node ", id,
                          " did not catch up with the log in time (it stays a "
                          "spare: add it again to retry, or remove it)");
    }
    std::move(c->done)(RaftStatus(status, what));
    return;
  }
  if (c->step == ChangeRequest::Step::kAdd) {
    c->step = ChangeRequest::Step::kAssign;
    absl::Status s = self->CheckCanChange();
    if (!s.ok()) {
      std::move(c->done)(std::move(s));
      return;
    }
    self->StartChange(std::move(c));
    return;
  }
  self->RefreshInfo();
  std::move(c->done)(absl::OkStatus());
}

void Core::TransferLeadership(uint64_t id, replication::StatusCallback done) {
  absl::Status s = CheckCanChange();
  if (s.ok() && id == options_.node_id) {
    s = absl::InvalidArgumentError(
        absl::StrCat("node ", id, " already leads"));
  }
  if (s.ok() && id != 0) {
    const raft_server* server = Find(raft_, id);
    if (server == nullptr) {
      s = absl::NotFoundError(absl::StrCat("node ", id, " is not a member"));
    } else if (server->role != RAFT_VOTER) {
      s = absl::InvalidArgumentError(
          absl::StrCat("node ", id, " is not a voter: it cannot lead"));
    }
  }
  if (!s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  auto t = std::make_unique<TransferRequest>();
  t->req.data = t.get();
  t->core = this;
  t->target = id;
  t->done = std::move(done);
  // The target may lead as soon as TimeoutNow reaches it: no read may
  // trust the lease after this line (read_lease.h (c)).
  lease_.Invalidate();
  if (const int rv = raft_transfer(&raft_, &t->req, id, &OnTransferred);
      rv != 0) {
    std::move(t->done)(RaftStatus(rv, "leadership transfer", raft_errmsg(&raft_)));
    return;
  }
  transfer_ = t.release();
}

void Core::OnTransferred(struct raft_transfer* req) {
  std::unique_ptr<TransferRequest> t(static_cast<TransferRequest*>(req->data));
  Core* self = t->core;
  self->transfer_ = nullptr;
  self->lease_.Invalidate();  // entries stamped during the transfer
  const uint64_t target = t->req.id;  // libraft's pick when t->target was 0
  raft_id leader = 0;
  const char* address = nullptr;
  if (self->running_) {
    raft_leader(&self->raft_, &leader, &address);
    // We stepped down inside this libraft callback: say so before the
    // caller looks (Info().ready).
    self->CheckLostLeadership();
    self->RefreshInfo();  // Info() names the new leader when done runs
  }
  if (leader == target && target != 0) {
    std::move(t->done)(absl::OkStatus());
    return;
  }
  std::move(t->done)(absl::DeadlineExceededError(absl::StrCat(
      "leadership did not move to node ", target,
      " within the election timeout (leader now: ",
      leader == 0 ? std::string("none known") : absl::StrCat("node ", leader),
      ")")));
}

}  // namespace mvkv::replication_internal
