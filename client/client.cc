#include "client/client.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client_internal.h"
#include "client/router.h"
#include "client/wire.h"
#include "grpcpp/grpcpp.h"
#include "proto/health.grpc.pb.h"
#include "proto/kv.grpc.pb.h"

namespace mvkv::client {


namespace {

using wire::FromGrpc;
using wire::FromProto;

}  // namespace

// ---- Small types. ----

absl::StatusOr<Isolation> ParseIsolation(std::string_view name) {
  for (Isolation i : {Isolation::kSnapshot, Isolation::kSerializable,
                      Isolation::kReadCommitted}) {
    if (name == IsolationName(i)) return i;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown isolation level \"", absl::string_view(name.data(), name.size()),
      "\" (snapshot, serializable or read_committed)"));
}

const char* IsolationName(Isolation isolation) {
  switch (isolation) {
    case Isolation::kSerializable:
      return "serializable";
    case Isolation::kReadCommitted:
      return "read_committed";
    case Isolation::kSnapshot:
      break;
  }
  return "snapshot";
}

uint64_t Stats::Number(std::string_view name) const {
  for (const Entry& e : entries) {
    if (e.name == name) {
      const uint64_t* n = std::get_if<uint64_t>(&e.value);
      return n == nullptr ? 0 : *n;
    }
  }
  return 0;
}

std::string Stats::Text(std::string_view name) const {
  for (const Entry& e : entries) {
    if (e.name == name) {
      const std::string* t = std::get_if<std::string>(&e.value);
      return t == nullptr ? "" : *t;
    }
  }
  return "";
}

Compare Compare::Value(std::string key, Result result, std::string value) {
  return Compare{std::move(key), Target::kValue, result, std::move(value)};
}

Compare Compare::Version(std::string key, Result result, uint64_t version) {
  return Compare{std::move(key), Target::kVersion, result, "", version};
}

Compare Compare::Exists(std::string key, bool exists) {
  return Compare{std::move(key), Target::kExists, Result::kEqual, "", 0,
                 exists};
}

Op Op::Get(std::string key) { return Op{Kind::kGet, std::move(key)}; }

Op Op::Put(std::string key, std::string value) {
  return Op{Kind::kPut, std::move(key), std::move(value)};
}

Op Op::Delete(std::string key) { return Op{Kind::kDelete, std::move(key)}; }

Op Op::Scan(std::string start, std::string end, uint32_t limit) {
  return Op{Kind::kScan, std::move(start), "", std::move(end), limit};
}

// ---- Txn. ----

struct Txn::Stream {
  grpc::ClientContext context;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>>
      rw;

  bool broken = false;  // the stream ended; Finish() has run

  // Sends one request, reads its response, maps its in-band code.
  absl::StatusOr<v1::SessionResponse> Call(const v1::SessionRequest& request) {
    v1::SessionResponse response;
    if (!rw->Write(request) || !rw->Read(&response)) {
      broken = true;
      absl::Status s = FromGrpc(rw->Finish());
      if (s.ok()) s = absl::UnavailableError("transaction stream ended");
      return s;
    }
    if (response.code() != 0) {
      return absl::Status(static_cast<absl::StatusCode>(response.code()),
                          response.message());
    }
    return response;
  }
};

Txn::Txn(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}

Txn::~Txn() {
  if (stream_ == nullptr || stream_->broken) return;
  // Half-close; the server ends the stream and rolls back what is open.
  stream_->rw->WritesDone();
  (void)stream_->rw->Finish();
}

namespace {

// Runs one session request on `stream`; a stream that broke is dropped, and
// every later call is UNAVAILABLE.
template <class Stream>
absl::StatusOr<v1::SessionResponse> CallOn(std::unique_ptr<Stream>& stream,
                                           const v1::SessionRequest& request) {
  if (stream == nullptr) {
    return absl::UnavailableError("transaction stream closed");
  }
  auto r = stream->Call(request);
  if (stream->broken) stream.reset();
  return r;
}

}  // namespace

