// bench/ycsb/watch_rpc_bench — watch latency and delivery over gRPC:
// mvkv_server's rpc Watch against etcd's Watch, both started here on
// loopback, in the same run.
//
// For each target and each watcher count N: N watches on the prefix "w/",
// on ceil(N / --watches_per_stream) watch streams (one thread each, one
// channel; the default 1 is a stream per watch, while etcd's clientv3
// puts every watch of one context on one stream), then writers run a
// YCSB-A-like mix for --seconds: --read_fraction Gets, the rest Puts
// (under "w/", 100-byte values carrying the send time), paced to --rate ops/s
// in all, or closed-loop with --rate=0 (peak); --half_peak follows each peak
// run with one paced at half the ops/s it reached (--half_peak_of=T: every
// target at half of T's peak, so all run at one rate). Targets: etcd, mvkv
// (batched watch responses, max_commits_per_response 1024, and
// share_responses: a stream's watches share `batch` responses), mvkvu (the
// same without share_responses, each watch's responses its own messages),
// mvkv1 (one commit per response, as before batches) and null (bench's
// null_server with mvkv's requests: each write sent to the watches from the
// writing call's thread, no engine; gRPC's own cost of an event), each its
// own server; mvkvu, mvkv1 and null are in-run baselines. Each event's latency
// is receive time - the Put's send time: put-issue-to-event, an upper bound of
// commit-to-event that includes the Put's own round trip (the same for both
// targets). Reports events/s delivered, p50/p99/p99.9 and how many of the
// expected events arrived, and the writers' own op latency (issue to answer,
// op_p50/op_p99); and answer_p50/answer_p99, event time - the Put's answer
// time, 0 when the event came first: a lower bound of commit-to-event (the
// commit happened before the answer), so the two bracket it. For the mvkv and
// null targets a second line gives commit_to_event_p50/p99/p99.9: event time -
// the server's own stamp of the commit (WatchCommit.commit_time_unix_ns; server
// and bench share this machine's clock), the latency itself.
//
// Writers: --writer_depth=0 (default) makes each writer call the unary Get
// and Put synchronously, one at a time; D > 0 keeps D of them in flight
// per writer (the callback API's async unary calls, the same for both
// systems), so the write rate the watches see is each system's, not one
// round trip's; with --mvkv_pipeline mvkv's writers keep them on one
// Pipeline stream each instead (etcd has no equivalent).
//
// --stalled_watchers=K,...: for the mvkv targets only, each run also opens
// K watch streams on "w/" (values included) that read their `created` and
// then nothing, beside the writers; every round runs each K closed-loop and
// paced at --rate, so the writers' Puts/s with and without stalled watchers
// come from the same run, interleaved. Around each run it reports the
// server's process_heap_bytes (Stats) and RSS (/proc), and afterwards reads
// every stalled stream to its end, which must be `ended` RESOURCE_EXHAUSTED
// (the watch fell more than --watch_buffer_bytes behind; pass a small one).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
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
          "mvkv, mvkvu (no shared responses), mvkv1 (one commit per response, "
          "no shared responses), null (bench's null_server, as mvkv: gRPC's "
          "own cost) and/or etcd, in order.");
ABSL_FLAG(std::string, watchers, "1,10,100", "Watcher counts, in order.");
ABSL_FLAG(int, rate, 2000,
          "Ops (Gets + Puts) per second, all writers together; 0 = closed "
          "loop (peak).");
ABSL_FLAG(double, read_fraction, 0.5, "Share of the ops that are Gets.");
ABSL_FLAG(bool, half_peak, false,
          "With --rate=0: after each peak run, one paced at half its ops/s.");
ABSL_FLAG(std::string, half_peak_of, "",
          "With --half_peak: every target's paced run is at half of this "
          "target's peak of the same round and watcher count (the peaks run "
          "first, then the paced runs); empty = each at half its own.");
ABSL_FLAG(int, writers, 2, "Writer threads.");
ABSL_FLAG(int, watches_per_stream, 1,
          "Watches created on each watch stream (each stream has one reading "
          "thread), the same for every target; the last stream takes the "
          "remainder.");
