// The scenarios through mvkv::disruptor (see scenarios.h).

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "bench/pipeline/scenarios.h"
#include "disruptor/disruptor.h"

ABSL_FLAG(int64_t, phased_spin_us, 10,
          "PhasedBackoffWaitStrategy: microseconds of spinning.");
ABSL_FLAG(int64_t, phased_yield_us, 1000,
          "PhasedBackoffWaitStrategy: microseconds of yielding, then park.");

namespace mvkv::bench {
namespace {

namespace d = ::mvkv::disruptor;

// One event type per scenario, as in the LMAX performance tests: the ring
// moves no more bytes per event than the queue baselines do (8-byte values),
// except where the scenario itself carries more (pipeline and diamond steps).
struct ValueEvent {
  int64_t value = 0;
};
struct PipelineEvent {
  int64_t value = 0;
  int64_t step1 = 0;
  int64_t step2 = 0;
};
struct FizzBuzzEvent {
  int64_t value = 0;
  bool fizz = false;
  bool buzz = false;
};
struct LatencyEvent {
  int64_t t0_ns = 0;
};

std::unique_ptr<d::WaitStrategy> MakeStrategy(const std::string& name) {
  if (name == "busy_spin") return d::BusySpinWaitStrategy();
  if (name == "blocking") return d::BlockingWaitStrategy();
  if (name == "sleeping") return d::SleepingWaitStrategy();
  if (name == "phased") {
    return d::PhasedBackoffWaitStrategy(
        absl::Microseconds(absl::GetFlag(FLAGS_phased_spin_us)),
        absl::Microseconds(absl::GetFlag(FLAGS_phased_yield_us)));
  }
  return d::YieldingWaitStrategy();
}

// Signals `done` when it has handled the last sequence of the run.
class Finisher {
 public:
  explicit Finisher(int64_t last_seq) : last_seq_(last_seq) {}
  void Check(int64_t seq) {
    if (seq == last_seq_) done_.store(true, std::memory_order_release);
  }
  bool done() const { return done_.load(std::memory_order_acquire); }

 private:
  const int64_t last_seq_;
  std::atomic<bool> done_{false};
};

struct SumHandler : Finisher {
  using Finisher::Finisher;
  void OnEvent(ValueEvent& e, int64_t seq, bool) {
    sum += e.value;
    Check(seq);
  }
  int64_t sum = 0;
};

struct Step1Handler {
  void OnEvent(PipelineEvent& e, int64_t, bool) { e.step1 = e.value * 2; }
};
struct Step2Handler {
  void OnEvent(PipelineEvent& e, int64_t, bool) { e.step2 = e.step1 + 3; }
};
struct Step3Handler : Finisher {
  using Finisher::Finisher;
  void OnEvent(PipelineEvent& e, int64_t seq, bool) {
    sum += e.step2;
    Check(seq);
  }
  int64_t sum = 0;
};

struct FizzHandler {
  void OnEvent(FizzBuzzEvent& e, int64_t, bool) { e.fizz = e.value % 3 == 0; }
};
struct BuzzHandler {
  void OnEvent(FizzBuzzEvent& e, int64_t, bool) { e.buzz = e.value % 5 == 0; }
};
struct FizzBuzzHandler : Finisher {
  using Finisher::Finisher;
  void OnEvent(FizzBuzzEvent& e, int64_t seq, bool) {
    if (e.fizz && e.buzz) ++count;
    Check(seq);
  }
  int64_t count = 0;
};

template <class Event>
void Publish(d::Disruptor<Event>& disruptor, int64_t value) {
  disruptor.PublishEvent([value](Event& e, int64_t) { e.value = value; });
}

template <class... Finishers>
void AwaitAll(const Finishers&... f) {
  SpinYield wait;
  while (!(f.done() && ...)) wait.Pause();
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

RunResult Unicast(int64_t n, const std::string& ws) {
  d::Disruptor<ValueEvent> disruptor(kCapacity, d::ProducerType::kSingle,
                                     MakeStrategy(ws));
  SumHandler sum(n - 1);
  disruptor.HandleEventsWith(sum);
  disruptor.Start();
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < n; ++i) Publish(disruptor, i);
  AwaitAll(sum);
  RunResult r{SecondsSince(start), sum.sum == SumOfValues(n)};
  disruptor.Halt();
  return r;
}

RunResult Pipeline(int64_t n, const std::string& ws) {
  d::Disruptor<PipelineEvent> disruptor(kCapacity, d::ProducerType::kSingle,
                                        MakeStrategy(ws));
  Step1Handler a;
  Step2Handler b;
  Step3Handler c(n - 1);
  disruptor.HandleEventsWith(a).Then(b).Then(c);
  disruptor.Start();
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < n; ++i) Publish(disruptor, i);
  AwaitAll(c);
  RunResult r{SecondsSince(start), c.sum == 2 * SumOfValues(n) + 3 * n};
  disruptor.Halt();
  return r;
}

RunResult Sequencer(int64_t n, const std::string& ws) {
  const int64_t per_producer = n / kSequencerProducers;
  const int64_t total = per_producer * kSequencerProducers;
  d::Disruptor<ValueEvent> disruptor(kCapacity, d::ProducerType::kMulti,
                                     MakeStrategy(ws));
  SumHandler sum(total - 1);
  disruptor.HandleEventsWith(sum);
  disruptor.Start();
  std::atomic<bool> go{false};
  std::vector<std::thread> producers;
  for (int p = 0; p < kSequencerProducers; ++p) {
    producers.emplace_back([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (int64_t i = 0; i < per_producer; ++i) Publish(disruptor, i);
    });
  }
  const Clock::time_point start = Clock::now();
  go.store(true, std::memory_order_release);
  AwaitAll(sum);
  RunResult r{SecondsSince(start),
              sum.sum == kSequencerProducers * SumOfValues(per_producer)};
  for (std::thread& t : producers) t.join();
  disruptor.Halt();
  return r;
}

RunResult Multicast(int64_t n, const std::string& ws) {
  d::Disruptor<ValueEvent> disruptor(kCapacity, d::ProducerType::kSingle,
                                     MakeStrategy(ws));
  SumHandler a(n - 1), b(n - 1), c(n - 1);
  disruptor.HandleEventsWith(a, b, c);
  disruptor.Start();
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < n; ++i) Publish(disruptor, i);
  AwaitAll(a, b, c);
  const int64_t expected = SumOfValues(n);
  RunResult r{SecondsSince(start),
              a.sum == expected && b.sum == expected && c.sum == expected};
  disruptor.Halt();
  return r;
}

