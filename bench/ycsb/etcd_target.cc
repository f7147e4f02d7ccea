// etcd v3 over gRPC (etcdserverpb.KV). Reads are linearizable Range calls,
// writes Put, scans Range [start, "\0") with a limit, read-modify-write a
// Range then a Txn guarded by the key's mod_revision (retried when it lost).
// etcd has no snapshot to hold: the "stalled transaction" is a reader pinned
// to revision R (a Range at R every second). etcd keeps every revision until
// it is compacted, so its retention grows with or without the reader; the
// reader only means "no compaction may pass R". Memory is etcd's RSS.
#include <atomic>
#include <chrono>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "bench/ycsb/etcd_kv.grpc.pb.h"
#include "bench/ycsb/targets_internal.h"

namespace mvkv::ycsb::targets_internal {
namespace {

using etcdserverpb::KV;

// "a,b,c" (several members of one cluster): calls spread round-robin over
// them, as etcd's own client does; a follower forwards writes to the leader.
std::unique_ptr<KV::Stub> NewStub(const std::string& address) {
  if (address.find(',') == std::string::npos) {
    return KV::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  return KV::NewStub(grpc::CreateCustomChannel(
      "ipv4:" + address, grpc::InsecureChannelCredentials(), args));
}

absl::StatusOr<etcdserverpb::RangeResponse> Range(KV::Stub& stub,
                                                  const etcdserverpb::RangeRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  etcdserverpb::RangeResponse resp;
  absl::Status s = FromGrpc(stub.Range(&ctx, req, &resp));
  if (!s.ok()) return s;
  return resp;
}

class EtcdSession final : public Session {
 public:
  EtcdSession(std::unique_ptr<KV::Stub> stub, std::atomic<uint64_t>* aborts)
      : stub_(std::move(stub)), aborts_(aborts) {}
  absl::Status Read(const std::string& key) override {
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    absl::StatusOr<etcdserverpb::RangeResponse> r = Range(*stub_, req);
    if (!r.ok()) return r.status();
    return r->kvs_size() == 1 ? absl::OkStatus() : absl::NotFoundError(key);
  }
  absl::Status Write(const std::string& key, const std::string& value) override {
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    etcdserverpb::PutResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return FromGrpc(stub_->Put(&ctx, req, &resp));
  }
  absl::Status Scan(const std::string& start, int count) override {
    etcdserverpb::RangeRequest req;
    req.set_key(start);
    req.set_range_end(std::string(1, '\0'));
    req.set_limit(count);
    return Range(*stub_, req).status();
  }
  absl::Status ReadModifyWrite(
      const std::string& key,
      const std::function<std::string(const std::string&)>& modify) override {
    for (int attempt = 0; attempt < 16; ++attempt) {
      etcdserverpb::RangeRequest get;
      get.set_key(key);
      absl::StatusOr<etcdserverpb::RangeResponse> r = Range(*stub_, get);
      if (!r.ok()) return r.status();
      if (r->kvs_size() != 1) return absl::NotFoundError(key);
      etcdserverpb::TxnRequest txn;
      etcdserverpb::Compare* c = txn.add_compare();
      c->set_result(etcdserverpb::Compare::EQUAL);
      c->set_target(etcdserverpb::Compare::MOD);
      c->set_key(key);
      c->set_mod_revision(r->kvs(0).mod_revision());
      etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
      put->set_key(key);
      put->set_value(modify(r->kvs(0).value()));
      etcdserverpb::TxnResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      absl::Status s = FromGrpc(stub_->Txn(&ctx, txn, &resp));
      if (!s.ok()) return s;
      if (resp.succeeded()) return absl::OkStatus();
      aborts_->fetch_add(1, std::memory_order_relaxed);  // a counter only
    }
    return absl::AbortedError("read-modify-write lost 16 times");
  }

 private:
  std::unique_ptr<KV::Stub> stub_;
  std::atomic<uint64_t>* aborts_;
};

class EtcdStall final : public StalledSnapshot {
 public:
  EtcdStall(std::unique_ptr<KV::Stub> stub, std::string key, int64_t revision)
      : stub_(std::move(stub)), key_(std::move(key)), revision_(revision) {}
  void KeepAlive() override {
    etcdserverpb::RangeRequest req;
    req.set_key(key_);
    req.set_revision(revision_);
    Range(*stub_, req).status().IgnoreError();
  }

 private:
  std::unique_ptr<KV::Stub> stub_;
  std::string key_;
  int64_t revision_;
};

class EtcdTarget final : public Target {
 public:
  EtcdTarget(std::string address, pid_t pid) : address_(std::move(address)), pid_(pid) {}
  std::string name() const override { return "etcd"; }
  absl::StatusOr<std::unique_ptr<Session>> NewSession() override {
    return std::make_unique<EtcdSession>(NewStub(address_), &aborts_);
  }
  absl::StatusOr<std::unique_ptr<StalledSnapshot>> OpenStalledSnapshot(
      const std::string& key) override {
    std::unique_ptr<KV::Stub> stub = NewStub(address_);
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    absl::StatusOr<etcdserverpb::RangeResponse> r = Range(*stub, req);
    if (!r.ok()) return r.status();
    return std::make_unique<EtcdStall>(std::move(stub), key, r->header().revision());
  }
  bool in_process() const override { return false; }
  pid_t server_pid() const override { return pid_; }
  std::optional<EngineAccounts> Accounts() override {
    EngineAccounts a;
    a.aborts = aborts_.load(std::memory_order_relaxed);
    return a;
  }

 private:
  std::string address_;
  pid_t pid_;
  std::atomic<uint64_t> aborts_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> OpenEtcd(const std::string& address,
                                                 pid_t server_pid) {
  std::unique_ptr<KV::Stub> stub = NewStub(address);
  etcdserverpb::RangeRequest req;
  req.set_key("ycsb-probe");
  absl::StatusOr<etcdserverpb::RangeResponse> r = Range(*stub, req);
  // A cluster just started answers UNAVAILABLE ("no leader") until it has
  // elected one. Bound: 60 attempts, 0.5 s apart (plus each call's 10 s).
  for (int i = 0; i < 60 && absl::IsUnavailable(r.status()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    r = Range(*stub, req);
  }
  if (!r.ok()) {
    return absl::UnavailableError("etcd at " + address + ": " +
                                  std::string(r.status().message()));
  }
  return std::make_unique<EtcdTarget>(address, server_pid);
}

}  // namespace mvkv::ycsb::targets_internal