ABSL_FLAG(int, writer_depth, 0,
          "Ops each writer keeps in flight with async unary calls (the same "
          "for every target); 0 = synchronous calls, one at a time.");
ABSL_FLAG(bool, mvkv_pipeline, false,
          "With --writer_depth > 0: mvkv targets' writers keep their D ops in "
          "flight on one Pipeline stream each instead of as async unary "
          "calls (etcd has no such stream and stays unary).");
ABSL_FLAG(std::string, stalled_watchers, "",
          "Stalled watch stream counts, e.g. 0,1,10 (mvkv targets only): each "
          "round runs every count closed-loop and paced at --rate; empty = "
          "off.");
ABSL_FLAG(uint64_t, watch_buffer_bytes, 0,
          "--watch_buffer_bytes for the mvkv servers; 0 = their default.");
ABSL_FLAG(double, seconds, 3, "Seconds of writing per run.");
ABSL_FLAG(int, repeats, 1, "Rounds; targets interleave within a round.");
ABSL_FLAG(std::string, server_binary, "server/mvkv_server", "mvkv_server.");
ABSL_FLAG(std::string, etcd_binary, "/usr/bin/etcd", "etcd.");
ABSL_FLAG(std::string, null_binary, "bench/ycsb/null_server",
          "bench's null_server (the null target).");

namespace mvkv::ycsb {
namespace {

int64_t NowNs() { return absl::GetCurrentTimeNanos(); }

// The send time, in the first 8 bytes of a 100-byte value.
std::string StampedValue(int64_t* stamp) {
  std::string v(100, 'v');
  const int64_t now = NowNs();
  *stamp = now;
  std::memcpy(v.data(), &now, sizeof(now));
  return v;
}
int64_t Stamp(const std::string& value) {
  int64_t t = 0;
  if (value.size() >= sizeof(t)) std::memcpy(&t, value.data(), sizeof(t));
  return t;
}

// When each Put (named by its value's stamp) was answered, for the lower
// bound of commit-to-event: the commit happened before its answer, so
// event time - answer time <= commit-to-event <= event time - stamp.
// Thread-safe (sharded by stamp).
class Answers {
 public:
  void Put(int64_t stamp, int64_t answered_ns) {
    Shard& s = shards_[Index(stamp)];
    std::lock_guard<std::mutex> lock(s.mu);
    s.answered[stamp] = answered_ns;
  }
  // 0 if not answered (yet).
  int64_t Get(int64_t stamp) {
    Shard& s = shards_[Index(stamp)];
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.answered.find(stamp);
    return it == s.answered.end() ? 0 : it->second;
  }

