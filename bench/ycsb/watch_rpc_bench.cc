// bench/ycsb/watch_rpc_bench — watch latency and delivery over gRPC:
// mvkv_server's rpc Watch against etcd's Watch, both started here on
// loopback, in the same run.
//
// For each target and each watcher count N: N watch streams (one thread
// each, one channel) on the prefix "w/", then paced writers put
// --rate keys/s (under "w/", 100-byte values carrying the send time) for
// --seconds. Each event's latency is receive time - the Put's send time:
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

ABSL_FLAG(std::string, targets, "mvkv,etcd", "mvkv and/or etcd, in order.");
ABSL_FLAG(std::string, watchers, "1,10,100", "Watcher counts, in order.");
ABSL_FLAG(int, rate, 2000, "Puts per second, all writers together.");
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
};

class MvkvTarget final : public Target {
 public:
  explicit MvkvTarget(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::KV::NewStub(channel)) {}
  void Watch(Watcher* w, std::atomic<int>* ready) override {
    auto stream = stub_->Watch(w->context.get());
    v1::WatchRequest create;
    create.mutable_create()->set_prefix("w/");
    stream->Write(create);
    v1::WatchResponse r;
    while (stream->Read(&r)) {
      if (r.has_created()) ready->fetch_add(1);
      if (!r.has_commit()) continue;
      const int64_t now = NowNs();
      for (const auto& c : r.commit().changes()) {
        w->latency.Record(static_cast<uint64_t>(now - Stamp(c.value())));
        w->events.fetch_add(1, std::memory_order_relaxed);
      }
    }
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

 private:
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch_;
};

void RunOne(const std::string& name, Target& target, int watchers) {
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
      absl::Seconds(1.0 * writers / absl::GetFlag(FLAGS_rate));
  std::atomic<uint64_t> puts{0};
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  std::vector<std::thread> ts;
  for (int t = 0; t < writers; ++t) {
    ts.emplace_back([&, t] {
      absl::Time next = start;
      for (uint64_t i = 0; absl::Now() < end; ++i) {
        next += period;
        const absl::Duration ahead = next - absl::Now();
        if (ahead > absl::ZeroDuration()) absl::SleepFor(ahead);
        if (target.Put(absl::StrCat("w/", t, "/", i % 1000), StampedValue())) {
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
  uint64_t events = 0;
  for (auto& w : ws) {
    w->thread.join();
    all.Merge(w->latency);
    events += w->events.load(std::memory_order_relaxed);
  }
  std::printf(
      "%-5s watchers=%-4d puts/s=%-7.0f events/s=%-9.0f delivered=%llu/%llu "
      "p50=%.3fms p99=%.3fms p99.9=%.3fms\n",
      name.c_str(), watchers, puts.load() / absl::ToDoubleSeconds(wrote),
      events / absl::ToDoubleSeconds(total),
      static_cast<unsigned long long>(events),
      static_cast<unsigned long long>(expected), all.Percentile(50) / 1e6,
      all.Percentile(99) / 1e6, all.Percentile(99.9) / 1e6);
  std::fflush(stdout);
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
      targets.push_back(std::make_unique<MvkvTarget>(channel));
    }
    processes.push_back(*std::move(p));
  }
  for (int round = 0; round < absl::GetFlag(FLAGS_repeats); ++round) {
    for (int n : counts) {
      for (std::size_t i = 0; i < targets.size(); ++i) {
        RunOne(names[i], *targets[i], n);
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