absl::StatusOr<KeyValue> Txn::Get(const std::string& key) {
  v1::SessionRequest request;
  request.mutable_get()->set_key(key);
  auto r = CallOn(stream_, request);
  if (!r.ok()) return r.status();
  return FromProto(std::move(*r->mutable_get()->mutable_kv()));
}

absl::Status Txn::Put(const std::string& key, const std::string& value) {
  v1::SessionRequest request;
  request.mutable_put()->set_key(key);
  request.mutable_put()->set_value(value);
  return CallOn(stream_, request).status();
}

absl::Status Txn::Delete(const std::string& key) {
  v1::SessionRequest request;
  request.mutable_delete_()->set_key(key);
  return CallOn(stream_, request).status();
}

absl::StatusOr<ScanResult> Txn::Scan(const std::string& start,
                                     const std::string& end, uint32_t limit) {
  v1::SessionRequest request;
  request.mutable_scan()->set_start(start);
  request.mutable_scan()->set_end(end);
  request.mutable_scan()->set_limit(limit);
  auto r = CallOn(stream_, request);
  if (!r.ok()) return r.status();
  ScanResult out;
  wire::AppendScan(*r->mutable_scan(), &out);
  return out;
}

absl::StatusOr<uint64_t> Txn::Commit() {
  v1::SessionRequest request;
  request.mutable_commit();
  auto r = CallOn(stream_, request);
  if (!r.ok()) return r.status();
  return r->commit().commit_ts();
}

absl::Status Txn::Rollback() {
  v1::SessionRequest request;
  request.mutable_rollback();
  return CallOn(stream_, request).status();
}

// ---- TxnHandle. ----

namespace {

// `request` with the handle's txn_id.
template <class Request>
Request ForHandle(uint64_t id, Request request = Request()) {
  request.set_txn_id(id);
  return request;
}

}  // namespace

absl::StatusOr<KeyValue> TxnHandle::Get(const std::string& key) {
  auto request = ForHandle<v1::TxnGetRequest>(id_);
  request.set_key(key);
  auto r = Rpc::Call(*client_, &v1::KV::Stub::TxnGet, request, false, endpoint_);
  if (!r.ok()) return r.status();
  return FromProto(std::move(*r->mutable_kv()));
}

absl::Status TxnHandle::Put(const std::string& key, const std::string& value) {
  auto request = ForHandle<v1::TxnPutRequest>(id_);
  request.set_key(key);
  request.set_value(value);
  return Rpc::Call(*client_, &v1::KV::Stub::TxnPut, request, false, endpoint_).status();
}

absl::Status TxnHandle::Delete(const std::string& key) {
  auto request = ForHandle<v1::TxnDeleteRequest>(id_);
  request.set_key(key);
  return Rpc::Call(*client_, &v1::KV::Stub::TxnDelete, request, false, endpoint_).status();
}

absl::StatusOr<ScanResult> TxnHandle::Scan(const std::string& start,
                                           const std::string& end,
                                           uint32_t limit) {
  auto request = ForHandle<v1::TxnScanRequest>(id_);
  request.set_start(start);
  request.set_end(end);
  request.set_limit(limit);
  auto r = Rpc::Call(*client_, &v1::KV::Stub::TxnScan, request, false, endpoint_);
  if (!r.ok()) return r.status();
  ScanResult out;
  wire::AppendScan(*r, &out);
  return out;
}

absl::Status TxnHandle::KeepAlive() {
  return Rpc::Call(*client_, &v1::KV::Stub::KeepAlive,
                   ForHandle<v1::KeepAliveRequest>(id_), false, endpoint_)
      .status();
}

absl::StatusOr<uint64_t> TxnHandle::Commit() {
  auto r = Rpc::Call(*client_, &v1::KV::Stub::CommitTxn,
                     ForHandle<v1::CommitTxnRequest>(id_), false, endpoint_);
  if (!r.ok()) return r.status();
  return r->commit_ts();
}

absl::Status TxnHandle::Rollback() {
  return Rpc::Call(*client_, &v1::KV::Stub::RollbackTxn,
                   ForHandle<v1::RollbackTxnRequest>(id_), false, endpoint_)
      .status();
}

