// Stage-graph tests: every published event is seen exactly once, in order, by
// every stage, and no stage overtakes a stage it depends on — for unicast,
// pipeline, multicast and diamond graphs, single and multiple producers, and
// several wait strategies.

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "disruptor/disruptor.h"
#include "disruptor/internal/test_util.h"
#include "gtest/gtest.h"

namespace mvkv::disruptor {
namespace {

using disruptor_internal::LoggedSeed;
using disruptor_internal::Scaled;
using disruptor_internal::Watchdog;

constexpr int kMaxStages = 4;
constexpr int kMaxProducers = 4;

struct Event {
  int64_t producer = 0;
  int64_t counter = 0;
  std::array<int64_t, kMaxStages> marks{};  // marks[i]: seq, set by stage i.
};

// Checks, for one stage, delivery order, exactly-once per producer, and that
// every upstream stage finished the event (sequence and writes) first.
class CheckingHandler {
 public:
  explicit CheckingHandler(int id) : id_(id) { last_counter_.fill(-1); }

  void DependOn(const CheckingHandler& upstream, const EventProcessor& p) {
    upstream_ids_.push_back(upstream.id_);
    upstream_sequences_.push_back(&p.sequence());
  }

  void OnEvent(Event& event, int64_t seq, bool end_of_batch) {
    if (seq != next_seq_) Fail("sequence gap or reorder at ", seq);
    next_seq_ = seq + 1;
    if (event.counter != last_counter_[event.producer] + 1) {
      Fail("producer event lost, duplicated or reordered at ", seq);
    }
    last_counter_[event.producer] = event.counter;
    for (std::size_t i = 0; i < upstream_ids_.size(); ++i) {
      if (upstream_sequences_[i]->Get() < seq)
        Fail("overtook upstream at ", seq);
      if (event.marks[upstream_ids_[i]] != seq) {
        Fail("upstream write not visible at ", seq);
      }
    }
    event.marks[id_] = seq;
    if (end_of_batch) ++batches_;
    ++seen_;
  }

  int64_t seen() const { return seen_; }
  int64_t batches() const { return batches_; }
  const std::string& failure() const { return failure_; }

 private:
  void Fail(const char* what, int64_t seq) {
    if (failure_.empty())
      failure_ = absl::StrCat("stage ", id_, ": ", what, seq);
  }

