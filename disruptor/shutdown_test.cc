// Halt and shutdown: nothing hangs with a stalled consumer or a producer
// waiting on a full ring; Shutdown drains what was published; occupancy and
// per-stage lag read correctly while stalled. Every test runs under a
// watchdog that aborts (fails) instead of hanging CI.

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "disruptor/disruptor.h"
#include "disruptor/internal/test_util.h"
#include "gtest/gtest.h"

namespace mvkv::disruptor {
namespace {

using disruptor_internal::Scaled;
using disruptor_internal::Watchdog;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Event {
  int64_t value = 0;
};

// Blocks in OnEvent (on its first event) until Release(): a stalled consumer.
class StallingHandler {
 public:
  void OnEvent(Event&, int64_t, bool) {
    stalled_.store(true);
    released_.wait(false);  // C++20 atomic wait: parks until Release().
    ++seen_;
  }
  void Release() {
    released_.store(true);
    released_.notify_all();
  }
  bool stalled() const { return stalled_.load(); }
  int64_t seen() const { return seen_; }

 private:
  std::atomic<bool> stalled_{false};
  std::atomic<bool> released_{false};
  int64_t seen_ = 0;
};

class CountingHandler {
 public:
  void OnEvent(Event& e, int64_t seq, bool) {
    if (e.value != seq) ++bad_;
    ++seen_;
  }
  void OnStart() { started_ = true; }
  void OnShutdown() { shut_down_ = true; }
  int64_t seen_ = 0;
  int64_t bad_ = 0;
  bool started_ = false;
  bool shut_down_ = false;
};

using disruptor_internal::WaitUntil;

class StalledConsumerTest : public ::testing::TestWithParam<ProducerType> {
 protected:
  // Fills the 8-slot ring while the only consumer is stalled on event 0.
  void FillRing() {
    d_.HandleEventsWith(stalled_).Then(downstream_);
    d_.Start();
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(
          d_.PublishEvent([](Event& e, int64_t seq) { e.value = seq; }));
    }
    WaitUntil([&] { return stalled_.stalled(); });
  }

  StallingHandler stalled_;
  CountingHandler downstream_;
  Disruptor<Event> d_{8, GetParam(), BlockingWaitStrategy()};
};

// Property: with a stalled consumer and a full ring, TryNext fails at once,
// NextFor times out, occupancy is the ring size and the lags are readable;
// then Halt() wakes a producer blocked in Next() and one in NextFor() while
// the consumer is still stalled, and completes once the handler returns.
TEST_P(StalledConsumerTest, FullRingFailsTryNextAndHaltStillCompletes) {
  Watchdog watchdog("FullRingFailsTryNextAndHaltStillCompletes", seconds(60));
  FillRing();
  EXPECT_TRUE(absl::IsResourceExhausted(d_.sequencer().TryNext().status()));
  EXPECT_TRUE(
      absl::IsResourceExhausted(d_.TryPublishEvent([](Event&, int64_t) {})));
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      d_.sequencer().NextFor(1, absl::Milliseconds(10)).status()));
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      d_.PublishEventFor([](Event&, int64_t) {}, absl::Milliseconds(10))));
  EXPECT_EQ(d_.Occupancy(), 8);
  EXPECT_EQ(d_.sequencer().RemainingCapacity(), 0);
  EXPECT_EQ(d_.StageLags(), (std::vector<int64_t>{8, 8}));

  // A single-producer sequencer allows one producer thread: the NextFor
  // waiter joins only with several producers.
  const bool multi = GetParam() == ProducerType::kMulti;
  auto blocked_next = std::async(std::launch::async, [&] {
    return d_.PublishEvent([](Event&, int64_t) {});
  });
  auto blocked_next_for = std::async(std::launch::async, [&] {
    if (!multi) return absl::CancelledError("not run");
    return d_.PublishEventFor([](Event&, int64_t) {}, absl::InfiniteDuration());
  });
  WaitUntil([&] { return d_.sequencer().WaitingProducers() == (multi ? 2 : 1); });
  auto halt = std::async(std::launch::async, [&] { d_.Halt(); });
  EXPECT_FALSE(blocked_next.get());  // Returns while the consumer is stalled.
  EXPECT_TRUE(absl::IsCancelled(blocked_next_for.get()));
  EXPECT_EQ(stalled_.seen(), 0);
  stalled_.Release();
  halt.get();
  EXPECT_FALSE(d_.stage(0).IsRunning());
  EXPECT_LE(downstream_.seen_, 8);
}

