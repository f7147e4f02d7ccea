#include "bench/ycsb/runner.h"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "bench/ycsb/pipelined_worker.h"
#include "mvcc/reclaim_scheme.h"
#include "reclaim/reclaim.h"

namespace mvkv::ycsb {

using Clock = std::chrono::steady_clock;

namespace {
absl::string_view AV(const std::string& s) { return {s.data(), s.size()}; }
double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

absl::StatusOr<Stall> ParseStall(const std::string& text) {
  Stall s;
  s.text = text;
  absl::string_view v = AV(text);
  if (absl::ConsumePrefix(&v, "reclaim:")) s.kind = Stall::kReclaim;
  else if (absl::ConsumePrefix(&v, "txn:")) s.kind = Stall::kTxn;
  else return absl::InvalidArgumentError("--stall must be reclaim:K@T or txn:K@T, got '" + text + "'");
  const size_t at = v.find('@');
  double scale = 1;
  absl::string_view t = at == absl::string_view::npos ? "0" : v.substr(at + 1);
  if (absl::ConsumeSuffix(&t, "ms")) scale = 1e-3;
  else absl::ConsumeSuffix(&t, "s");
  if (!absl::SimpleAtoi(v.substr(0, at), &s.count) || s.count <= 0 ||
      !absl::SimpleAtod(t, &s.at_s) || s.at_s < 0) {
    return absl::InvalidArgumentError("bad --stall '" + text + "' (want reclaim:K@T or txn:K@T)");
  }
  s.at_s *= scale;
  return s;
}

uint64_t ProcessHeapBytes() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

uint64_t RssBytes(pid_t pid) {
  const std::string path =
      pid < 0 ? "/proc/self/statm" : absl::StrCat("/proc/", pid, "/statm");
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

namespace {

// Shared between the workers, the sampler and the stall threads.
struct Shared {
  std::atomic<bool> stop{false};       // release by the controller, acquire by all
  std::atomic<uint64_t> ops{0};        // relaxed: a progress counter
  std::mutex mu;
  std::condition_variable cv;          // wakes stall threads at the end
  bool finished = false;               // guarded by mu
};

struct WorkerOut {
  Histogram latency[kOpTypes];
  uint64_t errors[kOpTypes] = {};
  uint64_t ops = 0;
  absl::Status fatal;
};

absl::Status DoOp(Session& s, const Op& op, const WorkloadSpec& spec,
                  OpGenerator& gen) {
  const std::string key = KeyName(op.keynum, spec.ordered_inserts);
  switch (op.type) {
    case OpType::kRead: return s.Read(key);
    case OpType::kUpdate:
      return s.Write(key, BuildRecord(spec, gen.rng()));
    case OpType::kInsert: return s.Write(key, BuildRecord(spec, gen.rng()));
    case OpType::kScan: return s.Scan(key, op.scan_length);
    case OpType::kReadModifyWrite:
      return s.ReadModifyWrite(key, [&](const std::string& old) {
        return ModifyRecord(old, spec, gen.rng());
      });
  }
  return absl::OkStatus();
}

void Worker(Target& target, const RunConfig& c, int index,
            InsertCounter* inserts, Shared* shared, Clock::time_point t0,
            WorkerOut* out) {
  if (c.pipeline > 1) {
    return RunPipelinedWorker(target, c, index, inserts, shared->stop,
                              shared->ops, t0,
                              {out->latency, out->errors, &out->ops, &out->fatal});
  }
  absl::StatusOr<std::unique_ptr<Session>> session = target.NewSession();
  if (!session.ok()) {
    out->fatal = session.status();
    return;
  }
  OpGenerator gen(c.spec, inserts, c.seed * 1000003 + index);
  const uint64_t quota =
      c.ops == 0 ? UINT64_MAX : c.ops / c.threads + (index < static_cast<int>(c.ops % c.threads));
  const double interval_s = c.rate > 0 ? c.threads / c.rate : 0;
  for (uint64_t i = 0; i < quota; ++i) {
    if (shared->stop.load(std::memory_order_acquire)) break;
    Clock::time_point start = Clock::now();
    if (interval_s > 0) {
      // Coordinated omission: latency counts from the intended start.
      const Clock::time_point intended =
          t0 + std::chrono::duration_cast<Clock::duration>(
                   std::chrono::duration<double>(i * interval_s));
      if (intended > start) std::this_thread::sleep_until(intended);
      start = intended;
    }
    const Op op = gen.Next();
    absl::Status st = DoOp(**session, op, c.spec, gen);
    const uint64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            Clock::now() - start).count();
    const int t = static_cast<int>(op.type);
    out->latency[t].Record(ns);
    if (!st.ok()) ++out->errors[t];
    if (op.type == OpType::kInsert) inserts->Acknowledge(op.keynum);
    ++out->ops;
    shared->ops.fetch_add(1, std::memory_order_relaxed);
  }
}

void WaitUntilFinished(Shared* shared, double deadline_s, Clock::time_point t0) {
  std::unique_lock<std::mutex> l(shared->mu);
  shared->cv.wait_until(l, t0 + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(deadline_s)),
                        [&] { return shared->finished; });
}

// One thread per stall entry: waits for T, then holds K guards or K snapshots.
void StallThread(Target& target, const Stall& s, Shared* shared,
                 Clock::time_point t0, const std::string& key,
                 std::vector<std::string>* notes, std::mutex* notes_mu) {
  WaitUntilFinished(shared, s.at_s, t0);
  {
    std::lock_guard<std::mutex> l(shared->mu);
    if (shared->finished) return;
  }
  if (s.kind == Stall::kReclaim) {
    std::vector<std::thread> parked;
    for (int i = 0; i < s.count; ++i) {
      parked.emplace_back([shared] {
        EngineReclaimDomain::Guard guard;  // the engine's own domain
        static std::atomic<reclaim::Node*> root{nullptr};
        guard.Protect(root, 0);  // activates the reservation at today's era
        std::unique_lock<std::mutex> l(shared->mu);
        shared->cv.wait(l, [&] { return shared->finished; });
      });
    }
    for (std::thread& t : parked) t.join();
    return;
  }
  std::vector<std::unique_ptr<StalledSnapshot>> held;
  for (int i = 0; i < s.count; ++i) {
    absl::StatusOr<std::unique_ptr<StalledSnapshot>> snap =
        target.OpenStalledSnapshot(key);
    if (!snap.ok()) {
      std::lock_guard<std::mutex> l(*notes_mu);
      notes->push_back(absl::StrCat("stall ", AV(s.text), " failed: ",
                                    snap.status().ToString()));
      break;
    }
    held.push_back(std::move(*snap));
  }
  for (;;) {
    std::unique_lock<std::mutex> l(shared->mu);
    if (shared->cv.wait_for(l, std::chrono::seconds(1),
                            [&] { return shared->finished; })) {
      break;
    }
    l.unlock();
    for (auto& h : held) h->KeepAlive();
  }
}

Sample TakeSample(Target& target, double t, uint64_t ops, uint64_t last_ops,
                  double dt) {
  Sample s;
  s.t_s = t;
  s.ops = ops;
  s.ops_per_s = dt > 0 ? (ops - last_ops) / dt : 0;
  if (target.in_process()) {
    s.heap_bytes = ProcessHeapBytes();
    s.rss_bytes = RssBytes(-1);
  } else {
    s.rss_bytes = target.server_pid() > 0 ? RssBytes(target.server_pid()) : 0;
    s.heap_bytes = s.rss_bytes;
  }
  if (std::optional<EngineAccounts> a = target.Accounts()) {
    s.accounts = *a;
    s.has_accounts = true;
  }
  return s;
}

void Sampler(Target& target, const RunConfig& c, Shared* shared,
             Clock::time_point t0, std::vector<Sample>* samples) {
  const bool tty = c.progress;
  uint64_t last_ops = 0;
  double last_t = 0;
  for (int tick = 1;; ++tick) {
    WaitUntilFinished(shared, tick * c.sample_ms / 1000.0, t0);
    const double t = Since(t0);
    const uint64_t ops = shared->ops.load(std::memory_order_relaxed);
    samples->push_back(TakeSample(target, t, ops, last_ops, t - last_t));
    last_ops = ops;
    last_t = t;
    if (tty && tick % 5 == 0) {
      const Sample& s = samples->back();
      std::fprintf(stderr, "\r[%6.1fs] %llu ops  %.0f ops/s  heap %.1f MiB  retained %llu   ",
                   t, static_cast<unsigned long long>(ops), s.ops_per_s,
                   s.heap_bytes / 1048576.0,
                   static_cast<unsigned long long>(s.accounts.retained_versions));
    }
    std::lock_guard<std::mutex> l(shared->mu);
    if (shared->finished) break;
  }
  if (tty) std::fprintf(stderr, "\n");
}

absl::Status Load(Target& target, const RunConfig& c) {
  std::vector<std::thread> threads;
  std::vector<absl::Status> status(c.threads);
  const uint64_t n = c.spec.record_count;
  for (int i = 0; i < c.threads; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<std::unique_ptr<Session>> s = target.NewSession();
      if (!s.ok()) {
        status[i] = s.status();
        return;
      }
      Random rng(c.seed * 7919 + i);
      for (uint64_t k = i; k < n && status[i].ok(); k += c.threads) {
        status[i] = (*s)->Write(KeyName(k, c.spec.ordered_inserts),
                                BuildRecord(c.spec, rng));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : status) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunResult> Run(Target& target, const RunConfig& c) {
  RunResult r;
  r.target = RunLabel(target.name(), c);
  r.workload = c.spec.name;
  r.threads = c.threads;
  r.stalls = c.stalls;
  r.rate = c.rate;
  Clock::time_point load_start = Clock::now();
  if (c.load) {
    absl::Status s = Load(target, c);
    if (!s.ok()) return s;
  }
  r.load_seconds = Since(load_start);

  InsertCounter inserts(c.spec.record_count);
  Shared shared;
  std::vector<WorkerOut> outs(c.threads);
  std::vector<Sample> samples;
  std::mutex notes_mu;
  std::vector<std::thread> threads, side;
  const Sample first = TakeSample(target, 0, 0, 0, 0);
  samples.push_back(first);
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < c.threads; ++i) {
    threads.emplace_back(Worker, std::ref(target), std::cref(c), i, &inserts,
                         &shared, t0, &outs[i]);
  }
  const std::string stall_key = KeyName(0, c.spec.ordered_inserts);
  for (const Stall& s : c.stalls) {
    side.emplace_back(StallThread, std::ref(target), std::cref(s), &shared, t0,
                      stall_key, &r.notes, &notes_mu);
  }
  side.emplace_back(Sampler, std::ref(target), std::cref(c), &shared, t0, &samples);
  std::thread timer;
  if (c.ops == 0) {
    timer = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::duration<double>(c.seconds));
      shared.stop.store(true, std::memory_order_release);  // pairs with workers
    });
  }
  for (std::thread& t : threads) t.join();
  r.run_seconds = Since(t0);
  shared.stop.store(true, std::memory_order_release);
  if (timer.joinable()) timer.join();
  const Sample last = TakeSample(target, Since(t0), shared.ops.load(), 0, 0);
  {
    std::lock_guard<std::mutex> l(shared.mu);
    shared.finished = true;
  }
  shared.cv.notify_all();
  for (std::thread& t : side) t.join();