  const int id_;
  std::vector<int> upstream_ids_;
  std::vector<const Sequence*> upstream_sequences_;
  std::array<int64_t, kMaxProducers> last_counter_;
  int64_t next_seq_ = 0;
  int64_t seen_ = 0;
  int64_t batches_ = 0;
  std::string failure_;  // Read by the test thread only after the join.
};

enum class Topology { kUnicast, kPipeline, kMulticast, kDiamond };

struct Case {
  Topology topology;
  ProducerType producer_type;
  std::string strategy;
};

std::unique_ptr<WaitStrategy> MakeStrategy(const std::string& name) {
  if (name == "Blocking") return BlockingWaitStrategy();
  if (name == "Yielding") return YieldingWaitStrategy();
  if (name == "Sleeping") return SleepingWaitStrategy();
  return PhasedBackoffWaitStrategy(absl::Microseconds(20),
                                   absl::Microseconds(100));
}

// Declares the graph; returns the handlers in stage order.
std::vector<std::unique_ptr<CheckingHandler>> Wire(Disruptor<Event>& d,
                                                   Topology topology) {
  std::vector<std::unique_ptr<CheckingHandler>> h;
  const int stages = topology == Topology::kUnicast ? 1 : 3;
  for (int i = 0; i < stages; ++i)
    h.push_back(std::make_unique<CheckingHandler>(i));
  switch (topology) {
    case Topology::kUnicast:
      d.HandleEventsWith(*h[0]);
      break;
    case Topology::kPipeline:
      d.HandleEventsWith(*h[0]).Then(*h[1]).Then(*h[2]);
      h[1]->DependOn(*h[0], d.stage(0));
      h[2]->DependOn(*h[1], d.stage(1));
      break;
    case Topology::kMulticast:
      d.HandleEventsWith(*h[0], *h[1], *h[2]);
      break;
    case Topology::kDiamond: {
      EventHandlerGroup<Event>& a = d.HandleEventsWith(*h[0]);
      EventHandlerGroup<Event>& b = d.HandleEventsWith(*h[1]);
      d.After(a, b).HandleEventsWith(*h[2]);
      h[2]->DependOn(*h[0], d.stage(0));
      h[2]->DependOn(*h[1], d.stage(1));
      break;
    }
  }
  return h;
}

// Publishes `count` events as producer `id`, in random claim sizes.
void Produce(Disruptor<Event>& d, int id, int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int64_t counter = 0; counter < count;) {
    const int n =
        static_cast<int>(std::min<int64_t>(1 + rng() % 4, count - counter));
    const int64_t hi = d.sequencer().Next(n);
    ASSERT_NE(hi, kHaltedSequence);
    for (int64_t seq = hi - n + 1; seq <= hi; ++seq) {
      d.ring()[seq].producer = id;
      d.ring()[seq].counter = counter++;
    }
    d.sequencer().Publish(hi - n + 1, hi);
  }
}

class TopologyTest : public ::testing::TestWithParam<Case> {};

// Property: with P producers (4 for kMulti: more threads than the 2 cores) and
// a 64-slot ring (many laps, producers gated by the leaves), every stage sees
// every event exactly once, in sequence order and in each producer's order,
// and each dependent stage sees its upstream stages' sequence >= the event's
// and their writes to it. Shutdown() then drains everything.
TEST_P(TopologyTest, EveryStageSeesEveryEventOnceInOrder) {
  const Case& c = GetParam();
  Watchdog watchdog("EveryStageSeesEveryEventOnceInOrder",
                    std::chrono::seconds(90));
  const uint64_t seed = LoggedSeed();
  const int producers =
      c.producer_type == ProducerType::kMulti ? kMaxProducers : 1;
  const int64_t per_producer = Scaled(200000) / producers;
  Disruptor<Event> d(64, c.producer_type, MakeStrategy(c.strategy));
  std::vector<std::unique_ptr<CheckingHandler>> handlers = Wire(d, c.topology);
  d.Start();
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back(Produce, std::ref(d), p, per_producer, seed + p);
  }
  for (std::thread& t : threads) t.join();
  d.Shutdown();
  EXPECT_EQ(d.Occupancy(), 0);
  for (const auto& h : handlers) {
    EXPECT_EQ(h->failure(), "");
    EXPECT_EQ(h->seen(), producers * per_producer);
    EXPECT_GE(h->batches(), 1);
  }
  for (int64_t lag : d.StageLags()) EXPECT_EQ(lag, 0);
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (Topology t : {Topology::kUnicast, Topology::kPipeline,
                     Topology::kMulticast, Topology::kDiamond}) {
    for (const char* s : {"Phased", "Blocking"}) {
      cases.push_back({t, ProducerType::kSingle, s});
    }
    for (const char* s : {"Phased", "Blocking", "Yielding", "Sleeping"}) {
      cases.push_back({t, ProducerType::kMulti, s});
    }
  }
  return cases;
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  static const char* kTopologies[] = {"Unicast", "Pipeline", "Multicast",
                                      "Diamond"};
  return absl::StrCat(
      kTopologies[static_cast<int>(info.param.topology)],
      info.param.producer_type == ProducerType::kSingle ? "1P" : "4P",
      info.param.strategy);
}

INSTANTIATE_TEST_SUITE_P(Graphs, TopologyTest, ::testing::ValuesIn(AllCases()),
                         CaseName);

// The DSL's And() and a second layer after a diamond.
TEST(DisruptorDslTest, AndCombinesGroupsAndLeavesGateProducers) {
  Watchdog watchdog("AndCombinesGroupsAndLeavesGateProducers",
                    std::chrono::seconds(60));
  Disruptor<Event> d(8, ProducerType::kSingle, BlockingWaitStrategy());
  CheckingHandler a(0), b(1), c(2), e(3);
  EventHandlerGroup<Event>& ga = d.HandleEventsWith(a);
  EventHandlerGroup<Event>& gb = d.HandleEventsWith(b);
  ga.And(gb).Then(c).Then(e);
  EXPECT_EQ(ga.And(gb).sequences().size(), 2u);
  d.Start();
  const int64_t n = Scaled(10000);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(d.PublishEvent([i](Event& ev, int64_t) {
      ev.producer = 0;
      ev.counter = i;
    }));
  }
  EXPECT_TRUE(d.Shutdown(absl::Seconds(60)));
  for (const CheckingHandler* h : {&a, &b, &c, &e}) {
    EXPECT_EQ(h->failure(), "");
    EXPECT_EQ(h->seen(), n);
  }
}

}  // namespace
}  // namespace mvkv::disruptor
