#include "server/kv_service.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/alarm.h"
#include "replication/node.h"
#include "server/log.h"

namespace mvkv::server {
namespace {

absl::Status BusyError() {
  return absl::ResourceExhaustedError(
      "server busy: too many requests queued, retry later");
}
grpc::Status Busy() { return ToGrpc(BusyError()); }

// Constant-time comparison, so a wrong token leaks nothing through timing.
bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

// A unary call: finished once, from whatever thread has the result; deleted
// by gRPC's OnDone, after its status is on the wire.
template <class Response>
class UnaryReactor final : public grpc::ServerUnaryReactor {
 public:
  UnaryReactor(KvService* service, grpc::CallbackServerContext* context,
               Method method, Response* response)
      : call_(service, context, method), response_(response) {}

  Call& call() { return call_; }
  void Reply(absl::StatusOr<Response> result) {
    if (result.ok()) *response_ = *std::move(result);
    Finish(call_.Finish(result.status()));
  }
  void FinishWith(grpc::Status status) {
    Finish(call_.Finish(std::move(status)));
  }
  void OnDone() override { delete this; }
  // OnDone only deletes the reactor (Call's destructor decrements a
  // counter) and OnCancel is gRPC's no-op: neither blocks nor takes a lock,
  // so gRPC may run them on the thread that completes the call instead of
  // handing OnDone to its executor thread, a wake-up per call on 2 cores
  // (what the null service's DefaultReactor gets). gRPC's hook for this,
  // meant for its own trivial reactors: not a stable API (grpcpp 1.51).
  bool InternalInlineable() override { return true; }

 private:
  Call call_;
  Response* const response_;
};

// Streams the chunks of one scan, each read on the executor from a snapshot
// held for the stream's life.
class ScanReactor final : public grpc::ServerWriteReactor<v1::ScanResponse> {
 public:
  ScanReactor(KvService* service, grpc::CallbackServerContext* context,
              const v1::ScanRequest* request)
      : call_(service, context, Method::kScan) {
    if (!call_.admitted()) {
      Done(call_.admission());
      return;
    }
    auto open = [this, request] {
      auto stream = call_.service().handler()->OpenScan(*request);
      if (!stream.ok()) return Done(stream.status());
      stream_ = *std::move(stream);
      WriteNext();
    };
    if (request->consistency() == v1::STALE) {
      Submit(std::move(open));
      return;
    }
    call_.service().AfterLeadership(
        [this, open = std::move(open)](absl::Status s) mutable {
          if (!s.ok()) return Done(s);
          Submit(std::move(open));
        });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Done(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    } else if (last_) {
      Done(grpc::Status::OK);
    } else {
      Submit([this] { WriteNext(); });
    }
  }
  void OnDone() override { delete this; }

 private:
  void Submit(std::function<void()> work) {
    if (!call_.service().executor()->Submit(std::move(work))) Done(Busy());
  }
  // On the executor: one write outstanding at a time.
  void WriteNext() {
    auto chunk = stream_->Next(&last_);
    if (!chunk.ok()) return Done(ToGrpc(chunk.status()));
    chunk_ = *std::move(chunk);
    StartWrite(&chunk_);
  }
  void Done(const grpc::Status& status) { Finish(call_.Finish(status)); }
  void Done(const absl::Status& status) { Finish(call_.Finish(status)); }

