// Commit latency with and without snapshot releases (see release.h).
#include "bench/engine/release.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/engine/bench_util.h"
#include "mvcc/db.h"

namespace mvkv::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(const std::vector<int64_t>& sorted_ns, double q) {
  if (sorted_ns.empty()) return 0;
  const auto at = static_cast<std::size_t>(q * static_cast<double>(sorted_ns.size()));
  const std::size_t i = std::min(sorted_ns.size() - 1, at);
  return sorted_ns[i] / 1e3;
}

// The holder: a snapshot every `period`, held for `hold`.
void HoldSnapshots(Database& db, const std::vector<std::string>& keys, absl::Duration period,
                   absl::Duration hold, const std::atomic<bool>& stop) {
  const auto period_ns = std::chrono::nanoseconds(absl::ToInt64Nanoseconds(period));
  const auto hold_ns = std::chrono::nanoseconds(absl::ToInt64Nanoseconds(hold));
  auto next = Clock::now();
  std::size_t k = 0;
  // Bound: the run's length (stop), one snapshot per period.
  while (!stop.load(std::memory_order_relaxed)) {
    auto txn = db.Begin();
    (void)txn->Get(keys[k++ % keys.size()]);  // registers the snapshot
    std::this_thread::sleep_until(Clock::now() + hold_ns);  // the stall itself
    (void)txn->Get(keys[k++ % keys.size()]);  // fails once released
    txn.reset();
    next += period_ns;
    std::this_thread::sleep_until(next);  // pacing, not a wait for a state
  }
}

ReleaseRun RunVariant(const ReleaseOptions& o, bool releasing,
                      const std::vector<std::string>& keys) {
  Options options;
  options.max_snapshot_age = o.max_age;
  auto db = OpenOrDie(options);
  const std::string value(8, 'v');
  Load(*db, o.keys, value);
  std::vector<int64_t> latency_ns;
  latency_ns.reserve(1 << 22);
  std::atomic<bool> stop{false};
  std::thread holder(HoldSnapshots, std::ref(*db), std::cref(keys), o.period,
                     releasing ? o.max_age * 2 : o.max_age / 2, std::cref(stop));
  std::mt19937_64 rng(11);
  // Open loop: Put i is due at start + i / rate, and its latency runs from
  // then (a stall delays every Put due meanwhile, not just the one it hit).
  const auto gap = std::chrono::duration<double>(1.0 / o.rate);
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(o.seconds);
  // Bound: the run's length.
  for (int64_t i = 0;; ++i) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(gap * i);
    if (due >= end) break;
    while (Clock::now() < due) std::this_thread::yield();  // pacing
    (void)db->Put(keys[rng() % keys.size()], value);
    latency_ns.push_back(std::chrono::nanoseconds(Clock::now() - due).count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stop.store(true);
  holder.join();
  ReleaseRun run;
  run.releasing = releasing;
  run.commits = static_cast<int64_t>(latency_ns.size());
  run.seconds = seconds;
  run.releases = static_cast<int64_t>(db->GetStats().aborts_snapshot_too_old);
  std::sort(latency_ns.begin(), latency_ns.end());
  run.p50_us = Percentile(latency_ns, 0.5);
  run.p99_us = Percentile(latency_ns, 0.99);
  run.p999_us = Percentile(latency_ns, 0.999);
  run.max_us = latency_ns.empty() ? 0 : latency_ns.back() / 1e3;
  return run;
}

}  // namespace

absl::StatusOr<std::vector<ReleaseRun>> RunRelease(const ReleaseOptions& o) {
  if (o.keys < 1 || o.seconds <= 0 || o.rate <= 0 || o.rounds < 1 ||
      o.max_age <= absl::ZeroDuration() || o.period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "release needs keys >= 1, seconds > 0, rate > 0, rounds >= 1 and positive durations; "
        "got keys=",
        o.keys, " seconds=", o.seconds, " rate=", o.rate, " rounds=", o.rounds, " max_age=",
        absl::FormatDuration(o.max_age), " period=", absl::FormatDuration(o.period)));
  }
  std::vector<std::string> keys;
  keys.reserve(o.keys);
  for (int64_t i = 0; i < o.keys; ++i) keys.push_back(Key(i));
  std::vector<ReleaseRun> runs;
  for (int round = 0; round < o.rounds; ++round) {
    runs.push_back(RunVariant(o, /*releasing=*/false, keys));
    runs.push_back(RunVariant(o, /*releasing=*/true, keys));
  }
  return runs;
}

}  // namespace mvkv::bench