// Property: Shutdown(timeout) with a stalled consumer gives up draining after
// the timeout, reports it (false), halts, and completes once the handler
// returns.
TEST_P(StalledConsumerTest, ShutdownWithTimeoutGivesUpOnStalledConsumer) {
  Watchdog watchdog("ShutdownWithTimeoutGivesUpOnStalledConsumer", seconds(60));
  FillRing();
  auto shutdown = std::async(
      std::launch::async, [&] { return d_.Shutdown(absl::Milliseconds(50)); });
  WaitUntil([&] { return d_.sequencer().IsHalted(); });
  stalled_.Release();
  EXPECT_FALSE(shutdown.get());
}

INSTANTIATE_TEST_SUITE_P(Producers, StalledConsumerTest,
                         ::testing::Values(ProducerType::kSingle,
                                           ProducerType::kMulti));

// Property: Shutdown() returns only after every stage processed every event
// published before the call, even when they are slower than the producer.
TEST(ShutdownTest, DrainsEverythingPublished) {
  Watchdog watchdog("DrainsEverythingPublished", seconds(60));
  Disruptor<Event> d(16, ProducerType::kMulti, BlockingWaitStrategy());
  CountingHandler a, b;
  d.HandleEventsWith(a).Then(b);
  d.Start();
  const int64_t n = Scaled(50000);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(d.PublishEvent([](Event& e, int64_t seq) { e.value = seq; }));
  }
  d.Shutdown();
  EXPECT_EQ(a.seen_, n);
  EXPECT_EQ(b.seen_, n);
  EXPECT_EQ(a.bad_ + b.bad_, 0);
  EXPECT_TRUE(a.started_ && a.shut_down_ && b.started_ && b.shut_down_);
}

// Property: Halt() wakes idle consumers parked in every kind of wait (here
// the blocking strategy's condition variable) and returns.
TEST(ShutdownTest, HaltWakesParkedIdleConsumers) {
  Watchdog watchdog("HaltWakesParkedIdleConsumers", seconds(60));
  Disruptor<Event> d(16, ProducerType::kSingle, BlockingWaitStrategy());
  CountingHandler a, b, c;
  d.HandleEventsWith(a, b).Then(c);
  d.Start();
  WaitUntil([&] { return d.wait_strategy().ParkedWaiters() == 3; });
  d.Halt();
  for (std::size_t i = 0; i < d.num_stages(); ++i) {
    EXPECT_FALSE(d.stage(i).IsRunning());
  }
  d.Halt();  // Idempotent.
}

TEST(ShutdownTest, HaltBeforeStartAndDestructionAreSafe) {
  Watchdog watchdog("HaltBeforeStartAndDestructionAreSafe", seconds(60));
  {
    Disruptor<Event> d(16, ProducerType::kSingle, YieldingWaitStrategy());
    CountingHandler a;
    d.HandleEventsWith(a);
    d.Halt();
  }
  {
    CountingHandler a;
    Disruptor<Event> d(16, ProducerType::kMulti, SleepingWaitStrategy());
    d.HandleEventsWith(a);
    d.Start();
  }  // The destructor halts and joins.
}

// Property: a handler's OnTimeout hook runs when TimeoutBlockingWaitStrategy
// times out, and the processor keeps going afterwards.
TEST(ShutdownTest, TimeoutStrategyCallsOnTimeoutAndContinues) {
  Watchdog watchdog("TimeoutStrategyCallsOnTimeoutAndContinues", seconds(60));
  struct TimeoutHandler {
    void OnEvent(Event&, int64_t, bool) { seen.fetch_add(1); }
    void OnTimeout(int64_t) { timeouts.fetch_add(1); }
    std::atomic<int64_t> seen{0};
    std::atomic<int64_t> timeouts{0};
  } h;
  Disruptor<Event> d(16, ProducerType::kSingle,
                     TimeoutBlockingWaitStrategy(absl::Milliseconds(1)));
  d.HandleEventsWith(h);
  d.Start();
  WaitUntil([&] { return h.timeouts.load() >= 2; });
  ASSERT_TRUE(d.PublishEvent([](Event&, int64_t) {}));
  WaitUntil([&] { return h.seen.load() == 1; });
  d.Shutdown();
}

}  // namespace
}  // namespace mvkv::disruptor
