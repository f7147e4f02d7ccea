#include "client/client.h"

#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "proto/health.grpc.pb.h"

namespace mvkv::client {
namespace {

Kv FromProto(v1::KeyValue kv) {
  return Kv{std::move(*kv.mutable_key()), std::move(*kv.mutable_value()),
            kv.commit_ts()};
}

void AppendScan(v1::ScanResponse& chunk, ScanResult* out) {
  for (v1::KeyValue& kv : *chunk.mutable_kvs()) {
    out->kvs.push_back(FromProto(std::move(kv)));
  }
  out->snapshot_ts = chunk.snapshot_ts();
  out->more = chunk.more();
}

}  // namespace

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

// ---- Transaction. ----

struct Transaction::Stream {
  grpc::ClientContext context;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>>
      rw;
};

Transaction::Transaction(std::unique_ptr<Stream> stream)
    : stream_(std::move(stream)) {}

Transaction::~Transaction() {
  if (stream_ == nullptr) return;
  // Half-close; the server ends the stream and rolls back what is open.
  stream_->rw->WritesDone();
  (void)stream_->rw->Finish();
}

absl::StatusOr<v1::SessionResponse> Transaction::Call(
    const v1::SessionRequest& request) {
  v1::SessionResponse response;
  if (!stream_->rw->Write(request) || !stream_->rw->Read(&response)) {
    absl::Status s = FromGrpc(stream_->rw->Finish());
    stream_.reset();  // unusable from now on
    if (s.ok()) s = absl::UnavailableError("transaction stream ended");
    return s;
  }
  if (response.code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(response.code()),
                        response.message());
  }
  return response;
}

absl::StatusOr<Kv> Transaction::Get(const std::string& key) {
  if (stream_ == nullptr) return absl::UnavailableError("stream closed");
  v1::SessionRequest request;
  request.mutable_get()->set_key(key);
  auto r = Call(request);
  if (!r.ok()) return r.status();
  return FromProto(std::move(*r->mutable_get()->mutable_kv()));
}

absl::Status Transaction::Put(const std::string& key,
                              const std::string& value) {
  if (stream_ == nullptr) return absl::UnavailableError("stream closed");
  v1::SessionRequest request;
  request.mutable_put()->set_key(key);
  request.mutable_put()->set_value(value);
  return Call(request).status();
}

absl::Status Transaction::Delete(const std::string& key) {
  if (stream_ == nullptr) return absl::UnavailableError("stream closed");
  v1::SessionRequest request;
  request.mutable_delete_()->set_key(key);
  return Call(request).status();
}

absl::StatusOr<ScanResult> Transaction::Scan(const std::string& start,
                                             const std::string& end,
                                             uint32_t limit) {
  if (stream_ == nullptr) return absl::UnavailableError("stream closed");
  v1::SessionRequest request;
  request.mutable_scan()->set_start(start);
  request.mutable_scan()->set_end(end);
  request.mutable_scan()->set_limit(limit);
  auto r = Call(request);
  if (!r.ok()) return r.status();
  ScanResult out;
  AppendScan(*r->mutable_scan(), &out);
  return out;
}

absl::StatusOr<uint64_t> Transaction::Commit() {
  if (stream_ == nullptr) return absl::UnavailableError("stream closed");
  v1::SessionRequest request;
  request.mutable_commit();
  auto r = Call(request);
  if (!r.ok()) return r.status();
  return r->commit().commit_ts();
}

absl::Status Transaction::Rollback() {
  if (stream_ == nullptr) return absl::UnavailableError("stream closed");
  v1::SessionRequest request;
  request.mutable_rollback();
  return Call(request).status();
}

// ---- Client. ----

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    const ClientOptions& options) {
  if (options.server.empty()) {
    return absl::InvalidArgumentError("no server address");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // scans and stats may be large
  if (!options.tls_ca_file.empty()) {
    std::ifstream in(options.tls_ca_file, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", options.tls_ca_file));
    }
    std::ostringstream pem;
    pem << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  auto channel = grpc::CreateCustomChannel(options.server, credentials, args);
  return std::unique_ptr<Client>(new Client(options, std::move(channel)));
}

Client::Client(const ClientOptions& options,
               std::shared_ptr<grpc::Channel> channel)
    : options_(options),
      channel_(std::move(channel)),
      stub_(v1::KV::NewStub(channel_)) {}

void Client::PrepareContext(grpc::ClientContext* context,
                            absl::Duration timeout) const {
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(timeout));
  if (!options_.token.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", options_.token));
  }
}

absl::StatusOr<Kv> Client::Get(const std::string& key) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.timeout);
  v1::GetRequest request;
  request.set_key(key);
  v1::GetResponse response;
  absl::Status s = FromGrpc(stub_->Get(&context, request, &response));
  if (!s.ok()) return s;
  return FromProto(std::move(*response.mutable_kv()));
}

