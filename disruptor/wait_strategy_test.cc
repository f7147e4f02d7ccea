#include "disruptor/wait_strategy.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "disruptor/internal/asymmetric_fence.h"
#include "disruptor/internal/test_util.h"
#include "gtest/gtest.h"

namespace mvkv::disruptor {
namespace {

using disruptor_internal::Watchdog;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct StrategyCase {
  std::string name;
  std::function<std::unique_ptr<WaitStrategy>()> make;
};

std::vector<StrategyCase> AllStrategies() {
  return {
      {"BusySpin", [] { return BusySpinWaitStrategy(); }},
      {"Yielding", [] { return YieldingWaitStrategy(); }},
      {"Sleeping", [] { return SleepingWaitStrategy(); }},
      {"Blocking", [] { return BlockingWaitStrategy(); }},
      // A long timeout: it must never fire in these tests.
      {"TimeoutBlocking",
       [] { return TimeoutBlockingWaitStrategy(absl::Seconds(100)); }},
      {"PhasedBackoff",
       [] {
         return PhasedBackoffWaitStrategy(absl::Microseconds(50),
                                          absl::Microseconds(50));
       }},
  };
}

class WaitStrategyTest : public ::testing::TestWithParam<StrategyCase> {
 protected:
  // Returns once the waiter started by the test is parked, for the
  // strategies that park; the spinning ones see any later change anyway.
  void WaitForWaiter() {
    if (!strategy_->NeedsSignal()) return;
    disruptor_internal::WaitUntil(
        [&] { return strategy_->ParkedWaiters() == 1; });
  }

  std::unique_ptr<WaitStrategy> strategy_ = GetParam().make();
  Sequence cursor_;
  AlertFlag alert_;
};

TEST_P(WaitStrategyTest, ReturnsAtOnceWhenAlreadyAvailable) {
  cursor_.Set(5);
  EXPECT_EQ(*strategy_->WaitFor(3, cursor_, {}, alert_), 5);
}

// Property: an event published after the consumer started waiting (for the
// parking strategies: after it parked) wakes it, and WaitFor returns the
// published sequence. The bound is the watchdog's: generous, no timing is
// asserted.
TEST_P(WaitStrategyTest, PublishAfterWaitWakesConsumer) {
  Watchdog watchdog("PublishAfterWaitWakesConsumer/" + GetParam().name,
                    seconds(60));
  auto waiter = std::async(std::launch::async, [&] {
    return strategy_->WaitFor(0, cursor_, {}, alert_);
  });
  WaitForWaiter();
  cursor_.Set(0);
  strategy_->SignalAllWhenBlocking();
  absl::StatusOr<int64_t> got = waiter.get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, 0);
}

// Property: a consumer waiting on a dependent stage wakes when that stage
// advances (and signals), and gets the dependent's sequence, not the cursor.
TEST_P(WaitStrategyTest, DependentAdvanceWakesConsumer) {
  Watchdog watchdog("DependentAdvanceWakesConsumer/" + GetParam().name,
                    seconds(60));
  Sequence upstream;
  const Sequence* dependents[] = {&upstream};
  cursor_.Set(10);
  auto waiter = std::async(std::launch::async, [&] {
    return strategy_->WaitFor(2, cursor_, dependents, alert_);
  });
  WaitForWaiter();
  upstream.Set(4);
  strategy_->SignalAllWhenBlocking();
  absl::StatusOr<int64_t> got = waiter.get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, 4);
}

// Property: raising the alert (then signalling, as SequenceBarrier::Alert
// does) makes a waiting consumer return Cancelled.
TEST_P(WaitStrategyTest, AlertWakesWaiterWithCancelled) {
  Watchdog watchdog("AlertWakesWaiterWithCancelled/" + GetParam().name,
                    seconds(60));
  auto waiter = std::async(std::launch::async, [&] {
    return strategy_->WaitFor(0, cursor_, {}, alert_);
  });
  WaitForWaiter();
  alert_.Raise();
  strategy_->SignalAllWhenBlocking();
  EXPECT_TRUE(absl::IsCancelled(waiter.get().status()));
}

// Property: many publish/wait round trips between two threads never lose a
// wake-up (a lost one would hang until the watchdog fires).
TEST_P(WaitStrategyTest, PingPongNeverLosesAWakeUp) {
  Watchdog watchdog("PingPongNeverLosesAWakeUp/" + GetParam().name,
                    seconds(60));
  const int64_t rounds = disruptor_internal::Scaled(20000);
  Sequence pong;
  std::thread responder([&] {
    for (int64_t i = 0; i < rounds; ++i) {
      ASSERT_TRUE(strategy_->WaitFor(i, cursor_, {}, alert_).ok());
      pong.Set(i);
      strategy_->SignalAllWhenBlocking();
    }
  });
  for (int64_t i = 0; i < rounds; ++i) {
    cursor_.Set(i);
    strategy_->SignalAllWhenBlocking();
    ASSERT_TRUE(strategy_->WaitFor(i, pong, {}, alert_).ok());
  }
  responder.join();
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, WaitStrategyTest,
                         ::testing::ValuesIn(AllStrategies()),
                         [](const auto& info) { return info.param.name; });

// Both parking variants are tested: this binary runs once as is and once with
// MVKV_DISRUPTOR_NO_MEMBARRIER set (wait_strategy_symmetric_test).
TEST(ParkingProtocolTest, UsesTheRequestedVariant) {
  const bool asymmetric = disruptor_internal::AsymmetricFencesAvailable();
  std::fprintf(stderr, "parking protocol: %s\n",
               asymmetric ? "asymmetric (membarrier)" : "symmetric (RMW)");
  if (std::getenv("MVKV_DISRUPTOR_NO_MEMBARRIER") != nullptr) {
    EXPECT_FALSE(asymmetric);
  }
}

TEST(TimeoutBlockingWaitStrategyTest, ReturnsDeadlineExceededWhenNothingComes) {
  Watchdog watchdog("ReturnsDeadlineExceededWhenNothingComes", seconds(60));
  auto strategy = TimeoutBlockingWaitStrategy(absl::Milliseconds(10));
  Sequence cursor;
  AlertFlag alert;
  const absl::Time start = absl::Now();
  absl::StatusOr<int64_t> got = strategy->WaitFor(0, cursor, {}, alert);
  EXPECT_TRUE(absl::IsDeadlineExceeded(got.status())) << got.status();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(10));
}

}  // namespace
}  // namespace mvkv::disruptor
