// bench/ycsb/watch_rpc_bench — watch latency and delivery over gRPC:
// mvkv_server's rpc Watch against etcd's Watch, both started here on
// loopback, in the same run.
//
// For each target and each watcher count N: N watch streams (one thread
// each, one channel) on the prefix "w/", then writers run a YCSB-A-like
// mix for --seconds: --read_fraction Gets, the rest Puts (under "w/",
// 100-byte values carrying the send time), paced to --rate ops/s in all,
// or closed-loop with --rate=0 (peak); --half_peak follows each peak run
// with one paced at half the ops/s it reached. Targets: etcd, mvkv
// (batched watch responses, max_commits_per_response 1024) and mvkv1 (one
// commit per response, as before batches: the in-run baseline), each its
// own server. Each event's latency is receive time - the Put's send time:
// put-issue-to-event, an upper bound of commit-to-event that includes the
// Put's own round trip (the same for both targets). Reports events/s
// delivered, p50/p99/p99.9 and how many of the expected events arrived.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/ycsb/etcd_kv.grpc.pb.h"
#include "bench/ycsb/histogram.h"
#include "bench/ycsb/process.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"

ABSL_FLAG(std::string, targets, "mvkv,etcd",
          "mvkv, mvkv1 (one commit per response) and/or etcd, in order.");
ABSL_FLAG(std::string, watchers, "1,10,100", "Watcher counts, in order.");
ABSL_FLAG(int, rate, 2000,
          "Ops (Gets + Puts) per second, all writers together; 0 = closed "
          "loop (peak).");
ABSL_FLAG(double, read_fraction, 0.5, "Share of the ops that are Gets.");
ABSL_FLAG(bool, half_peak, false,
          "With --rate=0: after each peak run, one paced at half its ops/s.");
ABSL_FLAG(int, writers, 2, "Writer threads.");
ABSL_FLAG(double, seconds, 3, "Seconds of writing per run.");
ABSL_FLAG(int, repeats, 1, "Rounds; targets interleave within a round.");
ABSL_FLAG(std::string, server_binary, "server/mvkv_server", "mvkv_server.");
ABSL_FLAG(std::string, etcd_binary, "/usr/bin/etcd", "etcd.");

namespace mvkv::ycsb {
namespace {

int64_t NowNs() { return absl::GetCurrentTimeNanos(); }

// The send time, in the first 8 bytes of a 100-byte value.
std::string StampedValue() {
  std::string v(100, 'v');
  const int64_t now = NowNs();
  std::memcpy(v.data(), &now, sizeof(now));
  return v;
}
int64_t Stamp(const std::string& value) {
  int64_t t = 0;
  if (value.size() >= sizeof(t)) std::memcpy(&t, value.data(), sizeof(t));
  return t;
}

struct Watcher {
  Histogram latency;
  std::atomic<uint64_t> events{0};  // relaxed: a progress count
  uint64_t responses = 0;  // with events; read after the thread joined
  std::unique_ptr<grpc::ClientContext> context =
      std::make_unique<grpc::ClientContext>();
  std::thread thread;
};

// One target: open a watch stream, read it, and put.
class Target {
 public:
  virtual ~Target() = default;
  // Opens a watch on "w/" and reads it until cancelled, recording into w.
  // `ready` is set once the watch is created.
  virtual void Watch(Watcher* w, std::atomic<int>* ready) = 0;
  virtual bool Put(const std::string& key, const std::string& value) = 0;
  // False on an RPC error; NOT_FOUND is an answer.
  virtual bool Get(const std::string& key) = 0;
};

class MvkvTarget final : public Target {
 public:
  MvkvTarget(std::shared_ptr<grpc::Channel> channel, uint32_t max_commits)
      : stub_(v1::KV::NewStub(channel)), max_commits_(max_commits) {}
  void Watch(Watcher* w, std::atomic<int>* ready) override {
    auto stream = stub_->Watch(w->context.get());
    v1::WatchRequest create;
    create.mutable_create()->set_prefix("w/");
    create.mutable_create()->set_max_commits_per_response(max_commits_);
    stream->Write(create);
    v1::WatchResponse r;
    auto record = [w](const v1::WatchCommit& commit, int64_t now) {
      for (const auto& c : commit.changes()) {
        w->latency.Record(static_cast<uint64_t>(now - Stamp(c.value())));
        w->events.fetch_add(1, std::memory_order_relaxed);
      }
    };
    while (stream->Read(&r)) {
      if (r.has_created()) ready->fetch_add(1);
      const int64_t now = NowNs();
      if (r.has_commit() || r.has_commits()) ++w->responses;
      if (r.has_commit()) record(r.commit(), now);
      for (const auto& commit : r.commits().commits()) record(commit, now);
    }
  }
  bool Get(const std::string& key) override {
    grpc::ClientContext context;
    v1::GetRequest req;
    req.set_key(key);
    v1::GetResponse resp;
    const grpc::Status status = stub_->Get(&context, req, &resp);
    return status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND;
  }
  bool Put(const std::string& key, const std::string& value) override {
    grpc::ClientContext context;
    v1::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    v1::PutResponse resp;
    return stub_->Put(&context, req, &resp).ok();
  }