// ---- Client. ----

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    const ClientOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // stats and big values may be large
  // Reconnect to a restarted server (a cluster node) within a second, not
  // gRPC's default of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // gRPC reads MIN_RECONNECT_BACKOFF as the time one connection attempt may
  // take (TCP connect + the server's SETTINGS; default 20 s). 100 ms failed
  // first calls on a loaded machine (tests/server/slow_handshake_test); 2 s
  // still lets a channel to a stopped server (its kernel accepts, nothing
  // answers) fall to TRANSIENT_FAILURE, which the router skips, soon.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
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
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("max_attempts must be >= 1");
  }
  auto router = Router::Create(options.server, credentials, args);
  if (!router.ok()) return router.status();
  auto stubs = std::make_unique<Stubs>();
  stubs->router = *std::move(router);
  return std::unique_ptr<Client>(new Client(options, std::move(stubs)));
}

Client::Client(const ClientOptions& options, std::unique_ptr<Stubs> stubs)
    : options_(options), stubs_(std::move(stubs)) {}

Client::~Client() = default;

std::shared_ptr<grpc::Channel> Client::channel() const {
  return stubs_->router->Current()->channel;
}

void Client::PrepareContext(grpc::ClientContext* context,
                            absl::Duration timeout) const {
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(timeout));
  }
  if (!options_.token.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", options_.token));
  }
}

absl::StatusOr<KeyValue> Client::Get(const std::string& key) {
  return Get(key, Consistency::kLinearizable);
}

absl::StatusOr<KeyValue> Client::Get(const std::string& key,
                                     Consistency consistency,
                                     uint64_t* read_ts) {
  v1::GetRequest request;
  request.set_key(key);
  if (consistency == Consistency::kStale) request.set_consistency(v1::STALE);
  auto r = Rpc::Call(*this, &v1::KV::Stub::Get, request, /*idempotent=*/true);
  if (!r.ok()) return r.status();
  if (read_ts != nullptr) *read_ts = r->snapshot_ts();
  return FromProto(std::move(*r->mutable_kv()));
}

absl::StatusOr<uint64_t> Client::Put(const std::string& key,
                                     const std::string& value) {
  v1::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  auto r = Rpc::Call(*this, &v1::KV::Stub::Put, request);
  if (!r.ok()) return r.status();
  return r->commit_ts();
}

absl::StatusOr<DeleteResult> Client::Delete(const std::string& key) {
  v1::DeleteRequest request;
  request.set_key(key);
  auto r = Rpc::Call(*this, &v1::KV::Stub::Delete, request);
  if (!r.ok()) return r.status();
  return DeleteResult{r->existed(), r->commit_ts()};
}

absl::StatusOr<ScanResult> Client::Scan(const std::string& start,
                                        const std::string& end,
                                        uint32_t limit,
                                        Consistency consistency) {
  v1::ScanRequest request;
  if (consistency == Consistency::kStale) request.set_consistency(v1::STALE);
  request.set_start(start);
  request.set_end(end);
  request.set_limit(limit);
  const absl::Time deadline = absl::Now() + options_.timeout;
  // Retried (client/router.h, as a read) until its first chunk arrives.
  for (int attempt = 1;; ++attempt) {
    Endpoint* endpoint = stubs_->router->Current();
    grpc::ClientContext context;
    PrepareContext(&context, deadline - absl::Now());
    const bool sent = Router::Reachable(endpoint, deadline);
    absl::Status s = absl::UnavailableError(
        absl::StrCat("cannot connect to ", endpoint->address));
    ScanResult out;
    bool got_chunk = false;
    if (sent) {
      auto reader = endpoint->kv->Scan(&context, request);
      v1::ScanResponse chunk;
      while (reader->Read(&chunk)) {
        wire::AppendScan(chunk, &out);
        got_chunk = true;
      }
      s = FromGrpc(reader->Finish());
      if (s.ok()) return out;
    }
    if (got_chunk ||
        !stubs_->router->After(endpoint, s,
                               sent ? LeaderOf(context) : std::nullopt, sent,
                               /*idempotent=*/true, attempt,
                               options_.max_attempts, deadline)) {
      return s;
    }
  }
}

