// pipeline_bench: the LMAX Disruptor scenarios (unicast 1P-1C, pipeline
// 1P-3C, sequencer 3P-1C, multicast 1P-3C, diamond 1P-3C) through
// mvkv::disruptor and through queue baselines (mutex + condition variable,
// Boost.Lockfree), with ratios against the targets.
//
//   bazel run --config=opt //bench:pipeline_bench --
//     --scenarios=unicast,pipeline,sequencer,multicast,diamond --json=PATH
//
// Runs are interleaved (run 1 of every implementation, then run 2, ...) and
// the median is reported, so drift on a shared machine hits all alike.
// The unicast rows also carry end-to-end latency percentiles from a separate,
// rate-limited run with timestamped events.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/pipeline/scenarios.h"
#include "flags/usage.h"

ABSL_FLAG(std::string, scenarios,
          "unicast,pipeline,sequencer,multicast,diamond",
          "Comma-separated scenarios: unicast (1P-1C), pipeline (1P-3C chain), "
          "sequencer (3P-1C), multicast (1P-3C fan-out), diamond (1P-3C, "
          "FizzBuzz).");
ABSL_FLAG(std::string, json, "", "Write the result rows as JSON to this path.");
ABSL_FLAG(int64_t, events, 4'000'000, "Events published per throughput run.");
ABSL_FLAG(int, runs, 7,
          "Throughput runs per implementation, interleaved; the median is "
          "the result, the best run is shown beside it.");
ABSL_FLAG(std::string, wait_strategies, "yielding,phased,busy_spin,blocking",
          "Disruptor wait strategies to measure (yielding, phased, busy_spin, "
          "blocking, sleeping). Targets are checked against yielding when the "
          "scenario's threads fit the cores, phased when they oversubscribe "
          "them (falling back to the first one listed).");
ABSL_FLAG(int64_t, latency_events, 50'000,
          "Events in the 1P-1C latency run (0 skips it).");
ABSL_FLAG(bool, pin_latency, false,
          "Pin the latency run's producer to CPU 0 and consumer to CPU 1.");
ABSL_FLAG(int64_t, latency_interval_ns, 20'000,
          "Minimum gap between latency events (a sleep; the timer slack adds "
          "~50 us), so queues never just fill up.");

namespace mvkv::bench {
namespace {

struct Row {
  std::string scenario;
  std::string impl;
  std::string wait_strategy;  // Disruptor only.
  int64_t events = 0;
  std::vector<double> runs;  // Mevents/s of each run.
  bool ok = true;
  std::optional<LatencyResult> latency;

