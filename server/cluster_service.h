// The gRPC face of a replication node's administration: mvkv.v1.Cluster
// (proto/cluster.proto) over a replication::Node, on gRPC's callback API.
//
// Status is answered inline from Node::Info() (a copy of the node's latest
// report under a mutex: no Raft call, no wait). A membership change or a
// transfer is validated here (id, addresses: INVALID_ARGUMENT before the
// node is involved), handed to the node's asynchronous call, and the RPC is
// finished from the node's callback on its loop thread: no gRPC thread
// waits for Raft. A refusal that names the leader (replication::LeaderHint)
// goes back as UNAVAILABLE with trailing metadata `mvkv-leader` (kLeaderKey).
//
// Every call first runs the server's bearer-token check (the same check as
// the KV and Admin services: UNAUTHENTICATED otherwise), then counts in
// flight until it is finished, and on finishing is recorded (the server's
// RPC metrics, under the method names "Cluster.Status", ...). Changes are
// logged (server/log.h) with their outcome.
//
// Thread safety: thread-safe; gRPC calls it from its threads, the node's
// callbacks finish calls from its loop thread. The node must outlive the
// service and every call in flight: close the node only after the gRPC
// server has shut down (a change still in flight then is failed by the
// node's Close, which finishes its call).
#ifndef MVKV_SERVER_CLUSTER_SERVICE_H_
#define MVKV_SERVER_CLUSTER_SERVICE_H_

#include <atomic>
#include <functional>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/cluster.grpc.pb.h"
#include "replication/info.h"
#include "replication/node.h"
#include "server/auth_check.h"

namespace mvkv::server {

// The trailing metadata key naming the leader's client address on a
// refusal from a node that is not the leader.
inline constexpr char kLeaderKey[] = "mvkv-leader";

// The Status response for `info` (the answering node's report).
v1::ClusterStatusResponse ClusterStatusProto(
    const replication::ClusterInfo& info);

class ClusterService final : public v1::Cluster::CallbackService {
 public:
  // Records one finished call: method name, gRPC code, latency
  // (Metrics::Record). May be empty.
  using Recorder = std::function<void(const char*, int, absl::Duration)>;

  // `node` is not owned (see the file comment). `check_auth` is required.
  ClusterService(replication::Node* node, AuthCheck check_auth,
                 Recorder record = nullptr);
  ClusterService(const ClusterService&) = delete;
  ClusterService& operator=(const ClusterService&) = delete;

  // Calls started and not yet finished (a change waits for Raft), for the
  // server's Shutdown to wait on beside KvService::in_flight(). A call
  // leaves the count just before its reactor's Finish, so a cancel-all
  // issued at that instant may turn its answer into CANCELLED (the change's
  // outcome then shows in Status).
  int in_flight() const { return in_flight_.load(std::memory_order_acquire); }

  grpc::ServerUnaryReactor* Status(
      grpc::CallbackServerContext* context,
      const v1::ClusterStatusRequest* request,
      v1::ClusterStatusResponse* response) override;
  grpc::ServerUnaryReactor* AddMember(
      grpc::CallbackServerContext* context,
      const v1::AddMemberRequest* request,
      v1::AddMemberResponse* response) override;
  grpc::ServerUnaryReactor* RemoveMember(
      grpc::CallbackServerContext* context,
      const v1::RemoveMemberRequest* request,
      v1::RemoveMemberResponse* response) override;
  grpc::ServerUnaryReactor* TransferLeadership(
      grpc::CallbackServerContext* context,
      const v1::TransferLeadershipRequest* request,
      v1::TransferLeadershipResponse* response) override;

 private:
  class Pending;
  // Runs the token check: true, or false once `call` is finished with
  // UNAUTHENTICATED.
  bool Admit(Pending* call);

  replication::Node* const node_;
  const AuthCheck check_auth_;
  const Recorder record_;
  // Relaxed increments; the release decrement pairs with in_flight()'s
  // acquire load, so a 0 read happens after every finished call's work.
  std::atomic<int> in_flight_{0};
};

}  // namespace mvkv::server

#endif  // MVKV_SERVER_CLUSTER_SERVICE_H_
