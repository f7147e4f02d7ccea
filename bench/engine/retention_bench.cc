// retention_bench: does version memory stay bounded while a transaction
// stalls? Runs a write-heavy YCSB-A-like load (50% read, 50% update, uniform
// keys) twice in one process — without and with one transaction that opens
// a snapshot at --stall_at and holds it to the end — and samples, every
// --sample_ms: heap in use (glibc mallinfo2), RSS, versions, retained
// versions/bytes (account 2) and reclaim backlog (account 1).
//
//   bazel run --config=opt //bench:retention_bench --
//       --seconds=10 --csv=/tmp/retention.csv --plot=/tmp/retention.png
//
// Summary: heap peak with the stall / without, throughput with / without.
// Targets (issue 6): heap ratio <= 1.5, throughput ratio >= 0.9.
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "flags/usage.h"
#include "mvcc/db.h"

ABSL_FLAG(int, keys, 100000, "Records loaded before the run.");
ABSL_FLAG(int, value_bytes, 100, "Value size.");
ABSL_FLAG(int, threads, 2, "Client threads.");
ABSL_FLAG(double, seconds, 10, "Run length of each variant.");
ABSL_FLAG(double, stall_at, 1, "When the stalled transaction opens (s).");
ABSL_FLAG(int, sample_ms, 100, "Sampling period.");
ABSL_FLAG(std::string, csv, "", "Timeline CSV (both variants).");
ABSL_FLAG(std::string, plot, "", "PNG plot of the timeline (needs gnuplot).");
ABSL_FLAG(std::string, json, "", "Summary JSON.");

namespace mvkv::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
  double t = 0;
  int64_t ops = 0;
  uint64_t heap = 0, rss = 0, versions = 0, retained_versions = 0,
           retained_bytes = 0, unreclaimed = 0;
};

uint64_t HeapInUse() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

uint64_t Rss() {
  long pages = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<uint64_t>(resident) * sysconf(_SC_PAGESIZE);
}

struct Result {
  std::vector<Sample> samples;
  int64_t ops = 0;
  double seconds = 0;
  uint64_t heap_peak = 0;
};

Result RunVariant(bool stall) {
  auto db = std::move(*Database::Open());
  const int keys = absl::GetFlag(FLAGS_keys);
  std::vector<std::string> names;
  for (int i = 0; i < keys; ++i) names.push_back(absl::StrFormat("user%010d", i));
  const std::string value(absl::GetFlag(FLAGS_value_bytes), 'v');
  for (int base = 0; base < keys; base += 1000) {
    auto txn = db->Begin(IsolationLevel::kReadCommitted);
    for (int i = base; i < std::min(keys, base + 1000); ++i) {
      (void)txn->Put(names[i], value);
    }
    if (!txn->Commit().ok()) std::abort();
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> ops{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < absl::GetFlag(FLAGS_threads); ++t) {
    clients.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      std::string v = value;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 64; ++i) {
          const uint64_t x = rng();
          const std::string& key = names[(x >> 1) % keys];
          if (x & 1) {
            v[0] = static_cast<char>('a' + x % 26);
            if (!db->Put(key, v).ok()) std::abort();
          } else {
            (void)db->Get(key);
          }
        }
        ops.fetch_add(64, std::memory_order_relaxed);
      }
    });
  }

  Result result;
  std::unique_ptr<Txn> stalled;
  const auto start = Clock::now();
  const double total = absl::GetFlag(FLAGS_seconds);
  const auto period = std::chrono::milliseconds(absl::GetFlag(FLAGS_sample_ms));
  for (auto next = start + period;; next += period) {
    std::this_thread::sleep_until(next);
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    if (stall && stalled == nullptr && t >= absl::GetFlag(FLAGS_stall_at)) {
      stalled = db->Begin();
      (void)stalled->Get(names[0]);  // holds its snapshot from here on
    }
    const Stats s = db->GetStats();
    Sample sample{t, ops.load(), HeapInUse(), Rss(), s.versions,
                  s.retained_versions, s.retained_bytes,
                  s.reclaim_unreclaimed_objects};
    result.heap_peak = std::max(result.heap_peak, sample.heap);
    result.samples.push_back(sample);
    if (t >= total) break;
  }
  stop = true;
  for (auto& c : clients) c.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.ops = ops.load();
  return result;
}