 private:
  static constexpr int kShards = 64;
  struct Shard {
    std::mutex mu;
    std::unordered_map<int64_t, int64_t> answered;  // guarded by mu
  };
  static std::size_t Index(int64_t stamp) {
    return static_cast<uint64_t>(stamp) * 0x9E3779B97F4A7C15ull >> 58;
  }
  Shard shards_[kShards];
};

// One watch stream (one thread) carrying `watches` watches on "w/".
struct Watcher {
  Watcher(Answers* a, int n) : answers(a), watches(n) {}
  // One event of the Put stamped `stamp`, received at `now`; commit_ns is
  // the server's stamp of its commit (mvkv's commit_time_unix_ns; 0 for
  // etcd, which has none).
  void Record(int64_t stamp, int64_t now, int64_t commit_ns = 0) {
    if (commit_ns != 0) {
      from_commit.Record(
          now > commit_ns ? static_cast<uint64_t>(now - commit_ns) : 0);
    }
    latency.Record(static_cast<uint64_t>(now - stamp));
    const int64_t answered = answers->Get(stamp);
    // An event before its Put's answer (or before the writer noted it):
    // the lower bound is 0.
    after_answer.Record(answered == 0 || answered > now
                            ? 0
                            : static_cast<uint64_t>(now - answered));
    events.fetch_add(1, std::memory_order_relaxed);
  }
  Answers* const answers;
  const int watches;
  Histogram latency;       // event - Put issued: commit-to-event's upper bound
  Histogram after_answer;  // event - Put answered: its lower bound
  Histogram from_commit;   // event - the server's commit stamp: the latency
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
  // Opens a stream with w->watches watches on "w/" and reads it until
  // cancelled, recording into w; `ready` counts the watches created.
  virtual void Watch(Watcher* w, std::atomic<int>* ready) = 0;
  virtual bool Put(const std::string& key, const std::string& value) = 0;
  // False on an RPC error; NOT_FOUND is an answer.
  virtual bool Get(const std::string& key) = 0;
  // The same as async unary calls: `done(ok)` runs on a gRPC thread.
  virtual void PutAsync(const std::string& key, const std::string& value,
                        std::function<void(bool)> done) = 0;
  virtual void GetAsync(const std::string& key,
                        std::function<void(bool)> done) = 0;
};

// One async unary call's state, alive until its callback ran.
template <typename Request, typename Response>
struct AsyncCall {
  grpc::ClientContext context;
  Request request;
  Response response;
};

// Calls `start(context, request, response, callback)` on a heap call whose
// callback reports ok (NOT_FOUND counts as an answer) and deletes it.
template <typename Request, typename Response, typename Start>
void CallAsync(Request request, std::function<void(bool)> done,
               Start start) {
  auto* call = new AsyncCall<Request, Response>;
  call->request = std::move(request);
  start(&call->context, &call->request, &call->response,
        [call, done = std::move(done)](grpc::Status status) {
          delete call;
          done(status.ok() ||
               status.error_code() == grpc::StatusCode::NOT_FOUND);
        });
}

class MvkvTarget final : public Target {
 public:
  MvkvTarget(std::shared_ptr<grpc::Channel> channel, uint32_t max_commits,
             bool share)
      : stub_(v1::KV::NewStub(channel)),
        max_commits_(max_commits),
        share_(share) {}
  void Watch(Watcher* w, std::atomic<int>* ready) override {
    auto stream = stub_->Watch(w->context.get());
    v1::WatchRequest create;
    create.mutable_create()->set_prefix("w/");
    create.mutable_create()->set_max_commits_per_response(max_commits_);
    create.mutable_create()->set_share_responses(share_);
    for (int i = 0; i < w->watches; ++i) stream->Write(create);
    v1::WatchResponse r;
    auto record = [w](const v1::WatchResponse& one, int64_t now) {
      auto changes = [w, now](const v1::WatchCommit& commit) {
        for (const auto& c : commit.changes()) {
          w->Record(Stamp(c.value()), now, commit.commit_time_unix_ns());
        }
      };
      if (one.has_commit()) changes(one.commit());
      for (const auto& commit : one.commits().commits()) changes(commit);
    };
    while (stream->Read(&r)) {
      if (r.has_created()) ready->fetch_add(1);
      const int64_t now = NowNs();
      if (r.has_commit() || r.has_commits() || r.has_batch()) {
        ++w->responses;  // messages
      }
      record(r, now);
      for (const auto& one : r.batch().responses()) record(one, now);
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
  void PutAsync(const std::string& key, const std::string& value,
                std::function<void(bool)> done) override {
    v1::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    CallAsync<v1::PutRequest, v1::PutResponse>(
        std::move(req), std::move(done), [this](auto&&... a) {
          stub_->async()->Put(std::forward<decltype(a)>(a)...);
        });
  }
  void GetAsync(const std::string& key,
                std::function<void(bool)> done) override {
    v1::GetRequest req;
    req.set_key(key);
    CallAsync<v1::GetRequest, v1::GetResponse>(
        std::move(req), std::move(done), [this](auto&&... a) {
          stub_->async()->Get(std::forward<decltype(a)>(a)...);
        });
  }
  v1::KV::Stub& stub() { return *stub_; }
  uint32_t max_commits() const { return max_commits_; }

 private:
  std::unique_ptr<v1::KV::Stub> stub_;
  const uint32_t max_commits_;
  const bool share_;
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
    for (int i = 0; i < w->watches; ++i) stream->Write(create);
    etcdserverpb::WatchResponse r;
    while (stream->Read(&r)) {
      if (r.created()) ready->fetch_add(1);
      const int64_t now = NowNs();
      if (r.events_size() > 0) ++w->responses;
      for (const auto& e : r.events()) {
        w->Record(Stamp(e.kv().value()), now);
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
  void PutAsync(const std::string& key, const std::string& value,
                std::function<void(bool)> done) override {
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    CallAsync<etcdserverpb::PutRequest, etcdserverpb::PutResponse>(
        std::move(req), std::move(done), [this](auto&&... a) {
          kv_->async()->Put(std::forward<decltype(a)>(a)...);
        });
  }
  void GetAsync(const std::string& key,
                std::function<void(bool)> done) override {
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    CallAsync<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse>(
        std::move(req), std::move(done), [this](auto&&... a) {
          kv_->async()->Range(std::forward<decltype(a)>(a)...);
        });
  }

 private:
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch_;
};

// What one run's writers held.
struct Held {
  double ops_per_s = 0;
  double puts_per_s = 0;
};

// One writer's ops: `period` apart from `start` (zero: closed loop) until
// `end`, each a Get (--read_fraction) or a Put of a stamped value on one of
// the writer's 1000 keys under "w/".
class OpSchedule {
 public:
  struct Op {
    std::string key;
    bool get = false;
    std::string value;  // Puts: stamped
    int64_t stamp = 0;
    int64_t issued = 0;
  };
  OpSchedule(int t, absl::Time start, absl::Time end, absl::Duration period)
      : t_(t), next_(start), end_(end), period_(period), rng_(t) {}

  // Waits for the next op's turn; false at the end.
  bool Next(Op* op) {
    if (absl::Now() >= end_) return false;
    next_ += period_;
    const absl::Duration ahead = next_ - absl::Now();
    if (ahead > absl::ZeroDuration()) absl::SleepFor(ahead);
    op->key = absl::StrCat("w/", t_, "/", rng_() % 1000);
    op->get = coin_(rng_) < read_fraction_;
    op->value = op->get ? std::string() : StampedValue(&op->stamp);
    op->issued = NowNs();
    return true;
  }

 private:
  const int t_;
  absl::Time next_;
  const absl::Time end_;
  const absl::Duration period_;
  const double read_fraction_ = absl::GetFlag(FLAGS_read_fraction);
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> coin_{0, 1};
};

// What a writer's answered ops go into. Record is called under the
// writer's lock when ops are in flight (the histogram is not thread-safe).
struct WriterCounts {
  std::atomic<uint64_t>* puts;
  std::atomic<uint64_t>* gets;
  Histogram* latency;
  Answers* answers;
  void Record(const OpSchedule::Op& op, bool ok, int64_t answered) const {
    if (ok) (op.get ? gets : puts)->fetch_add(1);
    if (!op.get) answers->Put(op.stamp, answered);
    latency->Record(static_cast<uint64_t>(answered - op.issued));
  }
};

// One writer thread: its ops one at a time (depth 0) or `depth` in flight
// as async unary calls; counts the answered ones and records each op's
// issue-to-answer time.
void Write(Target& target, OpSchedule& ops, int depth,
           const WriterCounts& counts) {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;  // guarded by mu; so is counts' histogram, depth > 0
  OpSchedule::Op op;
  while (ops.Next(&op)) {
    if (depth == 0) {
      // A Get of a key not yet written is served as well.
      const bool ok = op.get ? target.Get(op.key) : target.Put(op.key, op.value);
      counts.Record(op, ok, NowNs());
      continue;
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < depth; });
      ++in_flight;
    }
    auto done = [&mu, &cv, &in_flight, &counts, op](bool ok) {
      const int64_t answered = NowNs();
      std::lock_guard<std::mutex> lock(mu);
      counts.Record(op, ok, answered);
      --in_flight;
      cv.notify_one();
    };
    if (op.get) {
      target.GetAsync(op.key, done);
    } else {
      target.PutAsync(op.key, op.value, done);
    }
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });
}

// --mvkv_pipeline: the same ops, `depth` in flight on one Pipeline stream
// of the writer's own; a reader thread matches results to ops by id.
void WritePipelined(v1::KV::Stub& stub, OpSchedule& ops, int depth,
                    const WriterCounts& counts) {
  grpc::ClientContext context;
  auto stream = stub.Pipeline(&context);
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<uint64_t, OpSchedule::Op> pending;  // guarded by mu
  bool broken = false;                                   // guarded by mu
  std::thread reader([&] {
    v1::PipelineResponse r;
    while (stream->Read(&r)) {
      const int64_t answered = NowNs();
      std::lock_guard<std::mutex> lock(mu);
      for (const v1::AutocommitResult& result : r.results()) {
        auto it = pending.find(result.id());
        if (it == pending.end()) continue;
        counts.Record(it->second,
                      result.code() == grpc::StatusCode::OK ||
                          result.code() == grpc::StatusCode::NOT_FOUND,
                      answered);
        pending.erase(it);
      }
      cv.notify_one();
    }
    std::lock_guard<std::mutex> lock(mu);
    broken = true;
    cv.notify_one();
  });
  OpSchedule::Op op;
  for (uint64_t id = 1; ops.Next(&op); ++id) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] {
        return broken || pending.size() < static_cast<std::size_t>(depth);
      });
      if (broken) break;
      pending.emplace(id, op);
    }
    v1::PipelineRequest request;
    v1::AutocommitOp* o = request.add_ops();
    o->set_id(id);
    if (op.get) {
      o->mutable_get()->set_key(op.key);
    } else {
      o->mutable_put()->set_key(op.key);
      o->mutable_put()->set_value(op.value);
    }
    if (!stream->Write(request)) break;
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30),
                [&] { return broken || pending.empty(); });
  }
  stream->WritesDone();
  context.TryCancel();  // ends the reader's Read if results are missing
  reader.join();
  stream->Finish().IgnoreError();
}