  Call call_;
  std::unique_ptr<ScanStream> stream_;
  v1::ScanResponse chunk_;
  bool last_ = false;
};

// One interactive transaction stream. One request is in flight at a time:
// read -> execute on the executor (a commit: hand it to the engine) -> write
// (from the worker, or from the engine's completion thread for a commit) ->
// read ..., so the Session is never used by two threads at once, at most one
// write is outstanding, and when the stream ends (client half-close,
// cancellation, disconnect) no request is running: OnDone then destroys the
// Session, which rolls back its open transaction.
class SessionReactor final
    : public grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse> {
 public:
  SessionReactor(KvService* service, grpc::CallbackServerContext* context)
      : call_(service, context, Method::kSession) {
    if (!call_.admitted()) {
      Done(call_.admission());
      return;
    }
    session_ = service->handler()->NewSession(call_.peer());
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // half-close, cancellation or disconnect
      Done(grpc::Status::OK);
      return;
    }
    if (request_.has_begin() && call_.service().clustered()) {
      // A cluster node serves a Begin after confirming its leadership; a
      // refusal ends the stream, so that its status carries mvkv-leader.
      call_.service().AfterLeadership([this](absl::Status s) {
        if (!s.ok()) return Finish(call_.Finish(s));
        Handle();
      });
      return;
    }
    Handle();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Done(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    StartRead(&request_);
  }
  void OnDone() override {
    session_.reset();  // rolls back an open transaction
    delete this;
  }

 private:
  void Handle() {
    // A commit replies from the engine's completion thread, anything else
    // from the worker; either way the worker never waits for a commit.
    if (!call_.service().executor()->Submit([this] {
          session_->HandleAsync(request_, [this](v1::SessionResponse r) {
            response_ = std::move(r);
            StartWrite(&response_);  // nothing touches `this` after this
          });
        })) {
      Done(Busy());
    }
  }
  void Done(const grpc::Status& status) { Finish(call_.Finish(status)); }

  Call call_;
  std::unique_ptr<server::Session> session_;
  v1::SessionRequest request_;
  v1::SessionResponse response_;
};

// One CompareAndCommit call: attempts run on the executor and commit
// asynchronously; a retryable failure waits out its back-off on a gRPC
// alarm (no thread sleeps), then runs the next attempt on the executor.
class CompareAndCommitReactor final : public grpc::ServerUnaryReactor {
 public:
  CompareAndCommitReactor(KvService* service,
                          grpc::CallbackServerContext* context,
                          const v1::CompareAndCommitRequest* request,
                          v1::CompareAndCommitResponse* response)
      : call_(service, context, Method::kCompareAndCommit),
        request_(request),
        response_(response) {
    if (!call_.admitted()) {
      Done(call_.admission());
    } else if (absl::Status s = handler()->ValidateCompareAndCommit(*request);
               !s.ok()) {
      Done(ToGrpc(s));
    } else {
      // Its compares read: on a cluster, only a confirmed leader runs it.
      call_.service().AfterLeadership([this](absl::Status s) {
        if (!s.ok()) return Finish(call_.Finish(s));
        Attempt();
      });
    }
  }
  void OnDone() override { delete this; }

 private:
  KvHandler* handler() const { return call_.service().handler(); }

  void Attempt() {
    if (!call_.service().executor()->Submit([this] {
          handler()->CompareAndCommitAttemptAsync(
              *request_,
              [this](absl::StatusOr<v1::CompareAndCommitResponse> r) {
                OnAttempt(std::move(r));
              });
        })) {
      Done(Busy());
    }
  }

  // On a worker (inline failure) or the engine's completion thread.
  void OnAttempt(absl::StatusOr<v1::CompareAndCommitResponse> result) {
    const common::RetryPolicy& policy =
        handler()->options().compare_and_commit_retry;
    ++attempts_;
    if (result.ok()) *response_ = *std::move(result);
    if (result.ok() || !common::IsRetryable(result.status())) {
      Finish(call_.Finish(result.status()));
      return;
    }
    if (attempts_ >= policy.max_attempts) {
      Done(ToGrpc(common::GaveUp(policy, result.status())));
      return;
    }
    // Each alarm fires once; keep them all until the call is done (at most
    // max_attempts of them).
    alarms_.push_back(std::make_unique<grpc::Alarm>());
    alarms_.back()->Set(
        absl::ToChronoTime(absl::Now() + common::Backoff(policy, attempts_)),
        [this](bool /*fired*/) { Attempt(); });
  }

