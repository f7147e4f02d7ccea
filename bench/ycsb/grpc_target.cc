// mvkv_server over gRPC through the client library: one Client (channel)
// per worker session; read-modify-write is an interactive transaction
// (Client::Transact, retried on ABORTED); the stalled snapshot is an
// interactive transaction held open, its lease renewed by a read per second.
// The server-reclaim stall goes through mvkv.v1.Admin (proto/admin.proto).
// Stats, which the sampler calls every 100 ms, has a short deadline so a
// frozen server leaves a gap in the timeline instead of stopping it.
#include <chrono>

#include "bench/ycsb/targets_internal.h"
#include "client/client.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"

namespace mvkv::ycsb::targets_internal {
namespace {

using client::Client;
using client::ClientOptions;

absl::StatusOr<std::unique_ptr<Client>> Connect(
    const std::string& address, absl::Duration timeout = absl::Seconds(10)) {
  ClientOptions o;
  o.server = address;
  o.timeout = timeout;
  return Client::Connect(o);
}

// mvkv.v1.Admin calls with a deadline (no bearer token: the harness sends
// none on its KV calls either).
class Admin {
 public:
  explicit Admin(const std::string& address)
      : stub_(v1::Admin::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}
  absl::StatusOr<v1::FaultInjectionStatusResponse> Status() {
    v1::FaultInjectionStatusResponse r;
    grpc::ClientContext c;
    Deadline(c);
    return Result(stub_->FaultInjectionStatus(&c, {}, &r), r);
  }
  absl::Status Stall(int threads) {
    v1::StallReclaimRequest req;
    req.set_threads(threads);
    v1::StallReclaimResponse r;
    grpc::ClientContext c;
    Deadline(c);
    return Result(stub_->StallReclaim(&c, req, &r), r).status();
  }
  absl::Status Release() {
    v1::ReleaseReclaimStallResponse r;
    grpc::ClientContext c;
    Deadline(c);
    return Result(stub_->ReleaseReclaimStall(&c, {}, &r), r).status();
  }

 private:
  static void Deadline(grpc::ClientContext& c) {
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }
  template <class R>
  static absl::StatusOr<R> Result(const grpc::Status& s, const R& r) {
    if (!s.ok()) return FromGrpc(s);
    return r;
  }
  std::unique_ptr<v1::Admin::Stub> stub_;
};

class GrpcParked final : public ParkedServerThreads {
 public:
  explicit GrpcParked(std::shared_ptr<Admin> admin) : admin_(std::move(admin)) {}
  ~GrpcParked() override { Release().IgnoreError(); }
  absl::Status Release() override {
    if (admin_ == nullptr) return absl::OkStatus();
    absl::Status s = admin_->Release();
    admin_.reset();
    return s;
  }

 private:
  std::shared_ptr<Admin> admin_;
};

class GrpcSession final : public Session {
 public:
  explicit GrpcSession(std::unique_ptr<Client> c) : c_(std::move(c)) {}
  absl::Status Read(const std::string& key) override {
    return c_->Get(key).status();
  }
  absl::Status Write(const std::string& key, const std::string& value) override {
    return c_->Put(key, value).status();
  }
  absl::Status Scan(const std::string& start, int count) override {
    return c_->Scan(start, "", count).status();
  }
  absl::Status ReadModifyWrite(
      const std::string& key,
      const std::function<std::string(const std::string&)>& modify) override {
    return c_->Transact([&](client::Txn& txn) -> absl::Status {
      absl::StatusOr<client::KeyValue> old = txn.Get(key);
      if (!old.ok()) return old.status();
      return txn.Put(key, modify(old->value));
    });
  }

 private:
  std::unique_ptr<Client> c_;
};

class GrpcStall final : public StalledSnapshot {
 public:
  GrpcStall(std::unique_ptr<Client> c, std::unique_ptr<client::Txn> t,
            std::string key)
      : c_(std::move(c)), txn_(std::move(t)), key_(std::move(key)) {}
  ~GrpcStall() override {
    txn_->Rollback().IgnoreError();
    txn_.reset();
  }
  void KeepAlive() override { txn_->Get(key_).status().IgnoreError(); }