// One run at `rate` ops/s (0 = closed loop).
Held RunOne(const std::string& name, Target& target, int watchers, int rate,
            const std::string& label = "") {
  std::vector<std::unique_ptr<Watcher>> ws;
  std::atomic<int> ready{0};
  auto answers = std::make_unique<Answers>();
  const int per_stream = absl::GetFlag(FLAGS_watches_per_stream);
  for (int i = 0; i < watchers; i += per_stream) {
    ws.push_back(std::make_unique<Watcher>(answers.get(),
                                           std::min(per_stream, watchers - i)));
    Watcher* w = ws.back().get();
    w->thread = std::thread([&target, w, &ready] { target.Watch(w, &ready); });
  }
  const absl::Time wait_until = absl::Now() + absl::Seconds(30);
  while (ready.load() < watchers && absl::Now() < wait_until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const int writers = absl::GetFlag(FLAGS_writers);
  const int depth = absl::GetFlag(FLAGS_writer_depth);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const absl::Duration period =
      rate == 0 ? absl::ZeroDuration() : absl::Seconds(1.0 * writers / rate);
  std::atomic<uint64_t> puts{0};
  std::atomic<uint64_t> gets{0};
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  std::vector<std::thread> ts;
  std::vector<Histogram> op_latency(writers);
  auto* pipelined = absl::GetFlag(FLAGS_mvkv_pipeline) && depth > 0
                       ? dynamic_cast<MvkvTarget*>(&target)
                       : nullptr;
  for (int t = 0; t < writers; ++t) {
    ts.emplace_back([&, t] {
      OpSchedule ops(t, start, end, period);
      const WriterCounts counts{&puts, &gets, &op_latency[t], answers.get()};
      if (pipelined != nullptr) {
        WritePipelined(pipelined->stub(), ops, depth, counts);
      } else {
        Write(target, ops, depth, counts);
      }
    });
  }
  for (auto& t : ts) t.join();
  Histogram ops;
  for (const Histogram& h : op_latency) ops.Merge(h);
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
  Histogram all, after_answer, from_commit;
  uint64_t events = 0, responses = 0;
  for (auto& w : ws) {
    w->thread.join();
    responses += w->responses;
    all.Merge(w->latency);
    after_answer.Merge(w->after_answer);
    from_commit.Merge(w->from_commit);
    events += w->events.load(std::memory_order_relaxed);
  }
  Held held;
  held.ops_per_s = (puts.load() + gets.load()) / absl::ToDoubleSeconds(wrote);
  held.puts_per_s = puts.load() / absl::ToDoubleSeconds(wrote);
  std::printf(
      "%-5s %swatchers=%-4d streams=%-4zu rate=%-6d depth=%d%s "
      "ops/s=%-7.0f puts/s=%-7.0f events/s=%-9.0f delivered=%llu/%llu events/response=%.1f "
      "p50=%.3fms p99=%.3fms p99.9=%.3fms op_p50=%.3fms op_p99=%.3fms "
      "answer_p50=%.3fms answer_p99=%.3fms\n",
      name.c_str(), label.c_str(), watchers, ws.size(), rate, depth,
      pipelined != nullptr ? " (pipeline)" : "", held.ops_per_s,
      held.puts_per_s, events / absl::ToDoubleSeconds(total),
      static_cast<unsigned long long>(events),
      static_cast<unsigned long long>(expected),
      responses == 0 ? 0.0 : 1.0 * events / responses, all.Percentile(50) / 1e6,
      all.Percentile(99) / 1e6, all.Percentile(99.9) / 1e6,
      ops.Percentile(50) / 1e6, ops.Percentile(99) / 1e6,
      after_answer.Percentile(50) / 1e6, after_answer.Percentile(99) / 1e6);
  if (from_commit.count() > 0) {
    // The server stamped each commit on the same machine's clock: the
    // commit-to-event latency itself, not a bound.
    std::printf(
        "%-5s %swatchers=%-4d commit_to_event_p50=%.3fms "
        "commit_to_event_p99=%.3fms commit_to_event_p99.9=%.3fms\n",
        name.c_str(), label.c_str(), watchers, from_commit.Percentile(50) / 1e6,
        from_commit.Percentile(99) / 1e6, from_commit.Percentile(99.9) / 1e6);
  }
  std::fflush(stdout);
  return held;
}

// ---- Stalled watchers (--stalled_watchers). ----

// A watch stream that read its `created` and then nothing.
struct StalledWatch {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WatchRequest, v1::WatchResponse>>
      stream;
};

// K stalled watches on "w/" (values included), each created before return,
// on `stub`: a channel of their own, so that what they leave unread never
// shares a connection's flow control with the writers.
absl::StatusOr<std::vector<std::unique_ptr<StalledWatch>>> OpenStalled(
    v1::KV::Stub& stub, uint32_t max_commits, int k) {
  std::vector<std::unique_ptr<StalledWatch>> out;
  for (int i = 0; i < k; ++i) {
    auto s = std::make_unique<StalledWatch>();
    s->stream = stub.Watch(&s->context);
    v1::WatchRequest create;
    create.mutable_create()->set_prefix("w/");
    create.mutable_create()->set_max_commits_per_response(max_commits);
    v1::WatchResponse r;
    if (!s->stream->Write(create) || !s->stream->Read(&r) || !r.has_created()) {
      return absl::UnavailableError("a stalled watch was not created");
    }
    out.push_back(std::move(s));
  }
  return out;
}

// Reads every stalled stream (now, after the writers stopped; a thread
// each) until its watch ended, within 30 s in all; how many ended
// RESOURCE_EXHAUSTED, and the events they had buffered before that.
struct StalledEnds {
  int resource_exhausted = 0;
  int other = 0;  // ended otherwise, or not within the time
  uint64_t events_before = 0;
};
StalledEnds DrainStalled(std::vector<std::unique_ptr<StalledWatch>>& ss) {
  std::atomic<int> exhausted{0}, other{0};
  std::atomic<uint64_t> events{0};
  std::atomic<int> left{static_cast<int>(ss.size())};
  std::vector<std::thread> readers;
  for (auto& s : ss) {
    readers.emplace_back([&, st = s.get()] {
      v1::WatchResponse r;
      bool ended = false;
      while (!ended && st->stream->Read(&r)) {
        if (r.has_ended()) {
          ended = true;
          (r.ended().code() == grpc::StatusCode::RESOURCE_EXHAUSTED ? exhausted
                                                                     : other)
              .fetch_add(1);
        }
        if (r.has_commit()) events.fetch_add(1);
        for (const auto& c : r.commits().commits()) {
          events.fetch_add(c.changes_size());
        }
      }
      if (!ended) other.fetch_add(1);
      st->context.TryCancel();
      left.fetch_sub(1);
    });
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (left.load() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  for (auto& s : ss) s->context.TryCancel();  // a no-op on an ended one
  for (auto& t : readers) t.join();
  return StalledEnds{exhausted.load(), other.load(), events.load()};
}

// The server's heap in use (Stats) and its RSS (/proc), bytes.
struct Memory {
  uint64_t heap = 0;
  uint64_t rss = 0;
  uint64_t slow_cancellations = 0;
};
Memory ServerMemory(MvkvTarget& target, pid_t pid) {
  Memory m;
  grpc::ClientContext context;
  v1::StatsResponse stats;
  if (target.stub().Stats(&context, v1::StatsRequest(), &stats).ok()) {
    m.heap = stats.process_heap_bytes();
    m.slow_cancellations = stats.watch_slow_cancellations();
  }
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      uint64_t kib = 0;
      std::vector<absl::string_view> parts =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) {
        m.rss = kib * 1024;
      }
    }
  }
  return m;
}

