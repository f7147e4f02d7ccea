// null_server: the mvkv.v1.KV service with handlers that answer at once with
// a fixed value and keep nothing: what gRPC alone costs on this machine. It
// runs as its own process on the transport settings of mvkv_server
// (server/transport.h) and speaks the same proto, so the harness drives it
// like mvkv_server (--target=null://HOST:PORT, --start_null) and every
// networked result has a same-run ratio to gRPC's own cost.
//
// Get, TxnGet, Session gets and the gets of Batch and Pipeline return
// --value_bytes bytes; writes return an increasing commit_ts; Scan streams
// one empty chunk; Stats is all zeros; other calls return an empty OK. Logs
// the same JSON "serving" line as mvkv_server (with the port). SIGINT or
// SIGTERM: stop, exit 0.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "flags/usage.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"
#include "server/log.h"
#include "server/transport.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "HOST:PORT to serve on (port 0: a free one, logged).");
ABSL_FLAG(int32_t, value_bytes, 1100,
          "Size of the value every read returns (the harness passes its "
          "records' size).");
ABSL_FLAG(int64_t, max_request_bytes, 4 << 20,
          "Largest request accepted, as mvkv_server's flag.");

namespace mvkv::null_server {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

class NullKv final : public v1::KV::CallbackService {
 public:
  explicit NullKv(std::string value) : value_(std::move(value)) {}

  ServerUnaryReactor* Get(CallbackServerContext* context,
                          const v1::GetRequest* request,
                          v1::GetResponse* response) override {
    Fill(request->key(), response->mutable_kv());
    return Done(context);
  }
  ServerUnaryReactor* Put(CallbackServerContext* context,
                          const v1::PutRequest* /*request*/,
                          v1::PutResponse* response) override {
    response->set_commit_ts(NextTs());
    return Done(context);
  }
  ServerUnaryReactor* Delete(CallbackServerContext* context,
                             const v1::DeleteRequest* /*request*/,
                             v1::DeleteResponse* response) override {
    response->set_commit_ts(NextTs());
    response->set_existed(true);
    return Done(context);
  }
  ServerUnaryReactor* TxnGet(CallbackServerContext* context,
                             const v1::TxnGetRequest* request,
                             v1::GetResponse* response) override {
    Fill(request->key(), response->mutable_kv());
    return Done(context);
  }
  ServerUnaryReactor* Stats(CallbackServerContext* context,
                            const v1::StatsRequest* /*request*/,
                            v1::StatsResponse* /*response*/) override {
    return Done(context);
  }
  ServerUnaryReactor* Batch(CallbackServerContext* context,
                            const v1::BatchRequest* request,
                            v1::BatchResponse* response) override {
    for (const v1::AutocommitOp& op : request->ops()) {
      Answer(op, response->add_results());
    }
    return Done(context);
  }
  grpc::ServerWriteReactor<v1::ScanResponse>* Scan(
      CallbackServerContext* context,
      const v1::ScanRequest* /*request*/) override;
  grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>* Session(
      CallbackServerContext* context) override;
  grpc::ServerBidiReactor<v1::PipelineRequest, v1::PipelineResponse>*
  Pipeline(CallbackServerContext* context) override;

  void Fill(const std::string& key, v1::KeyValue* kv) {
    kv->set_key(key);
    kv->set_value(value_);
    kv->set_commit_ts(1);
  }
  void Answer(const v1::AutocommitOp& op, v1::AutocommitResult* result) {
    result->set_id(op.id());
    if (op.has_get()) {
      Fill(op.get().key(), result->mutable_get()->mutable_kv());
    } else if (op.has_put()) {
      result->mutable_put()->set_commit_ts(NextTs());
    } else {
      result->mutable_delete_()->set_commit_ts(NextTs());
      result->mutable_delete_()->set_existed(true);
    }
  }
  uint64_t NextTs() { return ts_.fetch_add(1, std::memory_order_relaxed); }

 private:
  static ServerUnaryReactor* Done(CallbackServerContext* context) {
    ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  const std::string value_;
  std::atomic<uint64_t> ts_{1};  // relaxed: only uniqueness matters
};

class NullScan final : public grpc::ServerWriteReactor<v1::ScanResponse> {
 public:
  NullScan() { StartWriteAndFinish(&chunk_, grpc::WriteOptions(), grpc::Status::OK); }
  void OnDone() override { delete this; }

