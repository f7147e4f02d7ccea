// The gRPC face of the request-handling layer: mvkv.v1.KV on gRPC's callback
// API. No thread is parked per call, and none per commit: every commit is
// handed to the engine's asynchronous commit (KvHandler's *Async calls) and
// the call is finished, or the stream's reply written, from the engine's
// completion callback, after the commit is visible and durable. Work that
// only computes or reads runs inline on the gRPC thread (Get, Stats, and Put
// and Delete up to their commit hand-off) or, when it may take a while
// (scans, the reads and compares of a one-shot Txn, session and handle
// operations, which take the transaction's lock), on a bounded Executor; a
// full executor queue answers RESOURCE_EXHAUSTED, and so does a full commit
// pipeline (the engine's async commit fails at once instead of waiting).
// A CompareAndCommit that conflicts is retried after a back-off timed by a
// gRPC alarm, not by a sleeping thread. Batch runs inline like Get and Put;
// a Pipeline stream (kv_service_pipeline.cc) runs each operation as it
// arrives, on the gRPC thread that read it, and writes results back as they
// complete, within a per-stream window (PipelineOptions). absl::Status maps to grpc::Status one
// to one here, and only here. Every call is a Call (server/call.h): counted,
// its token checked, timed and recorded in one place.
//
// Thread safety: thread-safe; gRPC calls it from its own threads.
#ifndef MVKV_SERVER_KV_SERVICE_H_
#define MVKV_SERVER_KV_SERVICE_H_

#include <atomic>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"
#include "server/call.h"
#include "server/executor.h"
#include "server/kv_handler.h"
#include "server/metrics.h"
#include "server/pipeline_options.h"
#include "server/watch_reactor.h"

namespace mvkv::replication {
class Node;
}  // namespace mvkv::replication

namespace mvkv::server {

// absl::Status -> grpc::Status, code for code.
grpc::Status ToGrpc(const absl::Status& status);

class KvService final : public v1::KV::CallbackService {
 public:
  // None owned; all must outlive the service. `metrics` may be null.
  // `auth_token` empty = no authentication. `node`: the Raft node of a
  // cluster member (server/cluster_mode.h says what only its leader
  // serves), null for a single server.
  KvService(KvHandler* handler, Executor* executor, Metrics* metrics,
            std::string auth_token, bool log_requests,
            const PipelineOptions& pipeline = PipelineOptions(),
            replication::Node* node = nullptr);

  Executor* executor() const { return executor_; }
  Metrics* metrics() const { return metrics_; }  // may be null
  KvHandler* handler() const { return handler_; }
  const PipelineOptions& pipeline_options() const { return pipeline_; }
  PipelinedGauges& pipelined() { return pipelined_; }

  // Calls started and not yet done (unary and streaming, until their
  // reactor's OnDone: the status has been sent). Shutdown waits for this to
  // reach 0 before it cancels what is left (idle client connections would
  // otherwise hold gRPC's shutdown until its deadline).
  int in_flight() const { return in_flight_.load(std::memory_order_acquire); }

  // The token check of every call (Call), also the Admin service's: OK, or
  // UNAUTHENTICATED when a token is required and the call's `authorization`
  // metadata is not "Bearer <token>".
  grpc::Status CheckAuth(grpc::CallbackServerContext* context) const;