absl::StatusOr<CompareAndCommitResult> Client::CompareAndCommit(
    const std::vector<Compare>& compares, const std::vector<Op>& success,
    const std::vector<Op>& failure) {
  auto r = Rpc::Call(*this, &v1::KV::Stub::CompareAndCommit,
                     wire::ToProto(compares, success, failure));
  if (!r.ok()) return r.status();
  return wire::FromProto(*r, r->succeeded() ? success : failure);
}

absl::StatusOr<Stats> Client::GetStats() {
  auto r = Rpc::Call(*this, &v1::KV::Stub::Stats, v1::StatsRequest(),
                     /*idempotent=*/true);
  if (!r.ok()) return r.status();
  return wire::FromProto(*r);
}

absl::Status Client::Health() {
  auto stub =
      grpc::health::v1::Health::NewStub(stubs_->router->Current()->channel);
  grpc::ClientContext context;
  PrepareContext(&context, options_.timeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(v1::KV::service_full_name());
  grpc::health::v1::HealthCheckResponse response;
  absl::Status s = FromGrpc(stub->Check(&context, request, &response));
  if (!s.ok()) return s;
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(
        "server is ", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                          response.status())));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Txn>> Client::Begin(Isolation isolation) {
  v1::SessionRequest request;
  request.mutable_begin()->set_isolation(wire::ToProto(isolation));
  const absl::Time deadline = absl::Now() + options_.timeout;
  // The Begin is routed like a unary call (client/router.h): a node that
  // does not lead ends the stream with mvkv-leader.
  for (int attempt = 1;; ++attempt) {
    Endpoint* endpoint = stubs_->router->Current();
    const bool sent = Router::Reachable(endpoint, deadline);
    absl::Status s = absl::UnavailableError(
        absl::StrCat("cannot connect to ", endpoint->address));
    std::optional<std::string> leader;
    if (sent) {
      auto stream = std::make_unique<Txn::Stream>();
      PrepareContext(&stream->context, options_.txn_timeout);
      stream->rw = endpoint->kv->Session(&stream->context);
      auto r = stream->Call(request);
      if (r.ok()) {
        std::unique_ptr<Txn> txn(new Txn(std::move(stream)));
        txn->id_ = r->begin().txn_id();
        txn->snapshot_ts_ = r->begin().snapshot_ts();
        return txn;
      }
      s = r.status();
      // A broken stream was finished: its trailers say why. Otherwise the
      // Begin itself failed in-band (~Txn half-closes the stream).
      if (stream->broken) {
        leader = LeaderOf(stream->context);
      } else {
        Txn dropped(std::move(stream));
        return s;
      }
    }
    if (!stubs_->router->After(endpoint, s, leader, sent,
                               /*idempotent=*/false, attempt,
                               options_.max_attempts, deadline)) {
      return s;
    }
  }
}

absl::StatusOr<std::unique_ptr<TxnHandle>> Client::BeginHandle(
    Isolation isolation) {
  v1::BeginTxnRequest request;
  request.set_isolation(wire::ToProto(isolation));
  // A Begin refused is safe to send again; one that may have opened a
  // handle leaves it to its lease.
  Endpoint* endpoint = nullptr;
  auto r = Rpc::Call(*this, &v1::KV::Stub::BeginTxn, request,
                     /*idempotent=*/false, /*pinned=*/nullptr, &endpoint);
  if (!r.ok()) return r.status();
  return std::unique_ptr<TxnHandle>(
      new TxnHandle(this, endpoint, r->txn_id(), r->snapshot_ts(),
                    absl::Milliseconds(r->lease_ms())));
}

absl::Status Client::Transact(const std::function<absl::Status(Txn&)>& fn,
                              const TransactOptions& options) {
  if (absl::Status s = common::Validate(options.retry); !s.ok()) return s;
  return common::Retry(options.retry, [&] {
    auto txn = Begin(options.isolation);
    if (!txn.ok()) return txn.status();
    absl::Status s = fn(**txn);
    if (s.ok()) s = (*txn)->Commit().status();
    return s;  // ~Txn rolls back whatever is still open
  });
}

}  // namespace mvkv::client
