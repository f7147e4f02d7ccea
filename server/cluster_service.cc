#include "server/cluster_service.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "replication/options.h"
#include "server/log.h"

namespace mvkv::server {

// One call from its arrival to its finish, which may come from the node's
// loop thread: records it, sets the leader metadata, finishes the reactor
// and deletes itself. Counted in flight in between.
class ClusterService::Pending {
 public:
  Pending(ClusterService* service, grpc::CallbackServerContext* context,
          const char* method)
      : service_(service),
        context_(context),
        reactor_(context->DefaultReactor()),
        method_(method),
        start_(absl::Now()) {
    service_->in_flight_.fetch_add(1, std::memory_order_relaxed);
  }

  grpc::ServerUnaryReactor* reactor() const { return reactor_; }
  grpc::CallbackServerContext* context() const { return context_; }

  // `status` on the wire, code for code; a refusal naming the leader also
  // carries it as kLeaderKey trailing metadata.
  void Finish(const absl::Status& status) {
    if (std::optional<std::string> leader = replication::LeaderHint(status)) {
      context_->AddTrailingMetadata(kLeaderKey, *leader);
    }
    Finish(grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                        std::string(status.message())));
  }

  // REQUIRES: called once; `this` is gone after it.
  void Finish(const grpc::Status& status) {
    if (service_->record_) {
      service_->record_(method_, status.error_code(), absl::Now() - start_);
    }
    // Before the reactor's Finish: once that returns, the server may be
    // done with this call and destroy the service. Release: pairs with
    // in_flight()'s acquire (see the header).
    service_->in_flight_.fetch_sub(1, std::memory_order_release);
    grpc::ServerUnaryReactor* const reactor = reactor_;
    delete this;
    reactor->Finish(status);
  }

 private:
  ClusterService* const service_;
  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  const char* const method_;
  const absl::Time start_;
};

namespace {

int64_t UnixMillis(absl::Time t) {
  return t == absl::InfinitePast() ? 0 : absl::ToUnixMillis(t);
}

// A member's role as `info`'s node sees it (proto/cluster.proto).
std::string MemberRole(const replication::ClusterInfo& info,
                       const replication::MemberInfo& m) {
  if (m.id == info.leader_id) return "leader";
  if (m.id == info.node_id) return replication::RoleName(info.role);
  if (m.role == replication::MemberRole::kVoter) return "follower";
  return replication::MemberRoleName(m.role);
}

absl::Status ValidateId(uint64_t id) {
  if (id == 0) return absl::InvalidArgumentError("node id 0: ids start at 1");
  return absl::OkStatus();
}

// Logs a change's outcome (info when it succeeded, warn otherwise).
void LogChange(const std::string& what, uint64_t id, const absl::Status& s) {
  Log(s.ok() ? "info" : "warn", absl::StrCat("cluster: ", what),
      {{"node_id", absl::StrCat(id)},
       {"outcome", s.ok() ? std::string("OK") : s.ToString()}});
}

}  // namespace

v1::ClusterStatusResponse ClusterStatusProto(
    const replication::ClusterInfo& info) {
  v1::ClusterStatusResponse r;
  r.set_cluster_id(info.cluster_id);
  r.set_node_id(info.node_id);
  r.set_role(replication::RoleName(info.role));
  r.set_ready(info.ready);
  r.set_term(info.term);
  r.set_leader_id(info.leader_id);
  r.set_leader_client_address(info.leader_client_address);
  r.set_leader_raft_address(info.leader_raft_address);
  r.set_last_leader_change_unix_ms(UnixMillis(info.last_leader_change));
  r.set_leader_changes(info.leader_changes);
  r.set_last_log_index(info.last_log_index);
  r.set_commit_index(info.commit_index);
  r.set_applied_index(info.applied_index);
  r.set_snapshot_index(info.snapshot_index);
  r.set_applied_ts(info.applied_ts);
  r.set_log_entries(info.log_entries);
  r.set_log_bytes(info.log_bytes);
  r.set_applier_queue(info.applier_queue);
  r.set_snapshots_taken(info.snapshots_taken);
  r.set_snapshots_installed(info.snapshots_installed);
  r.set_snapshot_failures(info.snapshot_failures);
  if (!info.failure.ok()) r.set_failure(info.failure.ToString());
  r.set_progress_known(info.role == replication::Role::kLeader);
  for (const replication::MemberInfo& m : info.members) {
    v1::ClusterMember* out = r.add_members();
    out->set_id(m.id);
    out->set_raft_address(m.raft_address);
    out->set_client_address(m.client_address);
    out->set_membership(replication::MemberRoleName(m.role));
    out->set_role(MemberRole(info, m));
    out->set_match_index(m.match_index);
    out->set_lag(m.lag);
  }
  return r;
}

