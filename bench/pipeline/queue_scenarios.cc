// The scenarios through the queue baselines (see scenarios.h): a mutex +
// condition-variable MutexQueue per edge of the graph, and Boost.Lockfree
// where it fits (spsc_queue for single-producer single-consumer edges, queue
// for several producers).

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "bench/pipeline/mutex_queue.h"
#include "bench/pipeline/scenarios.h"
#include "boost/lockfree/queue.hpp"
#include "boost/lockfree/spsc_queue.hpp"

namespace mvkv::bench {
namespace {

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

using Queue = MutexQueue<int64_t>;

// Unicast over one queue: this thread pushes 0..n-1, a consumer sums them.
// push(q, v) and pop(q) are the queue's operations (template arguments, so
// the calls are direct).
template <auto push, auto pop, typename Q>
RunResult Unicast(int64_t n, Q& q) {
  int64_t sum = 0;
  std::thread consumer([&] {
    for (int64_t i = 0; i < n; ++i) sum += pop(q);
  });
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < n; ++i) push(q, i);
  consumer.join();
  return {SecondsSince(start), sum == SumOfValues(n)};
}

// The three-stage pipeline q1 -> (x2) -> q2 -> (+3) -> q3 -> sum, one thread
// a stage; push(q, v) and pop(q) are the queues' operations.
template <auto push, auto pop, typename Q>
RunResult ThreeStages(int64_t n, Q& q1, Q& q2, Q& q3) {
  int64_t sum = 0;
  std::thread a([&] {
    for (int64_t i = 0; i < n; ++i) push(q2, pop(q1) * 2);
  });
  std::thread b([&] {
    for (int64_t i = 0; i < n; ++i) push(q3, pop(q2) + 3);
  });
  std::thread c([&] {
    for (int64_t i = 0; i < n; ++i) sum += pop(q3);
  });
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < n; ++i) push(q1, i);
  a.join();
  b.join();
  c.join();
  return {SecondsSince(start), sum == 2 * SumOfValues(n) + 3 * n};
}

// The sequencer: kSequencerProducers threads push 0..n/kSequencerProducers-1
// each, released together; this thread pops and sums them all.
template <auto push, auto pop, typename Q>
RunResult Sequencer(int64_t n, Q& q) {
  const int64_t per_producer = n / kSequencerProducers;
  const int64_t total = per_producer * kSequencerProducers;
  int64_t sum = 0;
  std::atomic<bool> go{false};
  std::vector<std::thread> producers;
  for (int p = 0; p < kSequencerProducers; ++p) {
    producers.emplace_back([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (int64_t i = 0; i < per_producer; ++i) push(q, i);
    });
  }
  const Clock::time_point start = Clock::now();
  go.store(true, std::memory_order_release);
  for (int64_t i = 0; i < total; ++i) sum += pop(q);
  const double seconds = SecondsSince(start);
  for (std::thread& t : producers) t.join();
  return {seconds, sum == kSequencerProducers * SumOfValues(per_producer)};
}

void QueuePush(Queue& q, int64_t v) { q.Put(v); }
int64_t QueuePop(Queue& q) { return q.Take(); }

// ---------------------------------------------------------------------------
// Mutex queues.

RunResult MutexUnicast(int64_t n) {
  Queue q(kCapacity);
  return Unicast<QueuePush, QueuePop>(n, q);
}

RunResult MutexPipeline(int64_t n) {
  Queue q1(kCapacity), q2(kCapacity), q3(kCapacity);
  return ThreeStages<QueuePush, QueuePop>(n, q1, q2, q3);
}

RunResult MutexSequencer(int64_t n) {
  Queue q(kCapacity);
  return Sequencer<QueuePush, QueuePop>(n, q);
}

RunResult MutexMulticast(int64_t n) {
  Queue qa(kCapacity), qb(kCapacity), qc(kCapacity);
  int64_t sums[3] = {0, 0, 0};
  Queue* queues[3] = {&qa, &qb, &qc};
  std::vector<std::thread> consumers;
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back([&, c] {
      for (int64_t i = 0; i < n; ++i) sums[c] += queues[c]->Take();
    });
  }
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    qa.Put(i);
    qb.Put(i);
    qc.Put(i);
  }
  for (std::thread& t : consumers) t.join();
  const int64_t expected = SumOfValues(n);
  return {SecondsSince(start),
          sums[0] == expected && sums[1] == expected && sums[2] == expected};
}

RunResult MutexDiamond(int64_t n) {
  Queue fizz_in(kCapacity), buzz_in(kCapacity);
  Queue fizz_out(kCapacity), buzz_out(kCapacity);
  int64_t count = 0;
  std::thread fizz([&] {
    for (int64_t i = 0; i < n; ++i) fizz_out.Put(fizz_in.Take() % 3 == 0);
  });
  std::thread buzz([&] {
    for (int64_t i = 0; i < n; ++i) buzz_out.Put(buzz_in.Take() % 5 == 0);
  });
  std::thread join([&] {
    for (int64_t i = 0; i < n; ++i) {
      const bool f = fizz_out.Take() != 0;
      const bool b = buzz_out.Take() != 0;
      if (f && b) ++count;
    }
  });
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    fizz_in.Put(i);
    buzz_in.Put(i);
  }
  fizz.join();
  buzz.join();
  join.join();
  return {SecondsSince(start), count == (n - 1) / 15 + 1};
}