  double Best() const {
    return runs.empty() ? 0 : *std::max_element(runs.begin(), runs.end());
  }
  double Median() const {
    std::vector<double> v = runs;
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
  }
  std::string Label() const {
    return wait_strategy.empty() ? impl
                                 : absl::StrCat(impl, "/", wait_strategy);
  }
};

int64_t PublishedEvents(Scenario s, int64_t events) {
  return s == Scenario::kSequencer
             ? events / kSequencerProducers * kSequencerProducers
             : events;
}

// One row per implementation that fits `scenario`.
std::vector<Row> RowsFor(Scenario s, int64_t events,
                         const std::vector<std::string>& strategies) {
  std::vector<Row> rows;
  const int64_t n = PublishedEvents(s, events);
  for (const std::string& ws : strategies) {
    rows.push_back({ScenarioName(s), "disruptor", ws, n});
  }
  rows.push_back({ScenarioName(s), "mutex_queue", "", n});
  if (s == Scenario::kUnicast || s == Scenario::kPipeline) {
    rows.push_back({ScenarioName(s), "boost_spsc", "", n});
  }
  if (s == Scenario::kSequencer) {
    rows.push_back({ScenarioName(s), "boost_queue", "", n});
  }
  return rows;
}

RunResult RunOnce(Scenario s, const Row& row, int64_t events) {
  if (row.impl == "disruptor")
    return RunDisruptor(s, events, row.wait_strategy);
  if (row.impl == "mutex_queue") return RunMutexQueue(s, events);
  if (row.impl == "boost_spsc") return *RunBoostSpsc(s, events);
  return *RunBoostQueue(s, events);
}

void MeasureLatency(Row& row, int64_t events, int64_t interval_ns) {
  if (row.impl == "disruptor") {
    row.latency = LatencyDisruptor(events, interval_ns, row.wait_strategy);
  } else if (row.impl == "mutex_queue") {
    row.latency = LatencyMutexQueue(events, interval_ns);
  } else if (row.impl == "boost_spsc") {
    row.latency = LatencyBoostSpsc(events, interval_ns);
  }
}

std::string ToJson(const std::vector<Row>& rows) {
  std::vector<std::string> objects;
  for (const Row& r : rows) {
    std::string o = absl::StrCat("  {\"scenario\": \"", r.scenario,
                                 "\", \"impl\": \"", r.impl, "\"");
    if (!r.wait_strategy.empty()) {
      absl::StrAppend(&o, ", \"wait_strategy\": \"", r.wait_strategy, "\"");
    }
    absl::StrAppend(
        &o, ", \"events\": ", r.events, ", \"mevents_per_s\": ", r.Median(),
        ", \"best_mevents_per_s\": ", r.Best(), ", \"runs_mevents_per_s\": [",
        absl::StrJoin(r.runs, ", "), "], \"ok\": ", r.ok ? "true" : "false");
    if (r.latency) {
      absl::StrAppend(&o, ", \"latency_events\": ", r.latency->sorted_ns.size(),
                      ", \"latency_interval_ns\": ",
                      absl::GetFlag(FLAGS_latency_interval_ns),
                      ", \"p50_ns\": ", r.latency->Percentile(0.50),
                      ", \"p99_ns\": ", r.latency->Percentile(0.99),
                      ", \"p9999_ns\": ", r.latency->Percentile(0.9999));
    }
    objects.push_back(o + "}");
  }
  return absl::StrCat("[\n", absl::StrJoin(objects, ",\n"), "\n]\n");
}

const Row* Find(const std::vector<Row>& rows, const std::string& scenario,
                const std::string& label) {
  for (const Row& r : rows) {
    if (r.scenario == scenario && r.Label() == label) return &r;
  }
  return nullptr;
}

// Threads a scenario runs (producers + consumers).
int Threads(const std::string& scenario) {
  if (scenario == "unicast") return 2;
  return 4;
}

// The Disruptor row the targets are checked against: the strategy
// disruptor.h recommends for the thread count — "yielding" when the threads
// fit the cores, "phased" when they oversubscribe them — if it was measured,
// else the first strategy of --wait_strategies.
std::string TargetLabel(const std::string& scenario,
                        const std::string& primary) {
  const bool fits = Threads(scenario) <=
                    static_cast<int>(std::thread::hardware_concurrency());
  const std::string preferred = fits ? "yielding" : "phased";
  for (absl::string_view ws :
       absl::StrSplit(absl::GetFlag(FLAGS_wait_strategies), ',')) {
    if (ws == preferred) return absl::StrCat("disruptor/", preferred);
  }
  return absl::StrCat("disruptor/", primary);
}

// Prints the table and the target ratios (markdown, for bench/RESULTS.md).
void PrintReport(const std::vector<Row>& rows, const std::string& primary) {
  std::printf(
      "\n| scenario | impl | Mevents/s median | best | runs | ok | p50 ns | "
      "p99 ns | p99.99 ns |\n");
  std::printf("|---|---|---:|---:|---|---|---:|---:|---:|\n");
  for (const Row& r : rows) {
    std::string lat = " | | | ";
    if (r.latency) {
      lat = absl::StrCat(" | ", r.latency->Percentile(0.5), " | ",
                         r.latency->Percentile(0.99), " | ",
                         r.latency->Percentile(0.9999));
    }
    std::printf("| %s | %s | %.1f | %.1f | %s | %s%s |\n", r.scenario.c_str(),
                r.Label().c_str(), r.Median(), r.Best(),
                absl::StrJoin(r.runs, " ",
                              [](std::string* out, double d) {
                                absl::StrAppend(out,
                                                absl::StrFormat("%.1f", d));
                              })
                    .c_str(),
                r.ok ? "yes" : "NO", lat.c_str());
  }
  std::printf(
      "\n| target | ratio of medians | met | ratio of bests "
      "|\n|---|---:|---|---:|\n");
  auto ratio = [&](const std::string& s, const std::string& base, double goal) {
    const Row* a = Find(rows, s, TargetLabel(s, primary));
    const Row* b = Find(rows, s, base);
    if (a == nullptr || b == nullptr || b->Median() == 0) return;
    const double x = a->Median() / b->Median();
    std::printf("| %s: %s >= %.1fx %s | %.2fx | %s | %.2fx |\n", s.c_str(),
                a->Label().c_str(), goal, base.c_str(), x,
                x >= goal ? "yes" : "NO", a->Best() / b->Best());
  };
  for (const char* s :
       {"unicast", "pipeline", "sequencer", "multicast", "diamond"}) {
    ratio(s, "mutex_queue", 5.0);
  }
  ratio("unicast", "boost_spsc", 1.0);
  ratio("sequencer", "boost_queue", 1.5);
}

}  // namespace
}  // namespace mvkv::bench