 private:
  v1::ScanResponse chunk_;
};

// Answers each request at once, one write at a time.
class NullSession final
    : public grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse> {
 public:
  explicit NullSession(NullKv* kv) : kv_(kv) { StartRead(&request_); }
  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);
    response_.Clear();
    if (request_.has_get()) Fill();
    if (request_.has_commit()) {
      response_.mutable_commit()->set_commit_ts(kv_->NextTs());
    }
    if (request_.has_begin()) response_.mutable_begin()->set_txn_id(1);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::CANCELLED);
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  void Fill() { kv_->Fill(request_.get().key(), response_.mutable_get()->mutable_kv()); }

  NullKv* const kv_;
  v1::SessionRequest request_;
  v1::SessionResponse response_;
};

// Answers every operation of a message at once; reads the next message
// while results are written (one write outstanding, the rest queued).
class NullPipeline final
    : public grpc::ServerBidiReactor<v1::PipelineRequest,
                                     v1::PipelineResponse> {
 public:
  explicit NullPipeline(NullKv* kv) : kv_(kv) { StartRead(&request_); }
  void OnReadDone(bool ok) override {
    bool write = false, finish = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!ok) {
        closed_ = true;
        finish = FinishLocked();
      } else {
        for (const v1::AutocommitOp& op : request_.ops()) {
          kv_->Answer(op, ready_.add_results());
        }
        if (!writing_) {
          out_.Swap(&ready_);
          writing_ = write = true;
        }
      }
    }
    if (write) StartWrite(&out_);
    if (ok) StartRead(&request_);
    if (finish) Finish(grpc::Status::OK);
  }
  void OnWriteDone(bool ok) override {
    bool write = false, finish = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      out_.Clear();
      writing_ = false;
      if (!ok) closed_ = true;  // the call is dead: the read fails too
      if (ok && ready_.results_size() > 0) {
        out_.Swap(&ready_);
        writing_ = write = true;
      } else {
        finish = FinishLocked();
      }
    }
    if (write) StartWrite(&out_);
    if (finish) Finish(grpc::Status::OK);
  }
  void OnDone() override { delete this; }

 private:
  // Once, when the client has half-closed and every result is written.
  bool FinishLocked() {
    if (finished_ || !closed_ || writing_) return false;
    finished_ = true;
    return true;
  }

  NullKv* const kv_;
  v1::PipelineRequest request_;
  v1::PipelineResponse out_;
  std::mutex mu_;
  v1::PipelineResponse ready_;  // guarded by mu_
  bool writing_ = false;        // guarded by mu_
  bool closed_ = false;         // guarded by mu_
  bool finished_ = false;       // guarded by mu_
};

grpc::ServerWriteReactor<v1::ScanResponse>* NullKv::Scan(
    CallbackServerContext* /*context*/, const v1::ScanRequest* /*request*/) {
  return new NullScan();
}

grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>*
NullKv::Session(CallbackServerContext* /*context*/) {
  return new NullSession(this);
}

grpc::ServerBidiReactor<v1::PipelineRequest, v1::PipelineResponse>*
NullKv::Pipeline(CallbackServerContext* /*context*/) {
  return new NullPipeline(this);
}

int Main() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  NullKv service(std::string(std::max(0, absl::GetFlag(FLAGS_value_bytes)), 'v'));
  grpc::ServerBuilder builder;
  server::ConfigureTransport(
      {.max_request_bytes =
           static_cast<int>(absl::GetFlag(FLAGS_max_request_bytes))},
      &builder);
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    server::Log("error", "cannot start", {{"listen", listen}});
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus(
      v1::KV::service_full_name(), true);
  server::Log("info", "serving",
              {{"listen", listen}, {"port", absl::StrCat(port)}, {"service", "null"}});
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace
}  // namespace mvkv::null_server

int main(int argc, char** argv) {
  mvkv::flags::SetUsage(
      "the mvkv.v1.KV service with null handlers (fixed answers, nothing "
      "kept): gRPC's own cost, for the ycsb harness's null target.\n"
      "Usage: null_server [--listen=HOST:PORT] [--value_bytes=N]");
  absl::ParseCommandLine(argc, argv);
  return mvkv::null_server::Main();
}
