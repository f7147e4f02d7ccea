// The client library's mvkv.v1.Cluster calls (client/client.h), with their
// redirect to the leader.
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/client_internal.h"
#include "client/router.h"
#include "client/wire.h"
#include "grpcpp/grpcpp.h"
#include "proto/cluster.grpc.pb.h"

namespace mvkv::client {

namespace {

ClusterMember FromProto(const v1::ClusterMember& m) {
  return ClusterMember{.id = m.id(),
                       .raft_address = m.raft_address(),
                       .client_address = m.client_address(),
                       .membership = m.membership(),
                       .role = m.role(),
                       .match_index = m.match_index(),
                       .lag = m.lag()};
}

ClusterStatus FromProto(const v1::ClusterStatusResponse& r) {
  ClusterStatus s;
  s.cluster_id = r.cluster_id();
  s.node_id = r.node_id();
  s.role = r.role();
  s.ready = r.ready();
  s.term = r.term();
  s.leader_id = r.leader_id();
  s.leader_client_address = r.leader_client_address();
  s.leader_raft_address = r.leader_raft_address();
  if (r.last_leader_change_unix_ms() != 0) {
    s.last_leader_change = absl::FromUnixMillis(r.last_leader_change_unix_ms());
  }
  s.leader_changes = r.leader_changes();
  s.last_log_index = r.last_log_index();
  s.commit_index = r.commit_index();
  s.applied_index = r.applied_index();
  s.snapshot_index = r.snapshot_index();
  s.applied_ts = r.applied_ts();
  s.log_entries = r.log_entries();
  s.log_bytes = r.log_bytes();
  s.applier_queue = r.applier_queue();
  s.snapshots_taken = r.snapshots_taken();
  s.snapshots_installed = r.snapshots_installed();
  s.snapshot_failures = r.snapshot_failures();
  s.failure = r.failure();
  s.progress_known = r.progress_known();
  for (const v1::ClusterMember& m : r.members()) {
    s.members.push_back(FromProto(m));
  }
  return s;
}

// A server without replication does not serve mvkv.v1.Cluster: say so.
absl::Status Explain(const grpc::Status& status, const std::string& server) {
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    return absl::UnimplementedError(absl::StrCat(
        "server ", server,
        " does not serve mvkv.v1.Cluster: it is not a replication node"));
  }
  return wire::FromGrpc(status);
}

}  // namespace

// A unary mvkv.v1.Cluster call through the client's router (the rules of
// client/router.h): a server that cannot be reached is skipped for the
// next one; with `follow`, a refusal naming the leader is sent there (a
// refusal did nothing). A change that reached a server and failed
// otherwise is not sent again. Bounded by max_attempts and the timeout.
struct ClusterRpc {
  template <class Request, class Response>
  static absl::StatusOr<Response> Call(
      Client& client,
      grpc::Status (v1::Cluster::Stub::*method)(grpc::ClientContext*,
                                                const Request&, Response*),
      const Request& request, bool follow) {
    const absl::Time deadline = absl::Now() + client.options_.timeout;
    for (int attempt = 1;; ++attempt) {
      Endpoint* endpoint = client.stubs_->router->Current();
      grpc::ClientContext context;
      client.PrepareContext(&context, deadline - absl::Now());
      const bool sent = Router::Reachable(endpoint, deadline);
      Response response;
      grpc::Status s(grpc::StatusCode::UNAVAILABLE,
                     absl::StrCat("cannot connect to ", endpoint->address));
      if (sent) {
        auto stub = v1::Cluster::NewStub(endpoint->channel);
        s = (stub.get()->*method)(&context, request, &response);
        if (s.ok()) return response;
      }
      const std::optional<std::string> leader =
          sent && follow ? LeaderOf(context) : std::nullopt;
      if ((sent && !follow) ||
          !client.stubs_->router->After(endpoint, wire::FromGrpc(s), leader,
                                        sent, /*idempotent=*/false, attempt,
                                        client.options_.max_attempts,
                                        deadline)) {
        return Explain(s, endpoint->address);
      }
    }
  }
};

absl::StatusOr<ClusterStatus> Client::GetClusterStatus() {
  auto r = ClusterRpc::Call(*this, &v1::Cluster::Stub::Status,
                            v1::ClusterStatusRequest(), /*follow=*/false);
  if (!r.ok()) return r.status();
  return FromProto(*r);
}

absl::Status Client::AddMember(uint64_t id, const std::string& raft_address,
                               const std::string& client_address) {
  v1::AddMemberRequest request;
  request.set_id(id);
  request.set_raft_address(raft_address);
  request.set_client_address(client_address);
  return ClusterRpc::Call(*this, &v1::Cluster::Stub::AddMember, request,
                          /*follow=*/true)
      .status();
}

absl::Status Client::RemoveMember(uint64_t id) {
  v1::RemoveMemberRequest request;
  request.set_id(id);
  return ClusterRpc::Call(*this, &v1::Cluster::Stub::RemoveMember, request,
                          /*follow=*/true)
      .status();
}

absl::StatusOr<ClusterMember> Client::TransferLeadership(uint64_t id) {
  v1::TransferLeadershipRequest request;
  request.set_id(id);
  auto r = ClusterRpc::Call(*this, &v1::Cluster::Stub::TransferLeadership,
                            request, /*follow=*/true);
  if (!r.ok()) return r.status();
  return ClusterMember{.id = r->leader_id(),
                       .client_address = r->leader_client_address(),
                       .role = "leader"};
}

}  // namespace mvkv::client
