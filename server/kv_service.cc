#include "server/kv_service.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/alarm.h"
#include "server/log.h"

namespace mvkv::server {
namespace {

grpc::Status Busy() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      "server busy: too many requests queued, retry later");
}

// Constant-time comparison, so a wrong token leaks nothing through timing.
bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

// Streams the chunks of one scan, computed on the executor.
class ScanReactor final : public grpc::ServerWriteReactor<v1::ScanResponse> {
 public:
  ScanReactor(KvService* service, grpc::CallbackServerContext* context,
              const v1::ScanRequest* request)
      : service_(service), start_(absl::Now()) {
    service->CallStarted();
    if (grpc::Status s = service->CheckAuth(context); !s.ok()) {
      Done(s);
      return;
    }
    if (!service->executor()->Submit([this, request] { Run(*request); })) {
      Done(Busy());
    }
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Done(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    WriteNext();
  }
  void OnDone() override {
    service_->CallDone();
    delete this;
  }

 private:
  void Run(const v1::ScanRequest& request) {
    auto chunks = service_->handler()->Scan(request);
    if (!chunks.ok()) {
      Done(ToGrpc(chunks.status()));
      return;
    }
    chunks_ = *std::move(chunks);
    WriteNext();
  }
  void WriteNext() {
    if (next_ == chunks_.size()) {
      Done(grpc::Status::OK);
      return;
    }
    StartWrite(&chunks_[next_++]);
  }
  void Done(const grpc::Status& status) {
    service_->Finished("Scan", status, start_);
    Finish(status);
  }

  KvService* const service_;
  const absl::Time start_;
  std::vector<v1::ScanResponse> chunks_;
  std::size_t next_ = 0;
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
      : service_(service), start_(absl::Now()) {
    service->CallStarted();
    if (grpc::Status s = service->CheckAuth(context); !s.ok()) {
      Done(s);
      return;
    }
    session_ = service->handler()->NewSession();
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // half-close, cancellation or disconnect
      Done(grpc::Status::OK);
      return;
    }
    // A commit replies from the engine's completion thread, anything else
    // from the worker; either way the worker never waits for a commit.
    if (!service_->executor()->Submit([this] {
          session_->HandleAsync(request_, [this](v1::SessionResponse r) {
            response_ = std::move(r);
            StartWrite(&response_);  // nothing touches `this` after this
          });
        })) {
      Done(Busy());
    }
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
    service_->CallDone();
    delete this;
  }

 private:
  void Done(const grpc::Status& status) {
    service_->Finished("Session", status, start_);
    Finish(status);
  }

  KvService* const service_;
  const absl::Time start_;
  std::unique_ptr<server::Session> session_;
  v1::SessionRequest request_;
  v1::SessionResponse response_;
};

// One one-shot Txn call: attempts run on the executor and commit
// asynchronously; a retryable failure waits out its back-off on a gRPC
// alarm (no thread sleeps), then runs the next attempt on the executor.
// Owns itself: deleted once the call is finished.
class TxnCall final {
 public:
  static grpc::ServerUnaryReactor* Start(KvService* service,
                                         grpc::CallbackServerContext* context,
                                         const v1::TxnRequest* request,
                                         v1::TxnResponse* response) {
    auto* call = new TxnCall(service, context, request, response);
    grpc::ServerUnaryReactor* reactor = call->reactor_;
    if (grpc::Status s = service->CheckAuth(context); !s.ok()) {
      call->Done(s);
    } else if (absl::Status s = service->handler()->ValidateTxn(*request);
               !s.ok()) {
      call->Done(ToGrpc(s));
    } else {
      call->Attempt();
    }
    return reactor;
  }

 private:
  TxnCall(KvService* service, grpc::CallbackServerContext* context,
          const v1::TxnRequest* request, v1::TxnResponse* response)
      : service_(service),
        reactor_(context->DefaultReactor()),
        request_(request),
        response_(response),
        start_(absl::Now()) {
    service->CallStarted();
  }

  void Attempt() {
    if (!service_->executor()->Submit([this] {
          service_->handler()->TxnAttemptAsync(
              *request_, [this](absl::StatusOr<v1::TxnResponse> r) {
                OnAttempt(std::move(r));
              });
        })) {
      Done(Busy());
    }
  }

