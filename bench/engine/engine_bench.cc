// engine_bench: micro-benchmarks of the embedded engine (mvcc/).
//
//   bazel run --config=opt //bench:engine_bench -- --json=/tmp/engine.json
//
// Scenarios (--scenarios, comma-separated):
//   put      one client, autocommit Put of distinct keys
//   put_contended  --threads clients, autocommit Puts of their own
//            distinct keys, contending for the writer role
//   put_async  one client, PutAsync of distinct keys with at most
//            --put_async_window commits in flight (the server's pattern)
//   get      point reads of existing keys at --keys keys, --threads threads:
//            --get_rounds rounds of a Get pass then a MultiGet pass
//            (--multiget_batch keys per call), with the ratio
//   lever    the Lever mix (defined in bench/engine/lever.h and --help):
//            --lever_ops operations, 94% read, 2% insert, 1% remove, 3%
//            update over --lever_keys keys (half loaded), on --threads
//            threads; on mvkv every one its own transaction, then the same
//            stream on libcuckoo and oneTBB's concurrent_hash_map
//            (--lever_targets), with mvkv's rate as a ratio to each
//   release  commit latency (p50/p99/p99.9 of autocommit Puts) while the
//            engine releases snapshots older than max_snapshot_age, against
//            the same load without releases (bench/engine/release.h)
// Output: a table on stdout and, with --json, one JSON row per scenario
// (lever: one per target; release: one per variant and round).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/engine/bench_util.h"
#include "bench/engine/lever.h"
#include "bench/engine/release.h"
#include "flags/usage.h"
#include "mvcc/db.h"

ABSL_FLAG(std::string, scenarios, "put,get,lever",
          "Comma-separated scenarios: put, put_contended, put_async, get, lever, release.");
ABSL_FLAG(std::string, keys, "1000000",
          "Comma-separated key counts for the get scenario.");
ABSL_FLAG(int, threads, 2, "Client threads for get, lever and put_contended.");
ABSL_FLAG(int64_t, put_ops, 2000000, "Autocommit puts in the put scenario.");
ABSL_FLAG(int, put_async_window, 256,
          "Async commits in flight at most in the put_async scenario.");
ABSL_FLAG(int64_t, get_ops, 20000000, "Point reads per get run (all threads).");
ABSL_FLAG(int, multiget_batch, 32,
          "Keys per Database::MultiGet call in the get scenario's multiget passes; 1 = "
          "Get passes only.");
ABSL_FLAG(int, get_rounds, 2,
          "Rounds of the get scenario, each a Get pass then a MultiGet pass on the same "
          "database.");
ABSL_FLAG(int64_t, lever_ops, 25165824, "Operations in the lever scenario.");
ABSL_FLAG(int64_t, lever_keys, 1 << 20, "Key range of the lever scenario.");
ABSL_FLAG(std::string, lever_targets, "mvkv,libcuckoo,tbb",
          "Comma-separated targets of the lever scenario, run one after the other on the "
          "same stream: mvkv, libcuckoo, tbb.");
ABSL_FLAG(int64_t, release_keys, 1000000, "Keys loaded in the release scenario.");
ABSL_FLAG(double, release_seconds, 5, "Seconds per variant and round of the release scenario.");
ABSL_FLAG(double, release_rate, 20000,
          "Puts per second (open loop) of the release scenario's committer.");
ABSL_FLAG(int, release_max_age_ms, 50,
          "max_snapshot_age of the release scenario; its held snapshots outlive it (twice "
          "over) or not (half of it).");
ABSL_FLAG(int, release_period_ms, 1000,
          "One held snapshot per this period in the release scenario.");
ABSL_FLAG(int, release_rounds, 2, "Rounds of (without, with) releases in the release scenario.");
ABSL_FLAG(int, value_bytes, 8, "Value size.");
ABSL_FLAG(std::string, json, "", "Write JSON rows here.");