void WriteCsv(const std::string& path, const Result& a, const Result& b) {
  std::ofstream out(path);
  out << "variant,t_s,ops,heap_bytes,rss_bytes,versions,retained_versions,"
         "retained_bytes,reclaim_unreclaimed\n";
  for (const auto* r : {&a, &b}) {
    for (const Sample& s : r->samples) {
      out << absl::StrFormat("%s,%.3f,%d,%d,%d,%d,%d,%d,%d\n",
                             r == &a ? "no_stall" : "stall", s.t, s.ops, s.heap,
                             s.rss, s.versions, s.retained_versions,
                             s.retained_bytes, s.unreclaimed);
    }
  }
}

void Plot(const std::string& csv, const std::string& png, double stall_at) {
  // The script goes to a file: no shell quoting of gnuplot's $1.
  const std::string script_path = png + ".gp";
  std::ofstream(script_path) << absl::StrFormat(
      "set terminal png size 1000,600\n"
      "set output '%s'\n"
      "set datafile separator ','\n"
      "set title 'mvkv: heap in use under a write-heavy load; one transaction "
      "stalled from t=%.1fs'\n"
      "set xlabel 'seconds'\nset ylabel 'heap in use (MiB)'\n"
      "set y2label 'retained versions'\nset y2tics\nset ytics nomirror\n"
      "set key left top\n"
      "set arrow from %.1f, graph 0 to %.1f, graph 1 nohead dt 2\n"
      "plot '%s' using (strcol(1) eq 'no_stall' ? $2 : 1/0):($4/1048576) "
      "with lines lw 2 title 'heap, no stall', \\\n"
      "  '' using (strcol(1) eq 'stall' ? $2 : 1/0):($4/1048576) "
      "with lines lw 2 title 'heap, stalled txn', \\\n"
      "  '' using (strcol(1) eq 'stall' ? $2 : 1/0):7 axes x1y2 "
      "with lines dt 3 title 'retained versions, stalled txn'\n",
      png, stall_at, stall_at, stall_at, csv);
  const std::string cmd = "gnuplot '" + script_path + "'";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "gnuplot failed (script %s); is gnuplot-nox installed?\n",
                 script_path.c_str());
  }
}

int Main() {
  std::fprintf(stderr, "running without stall...\n");
  const Result base = RunVariant(false);
  std::fprintf(stderr, "running with a stalled transaction...\n");
  const Result stalled = RunVariant(true);
  const double base_rate = base.ops / base.seconds;
  const double stall_rate = stalled.ops / stalled.seconds;
  const double heap_ratio =
      static_cast<double>(stalled.heap_peak) / static_cast<double>(base.heap_peak);
  const Sample& last = stalled.samples.back();
  std::printf("variant    ops/s       heap_peak_MiB  retained_versions_end\n");
  std::printf("no_stall   %-10.0f  %-13.1f  %llu\n", base_rate,
              base.heap_peak / 1048576.0,
              static_cast<unsigned long long>(base.samples.back().retained_versions));
  std::printf("stall      %-10.0f  %-13.1f  %llu\n", stall_rate,
              stalled.heap_peak / 1048576.0,
              static_cast<unsigned long long>(last.retained_versions));
  std::printf("heap peak ratio (stall / no stall): %.3f (target <= 1.5)\n",
              heap_ratio);
  std::printf("throughput ratio (stall / no stall): %.3f (target >= 0.9)\n",
              stall_rate / base_rate);
  const std::string csv = absl::GetFlag(FLAGS_csv);
  if (!csv.empty()) WriteCsv(csv, base, stalled);
  const std::string png = absl::GetFlag(FLAGS_plot);
  if (!png.empty() && !csv.empty()) Plot(csv, png, absl::GetFlag(FLAGS_stall_at));
  const std::string json = absl::GetFlag(FLAGS_json);
  if (!json.empty()) {
    std::ofstream(json) << absl::StrFormat(
        "{\"no_stall_ops_per_s\": %.0f, \"stall_ops_per_s\": %.0f, "
        "\"no_stall_heap_peak_bytes\": %d, \"stall_heap_peak_bytes\": %d, "
        "\"heap_peak_ratio\": %.4f, \"throughput_ratio\": %.4f, "
        "\"stall_retained_versions_end\": %d}\n",
        base_rate, stall_rate, base.heap_peak, stalled.heap_peak, heap_ratio,
        stall_rate / base_rate, last.retained_versions);
  }
  return 0;
}

}  // namespace
}  // namespace mvkv::bench

int main(int argc, char** argv) {
  mvkv::flags::SetUsage(
      "retention_bench: heap and retained versions over time, with and "
      "without a stalled transaction.");
  absl::ParseCommandLine(argc, argv);
  return mvkv::bench::Main();
}