int main(int argc, char** argv) {
  using namespace mvkv::bench;
  mvkv::flags::SetUsage(
      "LMAX Disruptor scenarios vs mutex and Boost.Lockfree queues.\n"
      "  pipeline_bench --scenarios=unicast,sequencer --json=/tmp/out.json");
  absl::ParseCommandLine(argc, argv);
  const int64_t events = absl::GetFlag(FLAGS_events);
  PinningEnabled().store(absl::GetFlag(FLAGS_pin_latency));
  const std::vector<std::string> strategies =
      absl::StrSplit(absl::GetFlag(FLAGS_wait_strategies), ',');
  std::vector<Row> rows;
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',')) {
    std::optional<Scenario> s = ParseScenario(std::string(name));
    if (!s) {
      std::fprintf(stderr, "unknown scenario '%s'\n",
                   std::string(name).c_str());
      return 2;
    }
    std::vector<Row> scenario_rows = RowsFor(*s, events, strategies);
    for (int run = 0; run < absl::GetFlag(FLAGS_runs); ++run) {
      for (Row& row : scenario_rows) {
        RunResult r = RunOnce(*s, row, events);
        row.runs.push_back(row.events / r.seconds / 1e6);
        row.ok = row.ok && r.ok;
        std::fprintf(stderr, "%s %s run %d: %.2f Mevents/s%s\n",
                     row.scenario.c_str(), row.Label().c_str(), run,
                     row.runs.back(), r.ok ? "" : " (CHECKSUM MISMATCH)");
      }
    }
    if (*s == Scenario::kUnicast && absl::GetFlag(FLAGS_latency_events) > 0) {
      for (Row& row : scenario_rows) {
        MeasureLatency(row, absl::GetFlag(FLAGS_latency_events),
                       absl::GetFlag(FLAGS_latency_interval_ns));
      }
    }
    rows.insert(rows.end(), scenario_rows.begin(), scenario_rows.end());
  }
  PrintReport(rows, strategies.front());
  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    std::ofstream(json_path) << ToJson(rows);
    std::printf("\nwrote %s\n", json_path.c_str());
  }
  bool all_ok = true;
  for (const Row& r : rows) all_ok = all_ok && r.ok;
  return all_ok ? 0 : 1;
}