// One run of the writers beside `k` stalled watches (and --watchers-list
// entry `watchers` reading ones), with the server's memory around it.
bool RunStalled(const std::string& name, MvkvTarget& target,
                v1::KV::Stub& stalled_stub, pid_t pid, int watchers, int k,
                int rate) {
  auto stalled = OpenStalled(stalled_stub, target.max_commits(), k);
  if (!stalled.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(),
                 stalled.status().ToString().c_str());
    return false;
  }
  const Memory before = ServerMemory(target, pid);
  RunOne(name, target, watchers, rate, absl::StrCat("stalled=", k, " "));
  const Memory after = ServerMemory(target, pid);
  const StalledEnds ends = DrainStalled(*stalled);
  stalled->clear();
  const Memory drained = ServerMemory(target, pid);
  std::printf(
      "      stalled=%d heap_mib before=%.1f after=%.1f rss_mib before=%.1f "
      "after=%.1f ended_resource_exhausted=%d/%d other=%d "
      "events_buffered_per_stalled=%.0f slow_cancellations+=%llu\n",
      k, before.heap / 1048576.0, after.heap / 1048576.0,
      before.rss / 1048576.0, after.rss / 1048576.0, ends.resource_exhausted,
      k, ends.other, k == 0 ? 0.0 : 1.0 * ends.events_before / k,
      static_cast<unsigned long long>(drained.slow_cancellations -
                                      before.slow_cancellations));
  std::fflush(stdout);
  return true;
}

