#include "bench/ycsb/runner.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "bench/cpu_time.h"
#include "bench/ycsb/exit_guard.h"
#include "bench/ycsb/live_latency.h"
#include "bench/ycsb/pipelined_worker.h"
#include "bench/ycsb/runner_internal.h"

namespace mvkv::ycsb {

using runner_internal::At;
using runner_internal::Clock;
using runner_internal::Shared;
using runner_internal::Since;

uint64_t ProcessHeapBytes() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

uint64_t RssBytes(pid_t pid) {
  std::ifstream in(pid < 0 ? std::string("/proc/self/status")
                           : absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    absl::string_view v(line);
    uint64_t kb = 0;
    if (absl::ConsumePrefix(&v, "VmRSS:")) {
      absl::ConsumeSuffix(&v, "kB");
      return absl::SimpleAtoi(v, &kb) ? kb * 1024 : 0;
    }
  }
  return 0;
}

namespace {

struct WorkerOut {
  Histogram latency[kOpTypes];
  Histogram during_stall;  // operations that completed while a stall held
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

uint64_t NanosSince(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t - t0).count();
}

void Worker(Target& target, const RunConfig& c, int index,
            InsertCounter* inserts, Shared* shared, Clock::time_point t0,
            WorkerOut* out, LiveLatency* live) {
  if (c.pipeline > 1) {
    return RunPipelinedWorker(
        target, c, index, inserts, shared->stop, shared->ops, t0,
        {out->latency, out->errors, &out->ops, &out->fatal, live});
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
      const Clock::time_point intended = At(t0, i * interval_s);
      if (intended > start) std::this_thread::sleep_until(intended);
      start = intended;
    }
    live->Start(NanosSince(t0, start) + 1);
    const Op op = gen.Next();
    absl::Status st = DoOp(**session, op, c.spec, gen);
    const uint64_t ns = NanosSince(start, Clock::now());
    const int t = static_cast<int>(op.type);
    out->latency[t].Record(ns);
    if (shared->holding.load(std::memory_order_relaxed) > 0) out->during_stall.Record(ns);
    live->Done(ns, !st.ok());
    if (!st.ok()) ++out->errors[t];
    if (op.type == OpType::kInsert) inserts->Acknowledge(op.keynum);
    ++out->ops;
    shared->ops.fetch_add(1, std::memory_order_relaxed);
  }
}

// Returns true when the run finished before `deadline_s`.
bool WaitUntilFinished(Shared* shared, double deadline_s, Clock::time_point t0) {
  std::unique_lock<std::mutex> l(shared->mu);
  return shared->cv.wait_until(l, At(t0, deadline_s), [&] { return shared->finished; });
}

// The latency timeline since the previous sample, over all workers.
void SampleLatency(std::vector<std::unique_ptr<LiveLatency>>& live,
                   Clock::time_point t0, Sample* s) {
  Histogram interval;
  const uint64_t now = NanosSince(t0, Clock::now());
  for (auto& l : live) {
    s->interval_errors += l->Collect(&interval);
    const uint64_t since = l->InFlightSince();
    if (since > 0 && now + 1 > since) {
      s->oldest_in_flight_ns = std::max(s->oldest_in_flight_ns, now + 1 - since);
    }
  }
  s->interval_ops = interval.count();
  s->p50_ns = interval.Percentile(50);
  s->p99_ns = interval.Percentile(99);
  s->max_ns = interval.max();
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
             Clock::time_point t0, std::vector<std::unique_ptr<LiveLatency>>* live,
             std::vector<Sample>* samples) {
  uint64_t last_ops = 0;
  double last_t = 0;
  for (int tick = 1;; ++tick) {
    const bool finished = WaitUntilFinished(shared, tick * c.sample_ms / 1000.0, t0);
    const double t = Since(t0);
    const uint64_t ops = shared->ops.load(std::memory_order_relaxed);
    Sample s = TakeSample(target, t, ops, last_ops, t - last_t);
    SampleLatency(*live, t0, &s);
    s.stalls_active = shared->holding.load(std::memory_order_relaxed);
    samples->push_back(s);
    last_ops = ops;
    last_t = t;
    if (c.progress && tick % 5 == 0) {
      std::fprintf(stderr, "\r[%6.1fs] %llu ops  %.0f ops/s  heap %.1f MiB  retained %llu   ",
                   t, static_cast<unsigned long long>(ops), s.ops_per_s,
                   s.heap_bytes / 1048576.0,
                   static_cast<unsigned long long>(s.accounts.retained_versions));
    }
    if (finished) break;
  }
  if (c.progress) std::fprintf(stderr, "\n");
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

void SetFlag(Shared* shared, bool Shared::*flag) {
  {
    std::lock_guard<std::mutex> l(shared->mu);
    shared->*flag = true;
  }
  shared->cv.notify_all();
}

// Merges the workers' histograms and the samples' peaks into `r`.
absl::Status Summarize(std::vector<WorkerOut>& outs, const Sample& first,
                       const Sample& last, RunResult& r) {
  for (WorkerOut& o : outs) {
    if (!o.fatal.ok()) return o.fatal;
    r.ops += o.ops;
    r.during_stall.Merge(o.during_stall);
    for (int t = 0; t < kOpTypes; ++t) {
      r.latency[t].Merge(o.latency[t]);
      r.overall.Merge(o.latency[t]);
      r.errors[t] += o.errors[t];
    }
  }
  r.heap_start = first.heap_bytes;
  r.heap_end = last.heap_bytes;
  r.heap_peak = std::max(first.heap_bytes, last.heap_bytes);
  for (const Sample& s : r.samples) {
    r.heap_peak = std::max(r.heap_peak, s.heap_bytes);
    r.retained_versions_peak =
        std::max(r.retained_versions_peak, s.accounts.retained_versions);
    r.unreclaimed_objects_peak = std::max(
        r.unreclaimed_objects_peak, s.accounts.reclaim_unreclaimed_objects);
  }
  if (last.has_accounts && first.has_accounts) {
    r.aborts = last.accounts.aborts - first.accounts.aborts;
  }
  // The union of the stall windows (a window still open at the end ends
  // with the run).
  std::vector<std::pair<double, double>> w;
  for (const StallEvent& e : r.events) {
    if (e.start_s >= 0) w.emplace_back(e.start_s, e.end_s >= 0 ? e.end_s : r.run_seconds);
  }
  std::sort(w.begin(), w.end());
  double covered_to = 0;
  for (const auto& [from, to] : w) {
    const double a = std::max(from, covered_to);
    if (to > a) r.stall_seconds += to - a;
    covered_to = std::max(covered_to, to);
  }
  for (const Stall& s : r.stalls) {
    if (s.kind == Stall::kReclaim && !absl::StartsWith(r.target, "embedded")) {
      r.notes.push_back(absl::StrCat(
          "stall ", s.text, ": parks threads in mvkv's reclaim domain; ",
          r.target, " does not use it (no effect; see server-reclaim: and thread:)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunResult> Run(Target& target, const RunConfig& c) {
  RunResult r;
  r.target = RunLabel(target.name(), c);
  r.in_process = target.in_process();
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
  std::vector<std::unique_ptr<LiveLatency>> live;
  for (int i = 0; i < c.threads; ++i) live.push_back(std::make_unique<LiveLatency>());
  r.events.resize(c.stalls.size());
  std::vector<std::thread> threads, side;
  const Sample first = TakeSample(target, 0, 0, 0, 0);
  r.samples.push_back(first);
  const double cpu0 = bench::ProcessCpuSeconds();
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < c.threads; ++i) {
    threads.emplace_back(Worker, std::ref(target), std::cref(c), i, &inserts,
                         &shared, t0, &outs[i], live[i].get());
  }
  for (size_t i = 0; i < c.stalls.size(); ++i) {
    side.emplace_back(runner_internal::StallThread, std::ref(target), std::cref(c),
                      static_cast<int>(i), &shared, t0, &r.events[i]);
  }
  // SIGINT/SIGTERM/SIGHUP from here on: every stall lets go first.
  ExitHook release([&shared] { runner_internal::ReleaseStallsNow(&shared); });
  side.emplace_back(Sampler, std::ref(target), std::cref(c), &shared, t0, &live,
                    &r.samples);
  std::thread timer;
  if (c.ops == 0) {
    timer = std::thread([&] {
      std::unique_lock<std::mutex> l(shared.mu);
      shared.cv.wait_until(l, At(t0, c.seconds), [&] { return shared.stopping; });
      shared.stop.store(true, std::memory_order_release);  // pairs with workers
      shared.stopping = true;
      l.unlock();
      shared.cv.notify_all();
    });
  }
  for (std::thread& t : threads) t.join();
  r.run_seconds = Since(t0);
  r.run_cpu_seconds = bench::ProcessCpuSeconds() - cpu0;
  shared.stop.store(true, std::memory_order_release);
  SetFlag(&shared, &Shared::stopping);
  if (timer.joinable()) timer.join();
  const Sample last = TakeSample(target, Since(t0), shared.ops.load(), 0, 0);
  SetFlag(&shared, &Shared::finished);
  for (std::thread& t : side) t.join();
  r.notes.insert(r.notes.end(), shared.notes.begin(), shared.notes.end());
  if (absl::Status s = Summarize(outs, first, last, r); !s.ok()) return s;
  return r;
}

}  // namespace mvkv::ycsb