absl::StatusOr<uint64_t> Client::Put(const std::string& key,
                                     const std::string& value) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.timeout);
  v1::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  v1::PutResponse response;
  absl::Status s = FromGrpc(stub_->Put(&context, request, &response));
  if (!s.ok()) return s;
  return response.commit_ts();
}

absl::StatusOr<DeleteResult> Client::Delete(const std::string& key) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.timeout);
  v1::DeleteRequest request;
  request.set_key(key);
  v1::DeleteResponse response;
  absl::Status s = FromGrpc(stub_->Delete(&context, request, &response));
  if (!s.ok()) return s;
  return DeleteResult{response.existed(), response.commit_ts()};
}

absl::StatusOr<ScanResult> Client::Scan(const std::string& start,
                                        const std::string& end,
                                        uint32_t limit) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.timeout);
  v1::ScanRequest request;
  request.set_start(start);
  request.set_end(end);
  request.set_limit(limit);
  auto reader = stub_->Scan(&context, request);
  ScanResult out;
  v1::ScanResponse chunk;
  while (reader->Read(&chunk)) AppendScan(chunk, &out);
  absl::Status s = FromGrpc(reader->Finish());
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<v1::TxnResponse> Client::Txn(const v1::TxnRequest& request) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.timeout);
  v1::TxnResponse response;
  absl::Status s = FromGrpc(stub_->Txn(&context, request, &response));
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v1::StatsResponse> Client::Stats() {
  grpc::ClientContext context;
  PrepareContext(&context, options_.timeout);
  v1::StatsResponse response;
  absl::Status s =
      FromGrpc(stub_->Stats(&context, v1::StatsRequest(), &response));
  if (!s.ok()) return s;
  return response;
}

absl::Status Client::Health() {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  PrepareContext(&context, options_.timeout);
  grpc::health::v1::HealthCheckResponse response;
  absl::Status s = FromGrpc(
      stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &response));
  if (!s.ok()) return s;
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(
        "server is ", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                          response.status())));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Transaction>> Client::Begin(
    v1::Isolation isolation) {
  auto stream = std::make_unique<Transaction::Stream>();
  PrepareContext(&stream->context, options_.txn_timeout);
  stream->rw = stub_->Session(&stream->context);
  std::unique_ptr<Transaction> txn(new Transaction(std::move(stream)));
  v1::SessionRequest request;
  request.mutable_begin()->set_isolation(isolation);
  auto r = txn->Call(request);
  if (!r.ok()) return r.status();
  txn->id_ = r->begin().txn_id();
  txn->snapshot_ts_ = r->begin().snapshot_ts();
  return txn;
}

absl::Status Client::Transact(
    const std::function<absl::Status(Transaction&)>& fn,
    const TransactOptions& options) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  absl::Duration backoff = options.initial_backoff;
  absl::Status last = absl::AbortedError("no attempt made");
  for (int attempt = 0; attempt < std::max(options.max_attempts, 1);
       ++attempt) {
    if (attempt > 0) {
      const int64_t us =
          std::max<int64_t>(1, absl::ToInt64Microseconds(backoff));
      std::this_thread::sleep_for(std::chrono::microseconds(
          us / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(us))));
      backoff = std::min(backoff * 2, options.max_backoff);
    }
    auto txn = Begin(options.isolation);
    if (!txn.ok()) {
      last = txn.status();
      if (absl::IsAborted(last)) continue;
      return last;
    }
    last = fn(**txn);
    if (last.ok()) last = (*txn)->Commit().status();
    if (last.ok()) return last;
    if (!absl::IsAborted(last)) return last;  // ~Transaction rolls back
  }
  return last;
}

}  // namespace mvkv::client
