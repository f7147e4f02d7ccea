// One call of the KV service, from its arrival to its end: the one place
// that counts calls in flight, checks the bearer token, times the call, and
// records its outcome (metrics, and a log line for server-side errors or,
// with --log_requests, for every call). Every reactor of server/kv_service.cc
// holds a Call as its first member, so no RPC, unary or streaming, can skip
// any of these steps or take them in another order:
//   construction  count in flight (+1), start the clock, check the token;
//   admitted()    false: the reactor finishes at once with admission();
//   Finish(s)     record the outcome once; returns `s` to finish with;
//   destruction   in flight (-1), when the reactor is done (OnDone).
//
// The RPCs are the rows of Method (with their names in the service
// descriptor); kv_service_test checks that every method of mvkv.v1.KV has a
// row and refuses a call without the token.
//
// Thread safety: a Call belongs to its reactor; Finish may run on any
// thread, once.
#ifndef MVKV_SERVER_CALL_H_
#define MVKV_SERVER_CALL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace mvkv::server {

class KvService;

// The RPCs of mvkv.v1.KV.
enum class Method {
  kGet,
  kPut,
  kDelete,
  kScan,
  kCompareAndCommit,
  kStats,
  kSession,
  kBeginTxn,
  kKeepAlive,
  kTxnGet,
  kTxnPut,
  kTxnDelete,
  kTxnScan,
  kCommitTxn,
  kRollbackTxn,
  kBatch,
  kPipeline,
  kWatch,
};
inline constexpr int kMethodCount = static_cast<int>(Method::kWatch) + 1;

// The method's name in the service descriptor, e.g. "Get".
const char* MethodName(Method method);

class Call final {
 public:
  // Counts the call in flight, starts its clock and checks its token.
  Call(KvService* service, grpc::CallbackServerContext* context,
       Method method);
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Whether the call may proceed: OK, or UNAUTHENTICATED when a token is
  // required and the call's `authorization` metadata is not
  // "Bearer <token>".
  bool admitted() const { return admission_.ok(); }
  const grpc::Status& admission() const { return admission_; }

  // Records the call's outcome (see the file comment) and returns `status`,
  // which the reactor then finishes with. REQUIRES: called at most once.
  grpc::Status Finish(grpc::Status status);
  // Finish(ToGrpc(status)); a cluster node's "not the leader" refusal
  // (replication::IsNotLeader) also gets the trailing metadata
  // kLeaderMetadata (server/cluster_mode.h) naming the leader.
  grpc::Status Finish(const absl::Status& status);

  KvService& service() const { return *service_; }
  Method method() const { return method_; }
  // The client's address as gRPC reports it ("ipv4:127.0.0.1:5555").
  std::string peer() const { return context_->peer(); }

 private:
  KvService* const service_;
  grpc::CallbackServerContext* const context_;
  const Method method_;
  const absl::Time start_;
  grpc::Status admission_;
};

}  // namespace mvkv::server

#endif  // MVKV_SERVER_CALL_H_