// ---------------------------------------------------------------------------
// Boost.Lockfree.

// Pops from either Boost queue, spinning then yielding while it is empty.
template <class Queue>
int64_t SpinPop(Queue& q) {
  SpinYield wait;
  int64_t v;
  while (!q.pop(v)) wait.Pause();
  return v;
}

using Spsc =
    boost::lockfree::spsc_queue<int64_t, boost::lockfree::capacity<kCapacity>>;

void SpscPush(Spsc& q, int64_t v) {
  ProducerBackoff wait;
  while (!q.push(v)) wait.Pause();
}

RunResult SpscUnicast(int64_t n) {
  auto q = std::make_unique<Spsc>();
  return Unicast<SpscPush, SpinPop<Spsc>>(n, *q);
}

RunResult SpscPipeline(int64_t n) {
  auto q1 = std::make_unique<Spsc>();
  auto q2 = std::make_unique<Spsc>();
  auto q3 = std::make_unique<Spsc>();
  return ThreeStages<SpscPush, SpinPop<Spsc>>(n, *q1, *q2, *q3);
}

using Mpmc = boost::lockfree::queue<int64_t>;

void MpmcPush(Mpmc& q, int64_t v) {
  ProducerBackoff wait;
  while (!q.bounded_push(v)) wait.Pause();
}

RunResult MpmcSequencer(int64_t n) {
  // bounded_push never allocates: the node pool is reserved up front.
  Mpmc q(kCapacity);
  return Sequencer<MpmcPush, SpinPop<Mpmc>>(n, q);
}

// Latency harness shared by the queue baselines: `push` and `pop` move one
// timestamp.
template <class Push, class Pop>
LatencyResult QueueLatency(int64_t events, int64_t interval_ns, Push push,
                           Pop pop) {
  LatencyResult result;
  result.sorted_ns.assign(events, 0);
  std::thread consumer([&] {
    PinThisThread(kConsumerCpu);
    for (int64_t i = 0; i < events; ++i) {
      const int64_t t0 = pop();
      result.sorted_ns[i] = NowNs() - t0;
    }
  });
  PinThisThread(kProducerCpu);
  for (int64_t i = 0; i < events; ++i) {
    PaceUntil(NowNs() + interval_ns);
    push(NowNs());
  }
  consumer.join();
  PinThisThread(-1);
  std::sort(result.sorted_ns.begin(), result.sorted_ns.end());
  return result;
}

}  // namespace

RunResult RunMutexQueue(Scenario scenario, int64_t events) {
  switch (scenario) {
    case Scenario::kUnicast:
      return MutexUnicast(events);
    case Scenario::kPipeline:
      return MutexPipeline(events);
    case Scenario::kSequencer:
      return MutexSequencer(events);
    case Scenario::kMulticast:
      return MutexMulticast(events);
    case Scenario::kDiamond:
      return MutexDiamond(events);
  }
  return {};
}

std::optional<RunResult> RunBoostSpsc(Scenario scenario, int64_t events) {
  if (scenario == Scenario::kUnicast) return SpscUnicast(events);
  if (scenario == Scenario::kPipeline) return SpscPipeline(events);
  return std::nullopt;
}

std::optional<RunResult> RunBoostQueue(Scenario scenario, int64_t events) {
  if (scenario == Scenario::kSequencer) return MpmcSequencer(events);
  return std::nullopt;
}

LatencyResult LatencyMutexQueue(int64_t events, int64_t interval_ns) {
  Queue q(kCapacity);
  return QueueLatency(
      events, interval_ns, [&](int64_t t) { q.Put(t); },
      [&] { return q.Take(); });
}

LatencyResult LatencyBoostSpsc(int64_t events, int64_t interval_ns) {
  auto q = std::make_unique<Spsc>();
  return QueueLatency(
      events, interval_ns, [&](int64_t t) { SpscPush(*q, t); },
      [&] { return SpinPop<Spsc>(*q); });
}

std::optional<Scenario> ParseScenario(const std::string& name) {
  if (name == "unicast") return Scenario::kUnicast;
  if (name == "pipeline") return Scenario::kPipeline;
  if (name == "sequencer") return Scenario::kSequencer;
  if (name == "multicast") return Scenario::kMulticast;
  if (name == "diamond") return Scenario::kDiamond;
  return std::nullopt;
}

const char* ScenarioName(Scenario s) {
  switch (s) {
    case Scenario::kUnicast:
      return "unicast";
    case Scenario::kPipeline:
      return "pipeline";
    case Scenario::kSequencer:
      return "sequencer";
    case Scenario::kMulticast:
      return "multicast";
    case Scenario::kDiamond:
      return "diamond";
  }
  return "?";
}

}  // namespace mvkv::bench