  // On a worker (inline failure) or the engine's completion thread.
  void OnAttempt(absl::StatusOr<v1::TxnResponse> result) {
    const int attempt = attempts_++;
    if (result.ok()) *response_ = *std::move(result);
    if (result.ok() || !KvHandler::RetryTxn(result.status()) ||
        attempts_ >= service_->handler()->options().txn_max_attempts) {
      Done(ToGrpc(result.status()));
      return;
    }
    // Each alarm fires once; keep them all until the call ends (at most
    // txn_max_attempts of them).
    alarms_.push_back(std::make_unique<grpc::Alarm>());
    alarms_.back()->Set(
        absl::ToChronoTime(absl::Now() + KvHandler::TxnBackoff(attempt)),
        [this](bool /*fired*/) { Attempt(); });
  }

  void Done(const grpc::Status& status) {
    service_->Finished("Txn", status, start_);
    reactor_->Finish(status);
    service_->CallDone();
    delete this;
  }

  KvService* const service_;
  grpc::ServerUnaryReactor* const reactor_;
  const v1::TxnRequest* const request_;
  v1::TxnResponse* const response_;
  const absl::Time start_;
  int attempts_ = 0;
  std::vector<std::unique_ptr<grpc::Alarm>> alarms_;
};

}  // namespace

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

KvService::KvService(KvHandler* handler, Executor* executor, Metrics* metrics,
                     std::string auth_token, bool log_requests)
    : handler_(handler),
      executor_(executor),
      metrics_(metrics),
      expected_authorization_(
          auth_token.empty() ? "" : absl::StrCat("Bearer ", auth_token)),
      log_requests_(log_requests) {}

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

void KvService::Finished(const char* method, const grpc::Status& status,
                         absl::Time start) const {
  const absl::Duration latency = absl::Now() - start;
  if (metrics_ != nullptr)
    metrics_->Record(method, status.error_code(), latency);
  const auto code = status.error_code();
  const bool server_side = code == grpc::StatusCode::INTERNAL ||
                           code == grpc::StatusCode::UNKNOWN ||
                           code == grpc::StatusCode::DATA_LOSS ||
                           code == grpc::StatusCode::UNAVAILABLE;
  if (log_requests_ || server_side) {
    Log(server_side ? "warn" : "info", "rpc",
        {{"method", method},
         {"code", absl::StrCat(static_cast<int>(code))},
         {"error", status.error_message()},
         {"latency_us", absl::StrCat(absl::ToInt64Microseconds(latency))}});
  }
}

template <class Response, class Start>
grpc::ServerUnaryReactor* KvService::UnaryAsync(
    const char* method, grpc::CallbackServerContext* context,
    Response* response, bool run_inline, Start start) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start_time = absl::Now();
  if (grpc::Status s = CheckAuth(context); !s.ok()) {
    Finished(method, s, start_time);
    reactor->Finish(s);
    return reactor;
  }
  CallStarted();
  // Runs once: inline, on a worker, or on the engine's completion thread.
  auto finish = [this, method, reactor, response,
                 start_time](absl::StatusOr<Response> result) {
    grpc::Status status = ToGrpc(result.status());
    if (result.ok()) *response = *std::move(result);
    Finished(method, status, start_time);
    reactor->Finish(status);
    CallDone();
  };
  auto work = [start = std::move(start), finish]() mutable {
    start(Reply<Response>(finish));
  };
  if (run_inline) {
    work();
  } else if (!executor_->Submit(std::move(work))) {
    Finished(method, Busy(), start_time);
    reactor->Finish(Busy());
    CallDone();
  }
  return reactor;
}

template <class Response, class Fn>
grpc::ServerUnaryReactor* KvService::Unary(const char* method,
                                           grpc::CallbackServerContext* context,
                                           Response* response, bool run_inline,
                                           Fn fn) {
  return UnaryAsync(method, context, response, run_inline,
                    [fn = std::move(fn)](Reply<Response> done) mutable {
                      std::move(done)(fn());
                    });
}

grpc::ServerUnaryReactor* KvService::Get(grpc::CallbackServerContext* context,
                                         const v1::GetRequest* request,
                                         v1::GetResponse* response) {
  return Unary("Get", context, response, /*run_inline=*/true,
               [this, request] { return handler_->Get(*request); });
}