RunResult Diamond(int64_t n, const std::string& ws) {
  d::Disruptor<FizzBuzzEvent> disruptor(kCapacity, d::ProducerType::kSingle,
                                        MakeStrategy(ws));
  FizzHandler fizz;
  BuzzHandler buzz;
  FizzBuzzHandler join(n - 1);
  disruptor.HandleEventsWith(fizz, buzz).Then(join);
  disruptor.Start();
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < n; ++i) Publish(disruptor, i);
  AwaitAll(join);
  RunResult r{SecondsSince(start), join.count == (n - 1) / 15 + 1};
  disruptor.Halt();
  return r;
}

struct LatencyHandler : Finisher {
  LatencyHandler(int64_t last, std::vector<int64_t>& out)
      : Finisher(last), latencies(out) {}
  void OnStart() { PinThisThread(kConsumerCpu); }
  void OnEvent(LatencyEvent& e, int64_t seq, bool) {
    latencies[seq] = NowNs() - e.t0_ns;
    Check(seq);
  }
  std::vector<int64_t>& latencies;
};

}  // namespace

RunResult RunDisruptor(Scenario scenario, int64_t events,
                       const std::string& wait_strategy) {
  switch (scenario) {
    case Scenario::kUnicast:
      return Unicast(events, wait_strategy);
    case Scenario::kPipeline:
      return Pipeline(events, wait_strategy);
    case Scenario::kSequencer:
      return Sequencer(events, wait_strategy);
    case Scenario::kMulticast:
      return Multicast(events, wait_strategy);
    case Scenario::kDiamond:
      return Diamond(events, wait_strategy);
  }
  return {};
}

LatencyResult LatencyDisruptor(int64_t events, int64_t interval_ns,
                               const std::string& wait_strategy) {
  LatencyResult result;
  result.sorted_ns.assign(events, 0);
  d::Disruptor<LatencyEvent> disruptor(kCapacity, d::ProducerType::kSingle,
                                       MakeStrategy(wait_strategy));
  LatencyHandler handler(events - 1, result.sorted_ns);
  disruptor.HandleEventsWith(handler);
  disruptor.Start();
  PinThisThread(kProducerCpu);
  for (int64_t i = 0; i < events; ++i) {
    PaceUntil(NowNs() + interval_ns);
    disruptor.PublishEvent([](LatencyEvent& e, int64_t) { e.t0_ns = NowNs(); });
  }
  AwaitAll(handler);
  PinThisThread(-1);
  disruptor.Halt();
  std::sort(result.sorted_ns.begin(), result.sorted_ns.end());
  return result;
}

}  // namespace mvkv::bench
