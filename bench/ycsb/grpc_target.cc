// mvkv_server over gRPC through the client library: one Client (channel)
// per worker session; read-modify-write is an interactive transaction
// (Client::Transact, retried on ABORTED); the stalled snapshot is an
// interactive transaction held open, its lease renewed by a read per second.
#include "bench/ycsb/targets_internal.h"
#include "client/client.h"

namespace mvkv::ycsb::targets_internal {
namespace {

using client::Client;
using client::ClientOptions;

absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& address) {
  ClientOptions o;
  o.server = address;
  return Client::Connect(o);
}

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
      : address_(std::move(address)), stats_(std::move(stats)), pid_(pid) {}
  std::string name() const override { return "grpc"; }
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

 private:
  std::string address_;
  std::unique_ptr<Client> stats_;
  pid_t pid_;
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
  return std::make_unique<GrpcTarget>(address, std::move(*c), server_pid);
}

}  // namespace mvkv::ycsb::targets_internal
