// reclaim_bench: throughput and unreclaimed memory of reclamation schemes
// on a Harris–Michael list and a Michael hash map, with an optional stalled
// thread. Peers: liburcu (memb, call_rcu; over reclaim/'s own structures via
// bench/reclaim/urcu_domain.h), xenium EBR and hazard pointers (xenium's own
// list/hash map), libcds HP (libcds's MichaelList/MichaelHashSet).
//
//   bazel run --config=opt //bench:reclaim_bench --
//     --schemes=crystalline,ebr,urcu,xenium_ebr,xenium_hp,cds_hp
//     --structure=hashmap,list --mix=read,write --threads=1,2,4,8
//     --stall=0,1 --seconds=1 --json=/tmp/reclaim.json
//   bazel run --config=opt //bench:reclaim_bench -- --stall_timeline=2,10 ...
//
// Each configuration gets --repeats throughput runs per scheme (no sampling,
// no counting instrumentation), interleaved across schemes, for `mops` (best)
// and `mops_median`, and the same per CPU-second of the workers (`mops_cpu`,
// `mops_cpu_median`: ops over the workers' thread CPU time, which leaves out
// preemption by other processes); then one sampling run (--sample_seconds) that
// reads the unreclaimed count every 5 ms for `unreclaimed_avg_per_thread`
// (average over samples, divided by workers + stalled thread) and
// `unreclaimed_peak` (largest sample).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <latch>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/reclaim/targets.h"
#include "flags/usage.h"

ABSL_FLAG(std::string, schemes, "crystalline,ebr,urcu,xenium_ebr,xenium_hp,cds_hp",
          "Comma-separated schemes: crystalline, ebr, urcu, xenium_ebr, xenium_hp, cds_hp");
ABSL_FLAG(std::string, structure, "hashmap,list", "Comma-separated: hashmap, list");
ABSL_FLAG(std::string, mix, "read,write",
          "Comma-separated: read (90% lookups, 5% inserts, 5% removes), write (50% inserts, "
          "50% removes)");
ABSL_FLAG(std::string, threads, "1,2,4,8", "Comma-separated worker thread counts");
ABSL_FLAG(std::string, stall, "0,1",
          "Comma-separated 0/1: 1 adds one thread that enters a guard, protects a pointer and "
          "parks for the whole run");
ABSL_FLAG(double, seconds, 1.0, "Duration of each throughput run");
ABSL_FLAG(int64_t, ops_per_thread, 0,
          "If > 0: each worker stops after this many operations (rounded up to 64) instead of "
          "after --seconds, so instruction counts (valgrind --tool=callgrind) are repeatable");
ABSL_FLAG(int, repeats, 3,
          "Throughput runs per configuration and scheme, interleaved across schemes with the "
          "order rotated each round (the machines are shared); mops = best run, "
          "mops_median = median");
ABSL_FLAG(double, sample_seconds, 0.5,
          "Duration of each unreclaimed-sampling run (0: skip sampling)");
ABSL_FLAG(int64_t, keys, 100000, "Hash map key range");
ABSL_FLAG(int64_t, prefill, 50000, "Hash map keys inserted before each run");
ABSL_FLAG(int64_t, list_keys, 2000,
          "List key range (a 50k-node list makes every operation a 25k-node walk); prefilled "
          "half full");
ABSL_FLAG(std::string, stall_timeline, "",
          "If set (e.g. 2,10): instead of the sweep, run each scheme/structure/mix/threads "
          "once with a stalled thread for max(t) seconds and record unreclaimed at each t");
ABSL_FLAG(std::string, stall_at, "start",
          "When the stalled thread parks: start (after the prefill: it pins what was alive, "
          "the realistic case) or prefill (before it: only objects born after the stall are "
          "retired, isolating the scheme's own bound)");
ABSL_FLAG(int64_t, guard_iterations, 20000000,
          "Iterations of the guard enter+leave micro-benchmark (0: skip it)");
ABSL_FLAG(std::string, json, "", "Write the rows as a JSON array to this path");
ABSL_FLAG(uint64_t, seed, 42, "Seed of the workload generators");

namespace mvkv::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string scheme, structure, mix;
  int threads = 1;
  bool stalled = false;
  std::uint64_t keys = 0, prefill = 0;
};