grpc::ServerUnaryReactor* KvService::Put(grpc::CallbackServerContext* context,
                                         const v1::PutRequest* request,
                                         v1::PutResponse* response) {
  // Inline: validation, a buffered write and the hand-off never block.
  return UnaryAsync("Put", context, response, /*run_inline=*/true,
                    [this, request](Reply<v1::PutResponse> done) {
                      handler_->PutAsync(*request, std::move(done));
                    });
}

grpc::ServerUnaryReactor* KvService::Delete(
    grpc::CallbackServerContext* context, const v1::DeleteRequest* request,
    v1::DeleteResponse* response) {
  // Inline: a wait-free read, then the hand-off.
  return UnaryAsync("Delete", context, response, /*run_inline=*/true,
                    [this, request](Reply<v1::DeleteResponse> done) {
                      handler_->DeleteAsync(*request, std::move(done));
                    });
}

grpc::ServerWriteReactor<v1::ScanResponse>* KvService::Scan(
    grpc::CallbackServerContext* context, const v1::ScanRequest* request) {
  return new ScanReactor(this, context, request);
}

grpc::ServerUnaryReactor* KvService::Txn(grpc::CallbackServerContext* context,
                                         const v1::TxnRequest* request,
                                         v1::TxnResponse* response) {
  return TxnCall::Start(this, context, request, response);
}

grpc::ServerUnaryReactor* KvService::Stats(grpc::CallbackServerContext* context,
                                           const v1::StatsRequest* request,
                                           v1::StatsResponse* response) {
  return Unary("Stats", context, response, true, [this] {
    return absl::StatusOr<v1::StatsResponse>(handler_->Stats());
  });
}

grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>*
KvService::Session(grpc::CallbackServerContext* context) {
  return new SessionReactor(this, context);
}

grpc::ServerUnaryReactor* KvService::BeginTxn(
    grpc::CallbackServerContext* context, const v1::BeginTxnRequest* request,
    v1::BeginTxnResponse* response) {
  return Unary("BeginTxn", context, response, false,
               [this, request] { return handler_->BeginTxn(*request); });
}

grpc::ServerUnaryReactor* KvService::KeepAlive(
    grpc::CallbackServerContext* context, const v1::KeepAliveRequest* request,
    v1::KeepAliveResponse* response) {
  return Unary("KeepAlive", context, response, false,
               [this, request] { return handler_->KeepAlive(*request); });
}

grpc::ServerUnaryReactor* KvService::TxnGet(
    grpc::CallbackServerContext* context, const v1::TxnGetRequest* request,
    v1::GetResponse* response) {
  return Unary("TxnGet", context, response, false,
               [this, request] { return handler_->TxnGet(*request); });
}

grpc::ServerUnaryReactor* KvService::TxnPut(
    grpc::CallbackServerContext* context, const v1::TxnPutRequest* request,
    v1::TxnPutResponse* response) {
  return Unary("TxnPut", context, response, false,
               [this, request] { return handler_->TxnPut(*request); });
}

grpc::ServerUnaryReactor* KvService::TxnDelete(
    grpc::CallbackServerContext* context, const v1::TxnDeleteRequest* request,
    v1::TxnDeleteResponse* response) {
  return Unary("TxnDelete", context, response, false,
               [this, request] { return handler_->TxnDelete(*request); });
}

grpc::ServerUnaryReactor* KvService::TxnScan(
    grpc::CallbackServerContext* context, const v1::TxnScanRequest* request,
    v1::ScanResponse* response) {
  return Unary("TxnScan", context, response, false,
               [this, request] { return handler_->TxnScan(*request); });
}

grpc::ServerUnaryReactor* KvService::CommitTxn(
    grpc::CallbackServerContext* context, const v1::CommitTxnRequest* request,
    v1::CommitResponse* response) {
  // On a worker: the handle's lock may be held by the client's own scan.
  return UnaryAsync("CommitTxn", context, response, false,
                    [this, request](Reply<v1::CommitResponse> done) {
                      handler_->CommitTxnAsync(*request, std::move(done));
                    });
}

grpc::ServerUnaryReactor* KvService::RollbackTxn(
    grpc::CallbackServerContext* context, const v1::RollbackTxnRequest* request,
    v1::RollbackResponse* response) {
  return Unary("RollbackTxn", context, response, false,
               [this, request] { return handler_->RollbackTxn(*request); });
}

}  // namespace mvkv::server
