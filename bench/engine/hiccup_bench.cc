// hiccup_bench: how long this machine takes a running thread off its CPU
// when nothing asks it to. One thread per CPU, pinned to it, reads the
// steady clock in a loop for --seconds; every gap between two reads over
// --min_gap_us is time that thread was not running (an interrupt, a kernel
// thread, or the hypervisor running another guest's vCPU: a guest that
// reports no steal time shows that as plain user time).
//
//   bazel run --config=opt //bench:hiccup_bench -- --seconds=10
//
// Put it beside a latency result: a p99 below the machine's own stalls
// cannot be measured on it. If the gaps over 1 ms add up to about 1% of
// the run on a CPU, about 1% of any stream of events handled on that CPU
// is at least 1 ms late, whatever the code does. Per CPU it prints the
// count of gaps over --min_gap_us and over 1 ms, their sum (and the share of
// the run over 1 ms) and the longest, plus the steal time /proc/stat
// reported meanwhile.
//
// Then, with two CPUs or more, --wakes times waking a thread that sleeps on
// a futex on the other CPU (C++20 atomic wait/notify), from the notify to
// the moment the woken thread runs: right after its previous wake-up, and
// after each of --wake_idle_us of quiet (its CPU idle meanwhile). Every hop
// of a request between threads pays this, so it is the floor under an
// idle server's latency per hop (a gRPC call and a watch event take
// several). It prints p50/p99/max per idle time.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "flags/usage.h"

ABSL_FLAG(double, seconds, 10, "Length of the run.");
ABSL_FLAG(int64_t, min_gap_us, 100, "Gaps longer than this count as stalls.");
ABSL_FLAG(int, wakes, 1000,
          "Cross-CPU wake-ups timed per --wake_idle_us value after the spin "
          "phase; 0 = none.");
ABSL_FLAG(std::string, wake_idle_us, "0,2000",
          "Quiet time before each timed wake-up, in us, comma-separated.");

namespace mvkv::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Gaps {
  int64_t count = 0;  // over --min_gap_us
  int64_t over_1ms = 0;
  int64_t total_us = 0;  // of those counted
  int64_t over_1ms_us = 0;
  int64_t max_us = 0;
};

// Steal ticks per CPU ("cpuN" lines of /proc/stat, the 8th value).
std::map<int, int64_t> StealTicks() {
  std::map<int, int64_t> out;
  std::ifstream stat("/proc/stat");
  std::string line;
  while (std::getline(stat, line)) {
    if (line.rfind("cpu", 0) != 0 || line.size() < 4 || line[3] == ' ')
      continue;
    std::istringstream in(line);
    std::string name;
    int64_t v[8] = {};
    in >> name;
    for (int64_t& x : v) in >> x;
    out[std::stoi(name.substr(3))] = v[7];
  }
  return out;
}

// Pins the calling thread to `cpu`; false if the kernel refused.
bool Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

Gaps Spin(int cpu, Clock::duration length, Clock::duration min_gap) {
  if (!Pin(cpu)) std::fprintf(stderr, "cannot pin a thread to CPU %d\n", cpu);
  Gaps g;
  const auto start = Clock::now();
  const auto end = start + length;
  for (auto last = start, now = start; now < end; last = now) {
    now = Clock::now();
    const auto gap = now - last;
    if (gap <= min_gap) continue;
    const int64_t us =
        std::chrono::duration_cast<std::chrono::microseconds>(gap).count();
    ++g.count;
    g.total_us += us;
    g.max_us = std::max(g.max_us, us);
    if (us > 1000) {
      ++g.over_1ms;
      g.over_1ms_us += us;
    }
  }
  return g;
}