ClusterService::ClusterService(replication::Node* node, AuthCheck check_auth,
                               Recorder record)
    : node_(node),
      check_auth_(std::move(check_auth)),
      record_(std::move(record)) {}

bool ClusterService::Admit(Pending* call) {
  grpc::Status auth = check_auth_(call->context());
  if (auth.ok()) return true;
  call->Finish(auth);
  return false;
}

grpc::ServerUnaryReactor* ClusterService::Status(
    grpc::CallbackServerContext* context,
    const v1::ClusterStatusRequest* /*request*/,
    v1::ClusterStatusResponse* response) {
  auto* call = new Pending(this, context, "Cluster.Status");
  grpc::ServerUnaryReactor* const reactor = call->reactor();
  if (!Admit(call)) return reactor;
  *response = ClusterStatusProto(node_->Info());
  call->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::AddMember(
    grpc::CallbackServerContext* context, const v1::AddMemberRequest* request,
    v1::AddMemberResponse* /*response*/) {
  auto* call = new Pending(this, context, "Cluster.AddMember");
  grpc::ServerUnaryReactor* const reactor = call->reactor();
  if (!Admit(call)) return reactor;
  replication::Member member{.id = request->id(),
                             .raft_address = request->raft_address(),
                             .client_address = request->client_address()};
  absl::Status s = ValidateId(member.id);
  if (s.ok()) s = replication::ValidateRaftAddress(member.raft_address);
  if (s.ok()) s = replication::ValidateClientAddress(member.client_address);
  if (!s.ok()) {
    call->Finish(s);
    return reactor;
  }
  const std::string what = absl::StrCat("add member at ", member.raft_address,
                                        " (clients: ", member.client_address,
                                        ")");
  const uint64_t id = member.id;
  node_->AddMember(std::move(member), [call, what, id](absl::Status s) {
    LogChange(what, id, s);
    call->Finish(s);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::RemoveMember(
    grpc::CallbackServerContext* context,
    const v1::RemoveMemberRequest* request,
    v1::RemoveMemberResponse* /*response*/) {
  auto* call = new Pending(this, context, "Cluster.RemoveMember");
  grpc::ServerUnaryReactor* const reactor = call->reactor();
  if (!Admit(call)) return reactor;
  const uint64_t id = request->id();
  if (absl::Status s = ValidateId(id); !s.ok()) {
    call->Finish(s);
    return reactor;
  }
  node_->RemoveMember(id, [call, id](absl::Status s) {
    LogChange("remove member", id, s);
    call->Finish(s);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::TransferLeadership(
    grpc::CallbackServerContext* context,
    const v1::TransferLeadershipRequest* request,
    v1::TransferLeadershipResponse* response) {
  auto* call = new Pending(this, context, "Cluster.TransferLeadership");
  grpc::ServerUnaryReactor* const reactor = call->reactor();
  if (!Admit(call)) return reactor;
  const uint64_t id = request->id();
  node_->TransferLeadership(
      id, [this, call, response, id](absl::Status s) {
        LogChange("transfer leadership", id, s);
        if (s.ok()) {
          // The node refreshed its report when it saw the new leader.
          const replication::ClusterInfo info = node_->Info();
          response->set_leader_id(info.leader_id);
          response->set_leader_client_address(info.leader_client_address);
        }
        call->Finish(s);
      });
  return reactor;
}

}  // namespace mvkv::server