 private:
  std::unique_ptr<v1::KV::Stub> stub_;
  const uint32_t max_commits_;
};

class EtcdTarget final : public Target {
 public:
  explicit EtcdTarget(std::shared_ptr<grpc::Channel> channel)
      : kv_(etcdserverpb::KV::NewStub(channel)),
        watch_(etcdserverpb::Watch::NewStub(channel)) {}
  void Watch(Watcher* w, std::atomic<int>* ready) override {
    auto stream = watch_->Watch(w->context.get());
    etcdserverpb::WatchRequest create;
    create.mutable_create_request()->set_key("w/");
    create.mutable_create_request()->set_range_end("w0");  // prefix "w/"
    stream->Write(create);
    etcdserverpb::WatchResponse r;
    while (stream->Read(&r)) {
      if (r.created()) ready->fetch_add(1);
      const int64_t now = NowNs();
      if (r.events_size() > 0) ++w->responses;
      for (const auto& e : r.events()) {
        w->latency.Record(static_cast<uint64_t>(now - Stamp(e.kv().value())));
        w->events.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  bool Put(const std::string& key, const std::string& value) override {
    grpc::ClientContext context;
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    etcdserverpb::PutResponse resp;
    return kv_->Put(&context, req, &resp).ok();
  }
  bool Get(const std::string& key) override {
    grpc::ClientContext context;
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    etcdserverpb::RangeResponse resp;
    return kv_->Range(&context, req, &resp).ok();
  }

 private:
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch_;
};

// One run at `rate` ops/s (0 = closed loop); returns the ops/s held.
double RunOne(const std::string& name, Target& target, int watchers,
              int rate) {
  std::vector<std::unique_ptr<Watcher>> ws;
  std::atomic<int> ready{0};
  for (int i = 0; i < watchers; ++i) {
    ws.push_back(std::make_unique<Watcher>());
    Watcher* w = ws.back().get();
    w->thread = std::thread([&target, w, &ready] { target.Watch(w, &ready); });
  }
  const absl::Time wait_until = absl::Now() + absl::Seconds(30);
  while (ready.load() < watchers && absl::Now() < wait_until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const int writers = absl::GetFlag(FLAGS_writers);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const absl::Duration period =
      rate == 0 ? absl::ZeroDuration() : absl::Seconds(1.0 * writers / rate);
  const double read_fraction = absl::GetFlag(FLAGS_read_fraction);
  std::atomic<uint64_t> puts{0};
  std::atomic<uint64_t> gets{0};
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  std::vector<std::thread> ts;
  for (int t = 0; t < writers; ++t) {
    ts.emplace_back([&, t] {
      absl::Time next = start;
      std::mt19937_64 rng(t);
      std::uniform_real_distribution<double> coin(0, 1);
      for (uint64_t i = 0; absl::Now() < end; ++i) {
        next += period;
        const absl::Duration ahead = next - absl::Now();
        if (ahead > absl::ZeroDuration()) absl::SleepFor(ahead);
        const std::string key = absl::StrCat("w/", t, "/", rng() % 1000);
        if (coin(rng) < read_fraction) {
          target.Get(key);  // a key not yet written is served as well
          gets.fetch_add(1);
        } else if (target.Put(key, StampedValue())) {
          puts.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  const absl::Duration wrote = absl::Now() - start;
  // Let the watchers catch up (bounded), then cancel them.
  const uint64_t expected = puts.load() * watchers;
  const absl::Time drain_until = absl::Now() + absl::Seconds(10);
  auto delivered = [&] {
    uint64_t n = 0;
    for (auto& w : ws) n += w->events.load(std::memory_order_relaxed);
    return n;
  };
  while (delivered() < expected && absl::Now() < drain_until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const absl::Duration total = absl::Now() - start;
  for (auto& w : ws) w->context->TryCancel();
  Histogram all;
  uint64_t events = 0, responses = 0;
  for (auto& w : ws) {
    w->thread.join();
    responses += w->responses;
    all.Merge(w->latency);
    events += w->events.load(std::memory_order_relaxed);
  }
  const double ops_per_s =
      (puts.load() + gets.load()) / absl::ToDoubleSeconds(wrote);
  std::printf(
      "%-5s watchers=%-4d rate=%-6d ops/s=%-7.0f puts/s=%-7.0f "
      "events/s=%-9.0f delivered=%llu/%llu events/response=%.1f "
      "p50=%.3fms p99=%.3fms p99.9=%.3fms\n",
      name.c_str(), watchers, rate, ops_per_s,
      puts.load() / absl::ToDoubleSeconds(wrote),
      events / absl::ToDoubleSeconds(total),
      static_cast<unsigned long long>(events),
      static_cast<unsigned long long>(expected),
      responses == 0 ? 0.0 : 1.0 * events / responses, all.Percentile(50) / 1e6,
      all.Percentile(99) / 1e6, all.Percentile(99.9) / 1e6);
  std::fflush(stdout);
  return ops_per_s;
}

int Main() {
  std::vector<int> counts;
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_watchers), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 1) {
      std::fprintf(stderr, "bad --watchers entry \"%s\"\n", std::string(s).c_str());
      return 2;
    }
    counts.push_back(n);
  }
  std::vector<std::string> names =
      absl::StrSplit(absl::GetFlag(FLAGS_targets), ',');
  std::vector<std::unique_ptr<ChildProcess>> processes;
  std::vector<std::unique_ptr<Target>> targets;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  for (const std::string& name : names) {
    if (name != "etcd" && name != "mvkv" && name != "mvkv1") {
      std::fprintf(stderr, "bad --targets entry \"%s\"\n", name.c_str());
      return 2;
    }
    absl::StatusOr<std::unique_ptr<ChildProcess>> p =
        name == "etcd"
            ? ChildProcess::StartEtcd(absl::GetFlag(FLAGS_etcd_binary))
            : ChildProcess::StartMvkvServer(absl::GetFlag(FLAGS_server_binary),
                                            {});
    if (!p.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(),
                   p.status().ToString().c_str());
      return 1;
    }
    auto channel = grpc::CreateCustomChannel(
        (*p)->address(), grpc::InsecureChannelCredentials(), args);
    if (name == "etcd") {
      targets.push_back(std::make_unique<EtcdTarget>(channel));
    } else {
      targets.push_back(
          std::make_unique<MvkvTarget>(channel, name == "mvkv1" ? 1 : 1024));
    }
    processes.push_back(*std::move(p));
  }
  for (int round = 0; round < absl::GetFlag(FLAGS_repeats); ++round) {
    for (int n : counts) {
      for (std::size_t i = 0; i < targets.size(); ++i) {
        const int rate = absl::GetFlag(FLAGS_rate);
        const double held = RunOne(names[i], *targets[i], n, rate);
        if (rate == 0 && absl::GetFlag(FLAGS_half_peak)) {
          RunOne(names[i], *targets[i], n,
                 std::max(1, static_cast<int>(held / 2)));
        }
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace mvkv::ycsb

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return mvkv::ycsb::Main();
}