namespace mvkv::bench {
namespace {

struct Row {
  std::string scenario;
  int64_t keys = 0;
  int threads = 0;
  int64_t ops = 0;
  double seconds = 0;
  double ops_per_s() const { return ops / seconds; }
  std::string extra;  // JSON members, already formatted
};

Row RunPut() {
  auto db = OpenOrDie();
  const int64_t ops = absl::GetFlag(FLAGS_put_ops);
  const std::string value(absl::GetFlag(FLAGS_value_bytes), 'v');
  std::vector<std::string> keys;
  keys.reserve(ops);
  for (int64_t i = 0; i < ops; ++i) keys.push_back(Key(i));
  const double secs = Timed(1, [&](int) {
    for (int64_t i = 0; i < ops; ++i) {
      if (!db->Put(keys[i], value).ok()) std::abort();
    }
  });
  const Stats s = db->GetStats();
  return {"put", ops, 1, ops, secs,
          absl::StrCat("\"group_commits\": ", s.pipeline_batches)};
}

// --threads clients, each an autocommit Put loop over its own keys: the
// writer role is contended (the commit path of YCSB-A without the
// harness's value building).
Row RunPutContended() {
  auto db = OpenOrDie();
  const int threads = absl::GetFlag(FLAGS_threads);
  const int64_t per_thread = absl::GetFlag(FLAGS_put_ops) / threads;
  const std::string value(absl::GetFlag(FLAGS_value_bytes), 'v');
  std::vector<std::string> keys;
  keys.reserve(per_thread * threads);
  for (int64_t i = 0; i < per_thread * threads; ++i) keys.push_back(Key(i));
  const double secs = Timed(threads, [&](int t) {
    for (int64_t i = t; i < per_thread * threads; i += threads) {
      if (!db->Put(keys[i], value).ok()) std::abort();
    }
  });
  const Stats s = db->GetStats();
  return {"put_contended", per_thread * threads, threads, per_thread * threads, secs,
          absl::StrCat("\"group_commits\": ", s.pipeline_batches)};
}

Row RunPutAsync() {
  auto db = OpenOrDie();
  const int64_t ops = absl::GetFlag(FLAGS_put_ops);
  const int window = absl::GetFlag(FLAGS_put_async_window);
  const std::string value(absl::GetFlag(FLAGS_value_bytes), 'v');
  std::vector<std::string> keys;
  keys.reserve(ops);
  for (int64_t i = 0; i < ops; ++i) keys.push_back(Key(i));
  // Completions count down on the pipeline's thread; the client waits only
  // when the window is full.
  std::atomic<int64_t> done{0};
  const double secs = Timed(1, [&](int) {
    for (int64_t i = 0; i < ops; ++i) {
      while (i - done.load(std::memory_order_acquire) >= window) {
        std::this_thread::yield();
      }
      db->PutAsync(keys[i], value, [&done](absl::Status s) {
        if (!s.ok()) std::abort();
        done.fetch_add(1, std::memory_order_release);
      });
    }
    while (done.load(std::memory_order_acquire) < ops) {
      std::this_thread::yield();
    }
  });
  const Stats s = db->GetStats();
  return {"put_async", ops, 1, ops, secs,
          absl::StrCat("\"group_commits\": ", s.pipeline_batches,
                       ", \"window\": ", window)};
}

// One pass of the get scenario: --get_ops random point reads of loaded
// keys on --threads threads, one Get per read (batch == 1) or MultiGet
// calls of `batch` keys.
Row RunGetPass(Database& db, const std::vector<std::string>& keys, int batch, int round) {
  const int threads = absl::GetFlag(FLAGS_threads);
  const int64_t calls = absl::GetFlag(FLAGS_get_ops) / threads / batch;
  const int64_t nkeys = static_cast<int64_t>(keys.size());
  std::atomic<int64_t> found{0};
  const double secs = Timed(threads, [&](int t) {
    std::mt19937_64 rng(t + 1 + 1000 * round);
    int64_t hits = 0;
    std::vector<std::string_view> group(batch);
    for (int64_t c = 0; c < calls; ++c) {
      if (batch == 1) {
        hits += db.Get(keys[rng() % nkeys]).ok();
        continue;
      }
      for (std::string_view& k : group) k = keys[rng() % nkeys];
      for (const auto& r : db.MultiGet(group)) hits += r.ok();
    }
    found.fetch_add(hits);
  });
  const int64_t reads = calls * batch * threads;
  if (found.load() != reads) {
    std::fprintf(stderr, "get: %lld of %lld reads missed\n",
                 static_cast<long long>(reads - found.load()), static_cast<long long>(reads));
    std::exit(1);
  }
  Row row{batch == 1 ? "get" : "multiget", nkeys, threads, reads, secs, ""};
  row.extra = absl::StrFormat("\"ops_per_s_per_thread\": %.0f, \"batch\": %d, \"round\": %d",
                              row.ops_per_s() / threads, batch, round);
  return row;
}

// --get_rounds rounds of (Get, MultiGet) over the same loaded database;
// each multiget row carries its rate as a ratio to the get row before it.
std::vector<Row> RunGet(int64_t nkeys) {
  auto db = OpenOrDie();
  const std::string value(absl::GetFlag(FLAGS_value_bytes), 'v');
  Load(*db, nkeys, value);
  // Keys are formatted up front: the loop measures the engine, not StrFormat.
  std::vector<std::string> keys;
  keys.reserve(nkeys);
  for (int64_t i = 0; i < nkeys; ++i) keys.push_back(Key(i));
  const int batch = absl::GetFlag(FLAGS_multiget_batch);
  std::vector<Row> rows;
  for (int round = 0; round < absl::GetFlag(FLAGS_get_rounds); ++round) {
    rows.push_back(RunGetPass(*db, keys, 1, round));
    if (batch <= 1) continue;
    const double get_rate = rows.back().ops_per_s();
    rows.push_back(RunGetPass(*db, keys, batch, round));
    absl::StrAppend(&rows.back().extra,
                    absl::StrFormat(", \"multiget_vs_get\": %.3f",
                                    rows.back().ops_per_s() / get_rate));
  }
  return rows;
}

// One row per target; mvkv's row carries its rate as a ratio to each hash
// map's, and each hash map's row the inverse.
absl::StatusOr<std::vector<Row>> RunLeverRows() {
  LeverOptions o;
  o.ops = absl::GetFlag(FLAGS_lever_ops);
  o.keys = absl::GetFlag(FLAGS_lever_keys);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.value = std::string(absl::GetFlag(FLAGS_value_bytes), 'v');
  const std::vector<std::string> targets =
      absl::StrSplit(absl::GetFlag(FLAGS_lever_targets), ',', absl::SkipEmpty());
  absl::StatusOr<std::vector<LeverRun>> runs = RunLever(o, targets);
  if (!runs.ok()) return runs.status();
  double mvkv_rate = 0, mvkv_cpu_rate = 0;
  for (const LeverRun& r : *runs) {
    if (r.target != "mvkv") continue;
    mvkv_rate = r.ops_per_s();
    mvkv_cpu_rate = r.ops_per_cpu_s();
  }
  std::vector<Row> rows;
  for (const LeverRun& r : *runs) {
    Row row{r.target == "mvkv" ? "lever" : "lever_" + r.target, o.keys, o.threads, r.ops,
            r.seconds, ""};
    row.extra = absl::StrCat("\"target\": \"", r.target, "\", \"reads\": ", r.reads,
                             ", \"read_hits\": ", r.read_hits, ", \"writes\": ", r.writes,
                             absl::StrFormat(", \"cpu_s\": %.3f, \"ops_per_cpu_s\": %.0f",
                                             r.cpu_seconds, r.ops_per_cpu_s()));
    if (r.target == "mvkv") {
      for (const LeverRun& peer : *runs) {
        if (peer.target == "mvkv") continue;
        absl::StrAppend(&row.extra,
                        absl::StrFormat(", \"mvkv_vs_%s\": %.3f, \"mvkv_vs_%s_cpu\": %.3f",
                                        peer.target, mvkv_rate / peer.ops_per_s(), peer.target,
                                        mvkv_cpu_rate / peer.ops_per_cpu_s()));
      }
    } else if (mvkv_rate > 0) {
      absl::StrAppend(&row.extra,
                      absl::StrFormat(", \"mvkv_vs_this\": %.3f", mvkv_rate / r.ops_per_s()));
    }
    rows.push_back(row);
  }
  return rows;
}

// One row per variant and round; each "with" row carries its p99.9 as a
// ratio to the "without" row just before it.
absl::StatusOr<std::vector<Row>> RunReleaseRows() {
  ReleaseOptions o;
  o.keys = absl::GetFlag(FLAGS_release_keys);
  o.seconds = absl::GetFlag(FLAGS_release_seconds);
  o.rate = absl::GetFlag(FLAGS_release_rate);
  o.max_age = absl::Milliseconds(absl::GetFlag(FLAGS_release_max_age_ms));
  o.period = absl::Milliseconds(absl::GetFlag(FLAGS_release_period_ms));
  o.rounds = absl::GetFlag(FLAGS_release_rounds);
  absl::StatusOr<std::vector<ReleaseRun>> runs = RunRelease(o);
  if (!runs.ok()) return runs.status();
  std::vector<Row> rows;
  double without_p999 = 0;
  for (const ReleaseRun& r : *runs) {
    Row row{r.releasing ? "release_with" : "release_without", o.keys, 1, r.commits, r.seconds,
            ""};
    row.extra = absl::StrFormat(
        "\"releases\": %d, \"p50_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, "
        "\"max_us\": %.0f",
        r.releases, r.p50_us, r.p99_us, r.p999_us, r.max_us);
    if (!r.releasing) without_p999 = r.p999_us;
    if (r.releasing && without_p999 > 0) {
      absl::StrAppend(&row.extra,
                      absl::StrFormat(", \"p999_vs_without\": %.2f", r.p999_us / without_p999));
    }
    rows.push_back(row);
  }
  return rows;
}

// Appends a scenario's rows, or prints its error and returns false.
bool Append(const char* scenario, absl::StatusOr<std::vector<Row>> more, std::vector<Row>& rows) {
  if (!more.ok()) {
    std::fprintf(stderr, "%s: %s\n", scenario, more.status().ToString().c_str());
    return false;
  }
  rows.insert(rows.end(), more->begin(), more->end());
  return true;
}

int Main() {
  std::vector<Row> rows;
  std::size_t printed = 0;
  for (absl::string_view scenario :
       absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',')) {
    if (scenario == "put") {
      rows.push_back(RunPut());
    } else if (scenario == "put_contended") {
      rows.push_back(RunPutContended());
    } else if (scenario == "put_async") {
      rows.push_back(RunPutAsync());
    } else if (scenario == "get") {
      for (absl::string_view k : absl::StrSplit(absl::GetFlag(FLAGS_keys), ',')) {
        int64_t n = 0;
        if (!absl::SimpleAtoi(k, &n) || n <= 0) {
          std::fprintf(stderr, "--keys: bad count \"%s\"\n", std::string(k).c_str());
          return 2;
        }
        std::vector<Row> more = RunGet(n);
        rows.insert(rows.end(), more.begin(), more.end());
      }
    } else if (scenario == "lever") {
      if (!Append("lever", RunLeverRows(), rows)) return 2;
    } else if (scenario == "release") {
      if (!Append("release", RunReleaseRows(), rows)) return 2;
    } else {
      std::fprintf(stderr,
                   "unknown scenario \"%s\" (put, put_contended, put_async, get, lever, release)\n",
                   std::string(scenario).c_str());
      return 2;
    }
    // One scenario may add several rows (get: one per key count, lever: one
    // per target).
    for (std::size_t i = printed; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::printf("%-15s keys=%-9lld threads=%d ops=%-9lld %.3f s  %.0f ops/s  %s\n",
                  r.scenario.c_str(), static_cast<long long>(r.keys), r.threads,
                  static_cast<long long>(r.ops), r.seconds, r.ops_per_s(),
                  r.extra.c_str());
    }
    printed = rows.size();
    std::fflush(stdout);
  }
  const std::string path = absl::GetFlag(FLAGS_json);
  if (!path.empty()) {
    std::ofstream out(path);
    out << "[\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      out << absl::StrFormat(
          "  {\"scenario\": \"%s\", \"keys\": %d, \"threads\": %d, "
          "\"ops\": %d, \"seconds\": %.4f, \"ops_per_s\": %.0f%s%s}%s\n",
          r.scenario, r.keys, r.threads, r.ops, r.seconds, r.ops_per_s(),
          r.extra.empty() ? "" : ", ", r.extra, i + 1 < rows.size() ? "," : "");
    }
    out << "]\n";
  }
  return 0;
}

}  // namespace
}  // namespace mvkv::bench

int main(int argc, char** argv) {
  mvkv::flags::SetUsage(
      "engine_bench: embedded engine micro-benchmarks (put, put_contended, put_async, get, lever,\n"
      "release).\n\n"
      "The Lever mix (scenario lever): the read-heavy mix of the bustle harness that the Lever\n"
      "crate's README numbers come from: 94% read, 2% insert, 1% remove, 3% update, "
      "--lever_ops\n"
      "operations (default 0.75 x 2^25 = 25,165,824) split evenly over --threads threads.\n"
      "Keys are \"user%012u\" of i in [0, --lever_keys), the lower half loaded first. Thread t\n"
      "draws x from std::mt19937_64 seeded t + 7; key (x >> 8) mod --lever_keys; x mod 100 picks\n"
      "0-93 read, 94-95 insert, 96 remove, 97-99 update (insert and update are upserts).\n"
      "On mvkv every operation is its own transaction (Get, Put, Delete); the same stream then\n"
      "runs on libcuckoo's cuckoohash_map and oneTBB's concurrent_hash_map (--lever_targets).");
  absl::ParseCommandLine(argc, argv);
  return mvkv::bench::Main();
}