  void Done(const grpc::Status& status) { Finish(call_.Finish(status)); }

  Call call_;
  const v1::CompareAndCommitRequest* const request_;
  v1::CompareAndCommitResponse* const response_;
  int attempts_ = 0;
  std::vector<std::unique_ptr<grpc::Alarm>> alarms_;
};

}  // namespace

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// ---- KvService. ----

KvService::KvService(KvHandler* handler, Executor* executor, Metrics* metrics,
                     std::string auth_token, bool log_requests,
                     const PipelineOptions& pipeline,
                     replication::Node* node)
    : handler_(handler),
      executor_(executor),
      metrics_(metrics),
      expected_authorization_(
          auth_token.empty() ? "" : absl::StrCat("Bearer ", auth_token)),
      log_requests_(log_requests),
      pipeline_(pipeline),
      node_(node) {}

bool KvService::HoldsReadLease() const {
  return node_ != nullptr && node_->HoldsReadLease();
}

void KvService::AfterLeadership(
    absl::AnyInvocable<void(absl::Status) &&> then) {
  // A single server, or a leader holding its read lease: `then` runs here,
  // on the caller's thread (a gRPC thread for Get, Delete and Batch, whose
  // work does not block; a worker for the rest, as without a cluster).
  if (node_ == nullptr || HoldsReadLease()) {
    return std::move(then)(absl::OkStatus());
  }
  // The callback runs on the node's loop thread: hand `then` to a worker.
  // (Executor tasks are copyable std::functions: share the invocable.)
  auto shared = std::make_shared<absl::AnyInvocable<void(absl::Status) &&>>(
      std::move(then));
  node_->ConfirmLeadership([this, shared](absl::Status s) {
    if (!executor_->Submit([shared, s] { std::move(*shared)(s); })) {
      std::move(*shared)(BusyError());
    }
  });
}

grpc::Status KvService::CheckAuth(grpc::CallbackServerContext* context) const {
  if (expected_authorization_.empty()) return grpc::Status::OK;
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing bearer token (authorization metadata)");
  }
  if (!SameSecret(std::string(it->second.data(), it->second.size()),
                  expected_authorization_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "wrong bearer token");
  }
  return grpc::Status::OK;
}

void KvService::Record(Method method, const grpc::Status& status,
                       absl::Duration latency) const {
  if (metrics_ != nullptr) metrics_->Record(method, status.error_code(), latency);
  const auto code = status.error_code();
  const bool server_side = code == grpc::StatusCode::INTERNAL ||
                           code == grpc::StatusCode::UNKNOWN ||
                           code == grpc::StatusCode::DATA_LOSS ||
                           code == grpc::StatusCode::UNAVAILABLE;
  if (log_requests_ || server_side) {
    Log(server_side ? "warn" : "info", "rpc",
        {{"method", MethodName(method)},
         {"code", absl::StrCat(static_cast<int>(code))},
         {"error", status.error_message()},
         {"latency_us", absl::StrCat(absl::ToInt64Microseconds(latency))}});
  }
}

template <class Response, class Start>
grpc::ServerUnaryReactor* KvService::Unary(Method method,
                                           grpc::CallbackServerContext* context,
                                           Response* response, Where where,
                                           Start start) {
  auto* reactor = new UnaryReactor<Response>(this, context, method, response);
  if (!reactor->call().admitted()) {
    reactor->FinishWith(reactor->call().admission());
    return reactor;
  }
  auto work = [reactor, start = std::move(start)]() mutable {
    start(Reply<Response>([reactor](absl::StatusOr<Response> result) {
      reactor->Reply(std::move(result));
    }));
  };
  if (where == Where::kInline) {
    work();
  } else if (!executor_->Submit(std::move(work))) {
    reactor->FinishWith(Busy());
  }
  return reactor;
}

