#include "bench/ycsb/pipelined_worker.h"

#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace mvkv::ycsb {
namespace {

using Clock = std::chrono::steady_clock;

// The operations in flight of one worker and what they add up to.
struct Window {
  explicit Window(int d) : depth(d) {}
  const int depth;
  absl::Mutex mu;
  int in_flight ABSL_GUARDED_BY(mu) = 0;
  bool Room() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return in_flight < depth;
  }
  bool Empty() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return in_flight == 0;
  }
};

bool Pipelinable(OpType type) {
  return type == OpType::kRead || type == OpType::kUpdate ||
         type == OpType::kInsert;
}

// A scan or a read-modify-write, one at a time (they need a transaction or
// a stream of their own).
absl::Status RunAlone(Session& s, const Op& op, const WorkloadSpec& spec,
                      OpGenerator& gen) {
  const std::string key = KeyName(op.keynum, spec.ordered_inserts);
  if (op.type == OpType::kScan) return s.Scan(key, op.scan_length);
  return s.ReadModifyWrite(key, [&](const std::string& old) {
    return ModifyRecord(old, spec, gen.rng());
  });
}

}  // namespace

std::string RunLabel(const std::string& target_name, const RunConfig& c) {
  if (c.pipeline <= 1) return target_name;
  return absl::StrCat(target_name, "/", PipelineViaName(c.pipeline_via), " x",
                      c.pipeline);
}

void RunPipelinedWorker(Target& target, const RunConfig& c, int index,
                        InsertCounter* inserts, const std::atomic<bool>& stop,
                        std::atomic<uint64_t>& progress, Clock::time_point t0,
                        const PipelinedOut& out) {
  absl::StatusOr<std::unique_ptr<AsyncSession>> session =
      target.NewAsyncSession(c.pipeline_via);
  if (!session.ok()) {
    *out.fatal = session.status();
    return;
  }
  AsyncSession& async = **session;
  std::unique_ptr<Session> alone;  // scans and RMW, opened when first needed
  Window w(c.pipeline);
  // Records one finished operation (any thread).
  auto finish = [&](OpType type, Clock::time_point start,
                    const absl::Status& st) {
    const uint64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            Clock::now() - start).count();
    absl::MutexLock l(&w.mu);
    const int t = static_cast<int>(type);
    out.latency[t].Record(ns);
    out.live->Done(ns, !st.ok());
    if (!st.ok()) ++out.errors[t];
    ++*out.ops;
    progress.fetch_add(1, std::memory_order_relaxed);
  };
  // The same draw of operations as the one-at-a-time worker.
  OpGenerator gen(c.spec, inserts, c.seed * 1000003 + index);
  const uint64_t quota =
      c.ops == 0 ? UINT64_MAX
                 : c.ops / c.threads + (index < static_cast<int>(c.ops % c.threads));
  const double interval_s = c.rate > 0 ? c.threads / c.rate : 0;
  for (uint64_t i = 0; i < quota; ++i) {
    if (stop.load(std::memory_order_acquire)) break;
    bool full;
    {
      absl::MutexLock l(&w.mu);
      full = !w.Room();
    }
    if (full) {  // send what was started, then wait for room
      async.Flush();
      absl::MutexLock l(&w.mu);
      w.mu.Await(absl::Condition(&w, &Window::Room));
    }
    Clock::time_point start = Clock::now();
    if (interval_s > 0) {
      // Coordinated omission: latency counts from the intended start.
      const Clock::time_point intended =
          t0 + std::chrono::duration_cast<Clock::duration>(
                   std::chrono::duration<double>(i * interval_s));
      if (intended > start) {
        async.Flush();
        std::this_thread::sleep_until(intended);
      }
      start = intended;
    }
    const Op op = gen.Next();
    const std::string key = KeyName(op.keynum, c.spec.ordered_inserts);
    if (!Pipelinable(op.type)) {
      async.Flush();
      if (alone == nullptr) {
        absl::StatusOr<std::unique_ptr<Session>> s = target.NewSession();
        if (!s.ok()) {
          *out.fatal = s.status();
          break;
        }
        alone = *std::move(s);
      }
      finish(op.type, start, RunAlone(*alone, op, c.spec, gen));
      continue;
    }
    {
      absl::MutexLock l(&w.mu);
      ++w.in_flight;
      out.live->Start(
          std::chrono::duration_cast<std::chrono::nanoseconds>(start - t0)
              .count() + 1);
    }
    auto done = [&, type = op.type, keynum = op.keynum,
                 start](absl::Status st) {
      if (type == OpType::kInsert) inserts->Acknowledge(keynum);
      finish(type, start, st);
      absl::MutexLock l(&w.mu);
      --w.in_flight;
    };
    if (op.type == OpType::kRead) {
      async.StartRead(key, std::move(done));
    } else {
      async.StartWrite(key, BuildRecord(c.spec, gen.rng()), std::move(done));
    }
  }
  async.Flush();
  absl::MutexLock l(&w.mu);
  w.mu.Await(absl::Condition(&w, &Window::Empty));
}

}  // namespace mvkv::ycsb
