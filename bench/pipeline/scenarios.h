// The LMAX scenarios of pipeline_bench, each runnable through the Disruptor
// and through the queue baselines.
//
//   unicast    1 producer -> 1 consumer
//   pipeline   1 producer -> A -> B -> C            (each step transforms)
//   sequencer  3 producers -> 1 consumer
//   multicast  1 producer -> A, B, C                (each sees every event)
//   diamond    1 producer -> A, B -> C              (FizzBuzz: C joins A, B)
//
// Every run checks the consumers' checksum against the expected one.
// Thread safety: each Run* call creates and joins its own threads; calls must
// not overlap (they would share the cores and distort each other).

#ifndef MVKV_BENCH_PIPELINE_SCENARIOS_H_
#define MVKV_BENCH_PIPELINE_SCENARIOS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "bench/pipeline/bench_util.h"

namespace mvkv::bench {

enum class Scenario { kUnicast, kPipeline, kSequencer, kMulticast, kDiamond };

std::optional<Scenario> ParseScenario(const std::string& name);
const char* ScenarioName(Scenario s);

// Ring/queue capacity used by every implementation.
inline constexpr std::size_t kCapacity = 1 << 16;
inline constexpr int kSequencerProducers = 3;

// Disruptor, with the named wait strategy ("yielding", "busy_spin",
// "phased", "blocking", "sleeping").
RunResult RunDisruptor(Scenario scenario, int64_t events,
                       const std::string& wait_strategy);
LatencyResult LatencyDisruptor(int64_t events, int64_t interval_ns,
                               const std::string& wait_strategy);

// Mutex + condition-variable queues, one per edge of the graph.
RunResult RunMutexQueue(Scenario scenario, int64_t events);
LatencyResult LatencyMutexQueue(int64_t events, int64_t interval_ns);

// boost::lockfree::spsc_queue (unicast, pipeline) and boost::lockfree::queue
// (sequencer). Returns nullopt for scenarios they do not fit.
std::optional<RunResult> RunBoostSpsc(Scenario scenario, int64_t events);
std::optional<RunResult> RunBoostQueue(Scenario scenario, int64_t events);
LatencyResult LatencyBoostSpsc(int64_t events, int64_t interval_ns);

}  // namespace mvkv::bench

#endif  // MVKV_BENCH_PIPELINE_SCENARIOS_H_