template <class Response, class Fn>
grpc::ServerUnaryReactor* KvService::UnaryNow(
    Method method, grpc::CallbackServerContext* context, Response* response,
    Where where, Fn fn) {
  return Unary(method, context, response, where,
               [fn = std::move(fn)](Reply<Response> reply) mutable {
                 std::move(reply)(fn());
               });
}

grpc::ServerUnaryReactor* KvService::Get(grpc::CallbackServerContext* context,
                                         const v1::GetRequest* request,
                                         v1::GetResponse* response) {
  if (request->consistency() == v1::STALE || node_ == nullptr) {
    return UnaryNow(Method::kGet, context, response, Where::kInline,
                    [this, request] { return handler_->Get(*request); });
  }
  return Unary(Method::kGet, context, response, Where::kInline,
               [this, request](Reply<v1::GetResponse> reply) {
                 AfterLeadership([this, request, reply = std::move(reply)](
                                     absl::Status s) mutable {
                   if (!s.ok()) return std::move(reply)(s);
                   std::move(reply)(handler_->Get(*request));
                 });
               });
}

grpc::ServerUnaryReactor* KvService::Put(grpc::CallbackServerContext* context,
                                         const v1::PutRequest* request,
                                         v1::PutResponse* response) {
  // Inline: validation, a buffered write and the hand-off never block.
  return Unary(Method::kPut, context, response, Where::kInline,
               [this, request](Reply<v1::PutResponse> reply) {
                 handler_->PutAsync(*request, std::move(reply));
               });
}

grpc::ServerUnaryReactor* KvService::Delete(
    grpc::CallbackServerContext* context, const v1::DeleteRequest* request,
    v1::DeleteResponse* response) {
  // Inline: a wait-free read, then the hand-off.
  // On a cluster, after confirming leadership: deleting a missing key reads
  // and commits nothing, so only the leader may answer it.
  return Unary(Method::kDelete, context, response, Where::kInline,
               [this, request](Reply<v1::DeleteResponse> reply) {
                 AfterLeadership([this, request, reply = std::move(reply)](
                                     absl::Status s) mutable {
                   if (!s.ok()) return std::move(reply)(s);
                   handler_->DeleteAsync(*request, std::move(reply));
                 });
               });
}

grpc::ServerWriteReactor<v1::ScanResponse>* KvService::Scan(
    grpc::CallbackServerContext* context, const v1::ScanRequest* request) {
  return new ScanReactor(this, context, request);
}

grpc::ServerUnaryReactor* KvService::CompareAndCommit(
    grpc::CallbackServerContext* context,
    const v1::CompareAndCommitRequest* request,
    v1::CompareAndCommitResponse* response) {
  return new CompareAndCommitReactor(this, context, request, response);
}

grpc::ServerUnaryReactor* KvService::Stats(grpc::CallbackServerContext* context,
                                           const v1::StatsRequest* /*request*/,
                                           v1::StatsResponse* response) {
  return UnaryNow(Method::kStats, context, response, Where::kInline, [this] {
    v1::StatsResponse stats = handler_->Stats();
    const auto gauge = [](const std::atomic<int64_t>& g) {
      return static_cast<uint64_t>(
          std::max<int64_t>(0, g.load(std::memory_order_relaxed)));
    };
    stats.set_pipelined_streams(gauge(pipelined_.streams));
    stats.set_pipelined_ops_in_flight(gauge(pipelined_.ops));
    stats.set_pipelined_bytes_in_flight(gauge(pipelined_.bytes));
    return absl::StatusOr<v1::StatsResponse>(std::move(stats));
  });
}

grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>*
KvService::Session(grpc::CallbackServerContext* context) {
  return new SessionReactor(this, context);
}