  for (WorkerOut& o : outs) {
    if (!o.fatal.ok()) return o.fatal;
    r.ops += o.ops;
    for (int t = 0; t < kOpTypes; ++t) {
      r.latency[t].Merge(o.latency[t]);
      r.overall.Merge(o.latency[t]);
      r.errors[t] += o.errors[t];
    }
  }
  r.heap_start = first.heap_bytes;
  r.heap_end = last.heap_bytes;
  r.heap_peak = std::max(first.heap_bytes, last.heap_bytes);
  for (const Sample& s : samples) {
    r.heap_peak = std::max(r.heap_peak, s.heap_bytes);
    r.retained_versions_peak =
        std::max(r.retained_versions_peak, s.accounts.retained_versions);
    r.unreclaimed_objects_peak = std::max(
        r.unreclaimed_objects_peak, s.accounts.reclaim_unreclaimed_objects);
  }
  if (last.has_accounts && first.has_accounts) {
    r.aborts = last.accounts.aborts - first.accounts.aborts;
  }
  r.samples = std::move(samples);
  for (const Stall& s : c.stalls) {
    if (s.kind == Stall::kReclaim && !absl::StartsWith(r.target, "embedded")) {
      r.notes.push_back(absl::StrCat(
          "stall ", AV(s.text), ": parks threads in mvkv's reclaim domain; ",
          AV(r.target), " does not use it (no effect)"));
    }
  }
  return r;
}

}  // namespace mvkv::ycsb
