#include "server/call.h"

#include "replication/info.h"
#include "server/cluster_mode.h"
#include "server/kv_service.h"

namespace mvkv::server {

const char* MethodName(Method method) {
  static constexpr const char* kNames[kMethodCount] = {
      "Get",      "Put",       "Delete",    "Scan",    "CompareAndCommit",
      "Stats",    "Session",   "BeginTxn",  "KeepAlive", "TxnGet",
      "TxnPut",   "TxnDelete", "TxnScan",   "CommitTxn", "RollbackTxn",
      "Batch",    "Pipeline", "Watch"};
  return kNames[static_cast<int>(method)];
}

Call::Call(KvService* service, grpc::CallbackServerContext* context,
           Method method)
    : service_(service),
      context_(context),
      method_(method),
      start_(absl::Now()) {
  service_->in_flight_.fetch_add(1, std::memory_order_relaxed);
  admission_ = service_->CheckAuth(context);
}

Call::~Call() {
  // Release: in_flight() == 0 happens after every finished call's work.
  service_->in_flight_.fetch_sub(1, std::memory_order_release);
}

grpc::Status Call::Finish(grpc::Status status) {
  service_->Record(method_, status, absl::Now() - start_);
  return status;
}

}  // namespace mvkv::server

namespace mvkv::server {

grpc::Status Call::Finish(const absl::Status& status) {
  if (replication::IsNotLeader(status)) {
    context_->AddTrailingMetadata(
        kLeaderMetadata, replication::LeaderHint(status).value_or(""));
  }
  return Finish(ToGrpc(status));
}

}  // namespace mvkv::server