// Parses a comma list of counts >= `min`.
bool ParseCounts(const std::string& flag, const std::string& list, int min,
                 std::vector<int>* out) {
  for (absl::string_view s : absl::StrSplit(list, ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < min) {
      std::fprintf(stderr, "bad --%s entry \"%s\" (want an integer >= %d)\n",
                   flag.c_str(), std::string(s).c_str(), min);
      return false;
    }
    out->push_back(n);
  }
  return true;
}

int Main() {
  std::vector<int> counts, stalled_counts;
  const std::string stalled_list = absl::GetFlag(FLAGS_stalled_watchers);
  const bool stalled_mode = !stalled_list.empty();
  // With stalled watchers, 0 reading watchers is the usual case.
  if (!ParseCounts("watchers", absl::GetFlag(FLAGS_watchers),
                   stalled_mode ? 0 : 1, &counts) ||
      (stalled_mode &&
       !ParseCounts("stalled_watchers", stalled_list, 0, &stalled_counts))) {
    return 2;
  }
  if (stalled_mode && absl::GetFlag(FLAGS_rate) <= 0) {
    std::fprintf(stderr,
                 "--stalled_watchers runs closed-loop and paced at --rate: "
                 "give --rate > 0\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_watches_per_stream) < 1) {
    std::fprintf(stderr, "bad --watches_per_stream (want >= 1)\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_writer_depth) < 0) {
    std::fprintf(stderr, "bad --writer_depth (want >= 0)\n");
    return 2;
  }
  std::vector<std::string> names =
      absl::StrSplit(absl::GetFlag(FLAGS_targets), ',');
  std::vector<std::unique_ptr<ChildProcess>> processes;
  std::vector<std::unique_ptr<Target>> targets;
  std::vector<std::unique_ptr<v1::KV::Stub>> stalled_stubs;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  std::vector<std::string> server_args;
  if (absl::GetFlag(FLAGS_watch_buffer_bytes) != 0) {
    server_args.push_back(absl::StrCat(
        "--watch_buffer_bytes=", absl::GetFlag(FLAGS_watch_buffer_bytes)));
  }
  for (const std::string& name : names) {
    if (name != "etcd" && name != "mvkv" && name != "mvkvu" &&
        name != "mvkv1" && name != "null") {
      std::fprintf(stderr, "bad --targets entry \"%s\"\n", name.c_str());
      return 2;
    }
    if (stalled_mode && (name == "etcd" || name == "null")) {
      std::fprintf(stderr, "--stalled_watchers: mvkv targets only\n");
      return 2;
    }
    // The null server takes no server flags: it keeps nothing.
    absl::StatusOr<std::unique_ptr<ChildProcess>> p =
        name == "etcd"
            ? ChildProcess::StartEtcd(absl::GetFlag(FLAGS_etcd_binary))
        : name == "null" ? ChildProcess::StartMvkvServer(
                               absl::GetFlag(FLAGS_null_binary), {})
                         : ChildProcess::StartMvkvServer(
                               absl::GetFlag(FLAGS_server_binary), server_args);
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
          std::make_unique<MvkvTarget>(channel, name == "mvkv1" ? 1 : 1024,
                                       name == "mvkv" || name == "null"));
    }
    // A stalled client's own channel, without BDP probing and with a small
    // stream window, so that gRPC's receive buffering (a client-side
    // choice) does not absorb the whole run before the server sees the
    // stall.
    grpc::ChannelArguments stalled_args;
    stalled_args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    stalled_args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
    stalled_stubs.push_back(v1::KV::NewStub(grpc::CreateCustomChannel(
        (*p)->address(), grpc::InsecureChannelCredentials(), stalled_args)));
    processes.push_back(*std::move(p));
  }
  const int rate = absl::GetFlag(FLAGS_rate);
  const std::string half_peak_of = absl::GetFlag(FLAGS_half_peak_of);
  auto of = names.end();
  if (!half_peak_of.empty()) {
    of = std::find(names.begin(), names.end(), half_peak_of);
    if (of == names.end() || rate != 0 || !absl::GetFlag(FLAGS_half_peak) ||
        stalled_mode) {
      std::fprintf(stderr,
                   "--half_peak_of=%s: name one of --targets, with --rate=0 "
                   "and --half_peak (not --stalled_watchers)\n",
                   half_peak_of.c_str());
      return 2;
    }
  }
  for (int round = 0; round < absl::GetFlag(FLAGS_repeats); ++round) {
    for (int n : counts) {
      if (stalled_mode) {
        // Closed loop and paced for every K, interleaved.
        for (int k : stalled_counts) {
          for (std::size_t i = 0; i < targets.size(); ++i) {
            auto& mvkv = static_cast<MvkvTarget&>(*targets[i]);
            for (int r : {0, rate}) {
              if (!RunStalled(names[i], mvkv, *stalled_stubs[i],
                              processes[i]->pid(), n, k, r)) {
                return 1;
              }
            }
          }
        }
        continue;
      }
      if (of != names.end()) {
        // Every peak first, then every target at half of `of`'s.
        std::vector<Held> peaks;
        for (std::size_t i = 0; i < targets.size(); ++i) {
          peaks.push_back(RunOne(names[i], *targets[i], n, rate));
        }
        const Held& base = peaks[of - names.begin()];
        for (std::size_t i = 0; i < targets.size(); ++i) {
          RunOne(names[i], *targets[i], n,
                 std::max(1, static_cast<int>(base.ops_per_s / 2)));
        }
        continue;
      }
      for (std::size_t i = 0; i < targets.size(); ++i) {
        const Held held = RunOne(names[i], *targets[i], n, rate);
        if (rate == 0 && absl::GetFlag(FLAGS_half_peak)) {
          RunOne(names[i], *targets[i], n,
                 std::max(1, static_cast<int>(held.ops_per_s / 2)));
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