std::vector<std::string> List(const std::string& s) {
  return absl::StrSplit(s, ',', absl::SkipEmpty());
}
std::vector<int> Ints(const std::string& s) {
  std::vector<int> out;
  for (const auto& p : List(s)) {
    int v;
    if (absl::SimpleAtoi(p, &v)) out.push_back(v);
  }
  return out;
}
std::vector<double> Doubles(const std::string& s) {
  std::vector<double> out;
  for (const auto& p : List(s)) {
    double v;
    if (absl::SimpleAtod(p, &v)) out.push_back(v);
  }
  return out;
}

std::uint64_t Next(std::uint64_t& x) {  // xorshift64*
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  return x * 0x2545F4914F6CDD1Dull;
}

void Prefill(Target& t, const Config& c) {
  std::uint64_t x = absl::GetFlag(FLAGS_seed) | 1;
  std::uint64_t in = 0;
  while (in < c.prefill) {
    if (t.Insert(Next(x) % c.keys)) ++in;
  }
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void Worker(Target& t, const Config& c, std::uint64_t seed, std::latch& ready,
            const std::atomic<bool>& stop, std::uint64_t& ops, double& cpu_seconds) {
  t.ThreadEnter();
  std::uint64_t x = seed | 1, n = 0;
  const bool read = c.mix == "read";
  const auto limit = static_cast<std::uint64_t>(absl::GetFlag(FLAGS_ops_per_thread));
  ready.count_down();
  const double cpu_start = ThreadCpuSeconds();
  while (!stop.load(std::memory_order_relaxed) && (limit == 0 || n < limit)) {
    for (int i = 0; i < 64; ++i) {
      const std::uint64_t r = Next(x);
      const std::uint64_t k = (r >> 16) % c.keys;
      const unsigned p = static_cast<unsigned>(r % 100);
      if (read && p < 90) {
        t.Contains(k);
      } else if (p < (read ? 95u : 50u)) {
        t.Insert(k);
      } else {
        t.Remove(k);
      }
    }
    n += 64;
  }
  ops = n;
  cpu_seconds = ThreadCpuSeconds() - cpu_start;
  t.ThreadExit();
}

// The stalled thread: parks inside a critical section until `release`.
struct Stall {
  std::latch parked{1}, release{1};
  std::thread thread;
  static void Park(void* arg) {
    auto* s = static_cast<Stall*>(arg);
    s->parked.count_down();
    s->release.wait();
  }
  void Start(Target& t) {
    thread = std::thread([this, &t] {
      t.ThreadEnter();
      if (!t.StallWhile(&Park, this)) parked.count_down();
      t.ThreadExit();
    });
    parked.wait();
  }
  void Stop() {
    release.count_down();
    thread.join();
  }
};

struct RunResult {
  double mops = 0;
  double mops_median = 0;
  // Operations per CPU-second of the workers (ops / their summed thread CPU
  // time): on a shared machine this leaves out the time a worker was not
  // running, which wall-clock throughput cannot.
  double mops_cpu = 0;
  double mops_cpu_median = 0;
  double unreclaimed_avg_per_thread = -1;
  std::int64_t unreclaimed_peak = -1;
  std::vector<std::int64_t> at;  // samples at the requested times
  // Per thread, the average of every sample up to each requested time.
  std::vector<double> avg_per_thread_at;
};

// One run of `seconds`; with `sample`, a sampler reads Unreclaimed() every
// 5 ms, and records it at each time in `marks`.
RunResult Run(const Config& c, double seconds, bool sample, const std::vector<double>& marks) {
  std::unique_ptr<Target> t = MakeTarget(c.scheme, c.structure, sample);
  RunResult res;
  if (!t) return res;
  const bool stall_first = absl::GetFlag(FLAGS_stall_at) == "prefill";
  Stall stall;
  if (c.stalled && stall_first) stall.Start(*t);
  Prefill(*t, c);
  if (c.stalled && !stall_first) stall.Start(*t);
  std::atomic<bool> stop{false};
  std::latch ready(c.threads + 1);
  std::vector<std::uint64_t> ops(c.threads);
  std::vector<double> cpu(c.threads);
  std::vector<std::thread> workers;
  for (int i = 0; i < c.threads; ++i) {
    workers.emplace_back([&, i] {
      Worker(*t, c, absl::GetFlag(FLAGS_seed) * 7919 + i, ready, stop, ops[i], cpu[i]);
    });
  }
  ready.arrive_and_wait();
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  double sum = 0;
  std::int64_t n = 0, peak = -1;
  std::size_t next_mark = 0;
  const bool counted = absl::GetFlag(FLAGS_ops_per_thread) > 0;
  while (!counted && Clock::now() < end) {
    if (!sample) {
      std::this_thread::sleep_until(end);  // timing the run, not hiding a race
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::int64_t u = t->Unreclaimed();
    if (u < 0) break;
    sum += static_cast<double>(u);
    ++n;
    peak = std::max(peak, u);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    while (next_mark < marks.size() && elapsed >= marks[next_mark]) {
      res.at.push_back(u);
      res.avg_per_thread_at.push_back(sum / static_cast<double>(n) / (c.threads + c.stalled));
      ++next_mark;
    }
  }
  if (sample && n > 0 && t->Unreclaimed() >= 0) std::this_thread::sleep_until(end);
  if (!counted) stop.store(true);  // counted workers stop by themselves
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::uint64_t total = 0;
  for (auto o : ops) total += o;
  res.mops = static_cast<double>(total) / elapsed / 1e6;
  double cpu_total = 0;
  for (double x : cpu) cpu_total += x;
  if (cpu_total > 0) res.mops_cpu = static_cast<double>(total) / cpu_total / 1e6;
  if (n > 0) {
    res.unreclaimed_avg_per_thread = sum / static_cast<double>(n) / (c.threads + c.stalled);
    res.unreclaimed_peak = peak;
  }
  if (c.stalled) stall.Stop();
  t->ThreadEnter();  // libcds: the main thread destroys the structure
  t.reset();
  return res;
}

std::string Row(const Config& c, const RunResult& r) {
  std::ostringstream o;
  o << "{\"scheme\":\"" << c.scheme << "\",\"structure\":\"" << c.structure << "\",\"mix\":\""
    << c.mix << "\",\"threads\":" << c.threads << ",\"stalled\":" << (c.stalled ? 1 : 0)
    << ",\"mops\":" << r.mops << ",\"mops_median\":" << r.mops_median
    << ",\"mops_cpu\":" << r.mops_cpu << ",\"mops_cpu_median\":" << r.mops_cpu_median
    << ",\"unreclaimed_avg_per_thread\":" << r.unreclaimed_avg_per_thread
    << ",\"unreclaimed_peak\":" << r.unreclaimed_peak << "}";
  return o.str();
}

Config MakeConfig(const std::string& scheme, const std::string& structure, const std::string& mix,
                  int threads, bool stalled) {
  Config c{scheme, structure, mix, threads, stalled};
  if (structure == "list") {
    c.keys = static_cast<std::uint64_t>(absl::GetFlag(FLAGS_list_keys));
    c.prefill = c.keys / 2;
  } else {
    c.keys = static_cast<std::uint64_t>(absl::GetFlag(FLAGS_keys));
    c.prefill = static_cast<std::uint64_t>(absl::GetFlag(FLAGS_prefill));
  }
  return c;
}

void GuardRows(std::vector<std::string>& rows) {
  const auto iters = static_cast<std::uint64_t>(absl::GetFlag(FLAGS_guard_iterations));
  if (iters == 0) return;
  const int repeats = std::max(1, absl::GetFlag(FLAGS_repeats));
  for (const bool protect : {false, true}) {
    const std::vector<std::string> schemes = {"crystalline", "ebr", "urcu"};
    std::vector<double> best(schemes.size(), 1e30);
    for (int round = 0; round < repeats; ++round) {
      for (std::size_t i = 0; i < schemes.size(); ++i) {
        best[i] = std::min(best[i], GuardCostNs(schemes[i], protect, iters));
      }
    }
    for (std::size_t i = 0; i < schemes.size(); ++i) {
      std::ostringstream o;
      o << "{\"scheme\":\"" << schemes[i] << "\",\"structure\":\"guard\",\"mix\":\""
        << (protect ? "enter_protect_leave" : "enter_leave")
        << "\",\"threads\":1,\"stalled\":0,\"ns_per_op\":" << best[i] << ",\"mops\":" << 1e3 / best[i]
        << ",\"unreclaimed_avg_per_thread\":0,\"unreclaimed_peak\":0}";
      rows.push_back(o.str());
      std::printf("%s\n", rows.back().c_str());
      std::fflush(stdout);
    }
  }
}

void Sweep(std::vector<std::string>& rows) {
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const double sample_seconds = absl::GetFlag(FLAGS_sample_seconds);
  const int repeats = std::max(1, absl::GetFlag(FLAGS_repeats));
  const std::vector<std::string> schemes = List(absl::GetFlag(FLAGS_schemes));
  for (const auto& structure : List(absl::GetFlag(FLAGS_structure))) {
    for (const auto& mix : List(absl::GetFlag(FLAGS_mix))) {
      for (int stalled : Ints(absl::GetFlag(FLAGS_stall))) {
        for (int threads : Ints(absl::GetFlag(FLAGS_threads))) {
          // Interleave the schemes, rotating the order each round.
          std::vector<std::vector<double>> mops(schemes.size()), cpu(schemes.size());
          for (int round = 0; round < repeats; ++round) {
            for (std::size_t j = 0; j < schemes.size(); ++j) {
              const std::size_t i = (j + round) % schemes.size();
              const Config c = MakeConfig(schemes[i], structure, mix, threads, stalled != 0);
              const RunResult run = Run(c, seconds, false, {});
              mops[i].push_back(run.mops);
              cpu[i].push_back(run.mops_cpu);
            }
          }
          for (std::size_t i = 0; i < schemes.size(); ++i) {
            const Config c = MakeConfig(schemes[i], structure, mix, threads, stalled != 0);
            RunResult r;
            std::sort(mops[i].begin(), mops[i].end());
            r.mops = mops[i].back();
            r.mops_median = mops[i][mops[i].size() / 2];
            std::sort(cpu[i].begin(), cpu[i].end());
            r.mops_cpu = cpu[i].back();
            r.mops_cpu_median = cpu[i][cpu[i].size() / 2];
            if (sample_seconds > 0) {
              const RunResult s = Run(c, sample_seconds, true, {});
              r.unreclaimed_avg_per_thread = s.unreclaimed_avg_per_thread;
              r.unreclaimed_peak = s.unreclaimed_peak;
            }
            rows.push_back(Row(c, r));
            std::printf("%s\n", rows.back().c_str());
            std::fflush(stdout);
          }
        }
      }
    }
  }
}

void Timeline(std::vector<std::string>& rows, const std::vector<double>& marks) {
  const double seconds = *std::max_element(marks.begin(), marks.end()) + 0.01;
  for (const auto& structure : List(absl::GetFlag(FLAGS_structure))) {
    for (const auto& mix : List(absl::GetFlag(FLAGS_mix))) {
      for (int threads : Ints(absl::GetFlag(FLAGS_threads))) {
        for (const auto& scheme : List(absl::GetFlag(FLAGS_schemes))) {
          const Config c = MakeConfig(scheme, structure, mix, threads, true);
          const RunResult r = Run(c, seconds, true, marks);
          for (std::size_t i = 0; i < r.at.size(); ++i) {
            std::ostringstream o;
            o << "{\"kind\":\"stall_timeline\",\"stall_at\":\""
              << absl::GetFlag(FLAGS_stall_at) << "\",\"scheme\":\"" << scheme << "\",\"structure\":\""
              << structure << "\",\"mix\":\"" << mix << "\",\"threads\":" << threads
              << ",\"stalled\":1,\"at_seconds\":" << marks[i] << ",\"unreclaimed\":" << r.at[i]
              << ",\"unreclaimed_per_thread\":"
              << static_cast<double>(r.at[i]) / (threads + 1)
              << ",\"avg_per_thread_so_far\":" << r.avg_per_thread_at[i] << ",\"mops\":" << r.mops
              << "}";
            rows.push_back(o.str());
            std::printf("%s\n", rows.back().c_str());
            std::fflush(stdout);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace mvkv::bench

int main(int argc, char** argv) {
  mvkv::flags::SetUsage(
      "Benchmarks memory reclamation schemes (see the flags; rows go to stdout and --json).");
  absl::ParseCommandLine(argc, argv);
  mvkv::bench::InitPeers();
  std::vector<std::string> rows;
  const auto marks = mvkv::bench::Doubles(absl::GetFlag(FLAGS_stall_timeline));
  if (!marks.empty()) {
    mvkv::bench::Timeline(rows, marks);
  } else {
    mvkv::bench::GuardRows(rows);
    mvkv::bench::Sweep(rows);
  }
  const std::string path = absl::GetFlag(FLAGS_json);
  if (!path.empty()) {
    std::ofstream out(path);
    out << "[\n";
    for (std::size_t i = 0; i < rows.size(); ++i) out << "  " << rows[i] << (i + 1 < rows.size() ? ",\n" : "\n");
    out << "]\n";
  }
  return 0;
}