grpc::ServerUnaryReactor* KvService::BeginTxn(
    grpc::CallbackServerContext* context, const v1::BeginTxnRequest* request,
    v1::BeginTxnResponse* response) {
  return Unary(Method::kBeginTxn, context, response, Where::kExecutor,
               [this, request, peer = context->peer()](
                   Reply<v1::BeginTxnResponse> reply) {
                 AfterLeadership([this, request, peer, reply = std::move(
                                                           reply)](
                                     absl::Status s) mutable {
                   if (!s.ok()) return std::move(reply)(s);
                   std::move(reply)(handler_->BeginTxn(*request, peer));
                 });
               });
}

grpc::ServerUnaryReactor* KvService::KeepAlive(
    grpc::CallbackServerContext* context, const v1::KeepAliveRequest* request,
    v1::KeepAliveResponse* response) {
  return UnaryNow(Method::kKeepAlive, context, response, Where::kExecutor,
                  [this, request] { return handler_->KeepAlive(*request); });
}

grpc::ServerUnaryReactor* KvService::TxnGet(
    grpc::CallbackServerContext* context, const v1::TxnGetRequest* request,
    v1::GetResponse* response) {
  return UnaryNow(Method::kTxnGet, context, response, Where::kExecutor,
                  [this, request] { return handler_->TxnGet(*request); });
}

grpc::ServerUnaryReactor* KvService::TxnPut(
    grpc::CallbackServerContext* context, const v1::TxnPutRequest* request,
    v1::TxnPutResponse* response) {
  return UnaryNow(Method::kTxnPut, context, response, Where::kExecutor,
                  [this, request] { return handler_->TxnPut(*request); });
}

grpc::ServerUnaryReactor* KvService::TxnDelete(
    grpc::CallbackServerContext* context, const v1::TxnDeleteRequest* request,
    v1::TxnDeleteResponse* response) {
  return UnaryNow(Method::kTxnDelete, context, response, Where::kExecutor,
                  [this, request] { return handler_->TxnDelete(*request); });
}

grpc::ServerUnaryReactor* KvService::TxnScan(
    grpc::CallbackServerContext* context, const v1::TxnScanRequest* request,
    v1::ScanResponse* response) {
  return UnaryNow(Method::kTxnScan, context, response, Where::kExecutor,
                  [this, request] { return handler_->TxnScan(*request); });
}

grpc::ServerUnaryReactor* KvService::CommitTxn(
    grpc::CallbackServerContext* context, const v1::CommitTxnRequest* request,
    v1::CommitResponse* response) {
  // On a worker: the handle's lock may be held by the client's own scan.
  return Unary(Method::kCommitTxn, context, response, Where::kExecutor,
               [this, request](Reply<v1::CommitResponse> reply) {
                 handler_->CommitTxnAsync(*request, std::move(reply));
               });
}

grpc::ServerUnaryReactor* KvService::Batch(grpc::CallbackServerContext* context,
                                           const v1::BatchRequest* request,
                                           v1::BatchResponse* response) {
  // Inline: reads never block, writes are handed to the engine. On a
  // cluster, after confirming leadership, as a Get: the batch's reads are
  // linearizable and a follower refuses the whole batch with mvkv-leader
  // (its engine would refuse only the writes, and answer the reads stale).
  return Unary(Method::kBatch, context, response, Where::kInline,
               [this, request](Reply<v1::BatchResponse> reply) {
                 AfterLeadership([this, request, reply = std::move(reply)](
                                     absl::Status s) mutable {
                   if (!s.ok()) return std::move(reply)(s);
                   handler_->BatchAsync(*request, std::move(reply));
                 });
               });
}

grpc::ServerUnaryReactor* KvService::RollbackTxn(
    grpc::CallbackServerContext* context, const v1::RollbackTxnRequest* request,
    v1::RollbackResponse* response) {
  return UnaryNow(Method::kRollbackTxn, context, response, Where::kExecutor,
                  [this, request] { return handler_->RollbackTxn(*request); });
}

grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse>*
KvService::Watch(grpc::CallbackServerContext* context) {
  return NewWatchReactor(this, context);
}

}  // namespace mvkv::server