 private:
  std::unique_ptr<Client> c_;
  std::unique_ptr<client::Txn> txn_;
  std::string key_;
};

class GrpcTarget final : public Target {
 public:
  GrpcTarget(std::string address, std::unique_ptr<Client> stats, pid_t pid)
      : address_(std::move(address)),
        stats_(std::move(stats)),
        pid_(pid),
        admin_(std::make_shared<Admin>(address_)) {
    // A server built with --config=engine_ebr reports itself apart, like
    // the embedded target (a server without mvkv.v1.Admin is just "grpc").
    absl::StatusOr<v1::FaultInjectionStatusResponse> st = admin_->Status();
    if (st.ok() && st->reclaim_scheme() != "crystalline") {
      name_ += "-" + st->reclaim_scheme();
    }
  }
  std::string name() const override { return name_; }
  absl::StatusOr<std::unique_ptr<Session>> NewSession() override {
    absl::StatusOr<std::unique_ptr<Client>> c = Connect(address_);
    if (!c.ok()) return c.status();
    return std::make_unique<GrpcSession>(std::move(*c));
  }
  absl::StatusOr<std::unique_ptr<StalledSnapshot>> OpenStalledSnapshot(
      const std::string& key) override {
    absl::StatusOr<std::unique_ptr<Client>> c = Connect(address_);
    if (!c.ok()) return c.status();
    absl::StatusOr<std::unique_ptr<client::Txn>> t = (*c)->Begin();
    if (!t.ok()) return t.status();
    absl::StatusOr<client::KeyValue> v = (*t)->Get(key);
    if (!v.ok() && !absl::IsNotFound(v.status())) return v.status();
    return std::make_unique<GrpcStall>(std::move(*c), std::move(*t), key);
  }
  bool in_process() const override { return false; }
  pid_t server_pid() const override { return pid_; }
  std::optional<EngineAccounts> Accounts() override {
    absl::StatusOr<client::Stats> s = stats_->GetStats();
    if (!s.ok()) return std::nullopt;
    EngineAccounts a;
    a.reclaim_unreclaimed_objects = s->Number("reclaim_unreclaimed_objects");
    a.reclaim_unreclaimed_bytes = s->Number("reclaim_unreclaimed_bytes");
    a.retained_versions = s->Number("retained_versions");
    a.retained_bytes = s->Number("retained_bytes");
    a.versions = s->Number("versions");
    a.aborts = s->Number("aborts_write_conflict") +
               s->Number("aborts_read_conflict") +
               s->Number("aborts_snapshot_too_old");
    return a;
  }
  absl::Status CanParkServerThreads() override {
    absl::StatusOr<v1::FaultInjectionStatusResponse> st = admin_->Status();
    if (!st.ok()) {
      return absl::FailedPreconditionError(
          "server-reclaim: mvkv.v1.Admin at " + address_ + ": " + st.status().ToString());
    }
    if (!st->allowed()) {
      return absl::FailedPreconditionError(
          "server-reclaim: mvkv_server at " + address_ +
          " does not allow fault injection: start it with --allow_fault_injection "
          "(with --start_server: --server_args=--allow_fault_injection)");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<ParkedServerThreads>> ParkServerThreads(
      int count) override {
    if (absl::Status s = admin_->Stall(count); !s.ok()) return s;
    return std::make_unique<GrpcParked>(admin_);
  }

 private:
  std::string address_;
  std::unique_ptr<Client> stats_;
  pid_t pid_;
  std::shared_ptr<Admin> admin_;
  std::string name_ = "grpc";
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> OpenGrpc(const std::string& address,
                                                 pid_t server_pid) {
  absl::StatusOr<std::unique_ptr<Client>> c = Connect(address);
  if (!c.ok()) return c.status();
  absl::Status h = (*c)->Health();
  if (!h.ok()) {
    return absl::UnavailableError(
        std::string("mvkv_server at ") + address + ": " + std::string(h.message()));
  }
  // The sampler's client: Stats must not hold the timeline up for long.
  absl::StatusOr<std::unique_ptr<Client>> stats = Connect(address, absl::Milliseconds(250));
  if (!stats.ok()) return stats.status();
  return std::make_unique<GrpcTarget>(address, std::move(*stats), server_pid);
}

}  // namespace mvkv::ycsb::targets_internal