// Sleeping thread on `to_cpu`, woken from `from_cpu` `n` times, each after
// `idle` of quiet: the notify-to-running time of each, sorted (ns).
std::vector<int64_t> TimeWakes(int from_cpu, int to_cpu, int n,
                               std::chrono::microseconds idle) {
  std::atomic<uint64_t> seq{0};  // the waker's count of wake-ups
  std::atomic<uint64_t> ack{0};  // the sleeper's: woke for seq == ack
  std::atomic<int64_t> woke_at{0};
  auto ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               Clock::now().time_since_epoch())
        .count();
  };
  std::thread sleeper([&] {
    Pin(to_cpu);
    for (uint64_t seen = 0; seen < static_cast<uint64_t>(n);) {
      seq.wait(seen, std::memory_order_acquire);  // futex, after a short spin
      seen = seq.load(std::memory_order_acquire);
      woke_at.store(ns(), std::memory_order_relaxed);
      ack.store(seen, std::memory_order_release);
    }
  });
  Pin(from_cpu);
  std::vector<int64_t> out;
  out.reserve(n);
  for (uint64_t i = 1; i <= static_cast<uint64_t>(n); ++i) {
    if (idle.count() > 0) std::this_thread::sleep_for(idle);
    const int64_t sent = ns();
    seq.store(i, std::memory_order_release);
    seq.notify_one();
    while (ack.load(std::memory_order_acquire) != i) {
    }
    out.push_back(woke_at.load(std::memory_order_relaxed) - sent);
  }
  sleeper.join();
  std::sort(out.begin(), out.end());
  return out;
}

int Main() {
  const double seconds = absl::GetFlag(FLAGS_seconds);
  if (!(seconds > 0)) {
    std::fprintf(stderr, "--seconds: want > 0, got %g\n", seconds);
    return 2;
  }
  if (absl::GetFlag(FLAGS_min_gap_us) < 1) {
    std::fprintf(stderr, "--min_gap_us: want >= 1\n");
    return 2;
  }
  const auto length = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(seconds));
  const auto min_gap =
      std::chrono::microseconds(absl::GetFlag(FLAGS_min_gap_us));
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  sched_getaffinity(0, sizeof(allowed), &allowed);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  }
  std::vector<Gaps> gaps(cpus.size());
  const std::map<int, int64_t> steal_before = StealTicks();
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < cpus.size(); ++i) {
    threads.emplace_back([&, i] { gaps[i] = Spin(cpus[i], length, min_gap); });
  }
  for (std::thread& t : threads) t.join();
  std::map<int, int64_t> steal_after = StealTicks();
  for (std::size_t i = 0; i < cpus.size(); ++i) {
    const Gaps& g = gaps[i];
    const int c = cpus[i];
    const auto before = steal_before.find(c);
    const int64_t steal =
        before == steal_before.end() ? 0 : steal_after[c] - before->second;
    std::printf(
        "cpu%d gaps>%lldus=%lld total=%.1fms gaps>1ms=%lld (%.2f%% of the run) "
        "max=%.1fms steal_ticks=%lld\n",
        c, static_cast<long long>(absl::GetFlag(FLAGS_min_gap_us)),
        static_cast<long long>(g.count), g.total_us / 1e3,
        static_cast<long long>(g.over_1ms),
        100.0 * g.over_1ms_us / (seconds * 1e6), g.max_us / 1e3,
        static_cast<long long>(steal));
  }
  const int wakes = absl::GetFlag(FLAGS_wakes);
  if (wakes <= 0 || cpus.size() < 2) return 0;
  for (absl::string_view text :
       absl::StrSplit(absl::GetFlag(FLAGS_wake_idle_us), ',')) {
    int64_t idle_us = 0;
    if (!absl::SimpleAtoi(text, &idle_us) || idle_us < 0) {
      std::fprintf(stderr, "--wake_idle_us: bad value \"%.*s\"\n",
                   static_cast<int>(text.size()), text.data());
      return 2;
    }
    const std::vector<int64_t> w =
        TimeWakes(cpus[0], cpus[1], wakes, std::chrono::microseconds(idle_us));
    auto at = [&](double p) {
      return w[std::min(w.size() - 1, static_cast<std::size_t>(p * w.size()))];
    };
    std::printf(
        "wake cpu%d->cpu%d after %lldus idle: p50=%.1fus p99=%.1fus "
        "max=%.1fus (%d wakes)\n",
        cpus[0], cpus[1], static_cast<long long>(idle_us), at(0.5) / 1e3,
        at(0.99) / 1e3, w.back() / 1e3, wakes);
  }
  return 0;
}

}  // namespace
}  // namespace mvkv::bench

int main(int argc, char** argv) {
  mvkv::flags::SetUsage(
      "hiccup_bench: how often and how long this machine takes a pinned, "
      "running thread off its CPU (the floor under any latency measured "
      "here), then what waking a thread asleep on another CPU costs (the "
      "floor per thread hop).");
  absl::ParseCommandLine(argc, argv);
  return mvkv::bench::Main();
}