  // Runs `then(OK)` at once on a single server, and on a cluster leader
  // holding its read lease (replication::Node::HoldsReadLease). Otherwise
  // first confirms the node's leadership (replication::Node::
  // ConfirmLeadership: a read started after it is linearizable), then runs
  // `then` on the executor with OK or the refusal (not the leader;
  // RESOURCE_EXHAUSTED when the executor's queue is full).
  void AfterLeadership(absl::AnyInvocable<void(absl::Status) &&> then);
  bool clustered() const { return node_ != nullptr; }
  // A cluster leader holding its read lease: AfterLeadership would run
  // `then` at once.
  bool HoldsReadLease() const;

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context,
                                const v1::PutRequest* request,
                                v1::PutResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerWriteReactor<v1::ScanResponse>* Scan(
      grpc::CallbackServerContext* context,
      const v1::ScanRequest* request) override;
  grpc::ServerUnaryReactor* CompareAndCommit(
      grpc::CallbackServerContext* context,
      const v1::CompareAndCommitRequest* request,
      v1::CompareAndCommitResponse* response) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const v1::StatsRequest* request,
                                  v1::StatsResponse* response) override;
  grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>* Session(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* BeginTxn(grpc::CallbackServerContext* context,
                                     const v1::BeginTxnRequest* request,
                                     v1::BeginTxnResponse* response) override;
  grpc::ServerUnaryReactor* KeepAlive(grpc::CallbackServerContext* context,
                                      const v1::KeepAliveRequest* request,
                                      v1::KeepAliveResponse* response) override;
  grpc::ServerUnaryReactor* TxnGet(grpc::CallbackServerContext* context,
                                   const v1::TxnGetRequest* request,
                                   v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* TxnPut(grpc::CallbackServerContext* context,
                                   const v1::TxnPutRequest* request,
                                   v1::TxnPutResponse* response) override;
  grpc::ServerUnaryReactor* TxnDelete(grpc::CallbackServerContext* context,
                                      const v1::TxnDeleteRequest* request,
                                      v1::TxnDeleteResponse* response) override;
  grpc::ServerUnaryReactor* TxnScan(grpc::CallbackServerContext* context,
                                    const v1::TxnScanRequest* request,
                                    v1::ScanResponse* response) override;
  grpc::ServerUnaryReactor* CommitTxn(grpc::CallbackServerContext* context,
                                      const v1::CommitTxnRequest* request,
                                      v1::CommitResponse* response) override;
  grpc::ServerUnaryReactor* RollbackTxn(
      grpc::CallbackServerContext* context,
      const v1::RollbackTxnRequest* request,
      v1::RollbackResponse* response) override;
  grpc::ServerUnaryReactor* Batch(grpc::CallbackServerContext* context,
                                  const v1::BatchRequest* request,
                                  v1::BatchResponse* response) override;
  grpc::ServerBidiReactor<v1::PipelineRequest, v1::PipelineResponse>*
  Pipeline(grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse>* Watch(
      grpc::CallbackServerContext* context) override;

  // The open Watch streams; Server::Shutdown ends them (EndAll).
  WatchStreams& watch_streams() { return watch_streams_; }

 private:
  friend class Call;
  // Where a unary call's work runs: on gRPC's thread (it only computes, or
  // hands a commit to the engine) or on the executor (it may take a while,
  // or a transaction's lock).
  enum class Where { kInline, kExecutor };
  // Runs `start(reply)` where `where` says, and finishes the call when the
  // Reply<Response> gets the result, on whatever thread that happens.
  template <class Response, class Start>
  grpc::ServerUnaryReactor* Unary(Method method,
                                  grpc::CallbackServerContext* context,
                                  Response* response, Where where,
                                  Start start);
  // Unary() for `fn` returning absl::StatusOr<Response> at once.
  template <class Response, class Fn>
  grpc::ServerUnaryReactor* UnaryNow(Method method,
                                     grpc::CallbackServerContext* context,
                                     Response* response, Where where, Fn fn);

  // For Call: recording a finished call.
  void Record(Method method, const grpc::Status& status,
              absl::Duration latency) const;

  KvHandler* const handler_;
  Executor* const executor_;
  Metrics* const metrics_;
  const std::string expected_authorization_;  // "Bearer <token>" or empty
  const bool log_requests_;
  const PipelineOptions pipeline_;
  PipelinedGauges pipelined_;
  replication::Node* const node_;
  // acq/rel: in_flight() == 0 happens after every finished call's work.
  std::atomic<int> in_flight_{0};
  WatchStreams watch_streams_;
};

}  // namespace mvkv::server

#endif  // MVKV_SERVER_KV_SERVICE_H_
