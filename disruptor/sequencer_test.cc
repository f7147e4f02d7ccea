#include "disruptor/sequencer.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "disruptor/internal/test_util.h"
#include "disruptor/sequence_barrier.h"
#include "disruptor/wait_strategy.h"
#include "gtest/gtest.h"

namespace mvkv::disruptor {
namespace {

using disruptor_internal::LoggedSeed;
using disruptor_internal::Scaled;
using disruptor_internal::WaitUntil;
using disruptor_internal::Watchdog;
using std::chrono::seconds;

class SequencerTest : public ::testing::TestWithParam<ProducerType> {
 protected:
  SequencerTest()
      : strategy_(BusySpinWaitStrategy()),
        sequencer_(MakeSequencer(GetParam(), 8, *strategy_)) {
    sequencer_->AddGatingSequences({&consumer_});
  }

  std::unique_ptr<WaitStrategy> strategy_;
  std::unique_ptr<Sequencer> sequencer_;
  Sequence consumer_;
};

TEST_P(SequencerTest, NextReturnsHighestOfClaimedBatch) {
  EXPECT_EQ(sequencer_->Next(), 0);
  EXPECT_EQ(sequencer_->Next(3), 3);
  EXPECT_EQ(*sequencer_->TryNext(2), 5);
}

TEST_P(SequencerTest, PublishMakesSlotsAvailable) {
  const int64_t hi = sequencer_->Next(3);
  EXPECT_FALSE(sequencer_->IsAvailable(0));
  sequencer_->Publish(hi - 2, hi);
  for (int64_t s = 0; s <= hi; ++s) EXPECT_TRUE(sequencer_->IsAvailable(s));
  EXPECT_FALSE(sequencer_->IsAvailable(hi + 1));
  EXPECT_EQ(sequencer_->HighestPublished(0, hi), hi);
}

TEST_P(SequencerTest, TryNextFailsWhenRingIsFullAndClaimsNothing) {
  EXPECT_EQ(sequencer_->Next(8), 7);
  sequencer_->Publish(0, 7);
  EXPECT_EQ(sequencer_->RemainingCapacity(), 0);
  EXPECT_EQ(sequencer_->Occupancy(), 8);
  EXPECT_TRUE(absl::IsResourceExhausted(sequencer_->TryNext().status()));
  EXPECT_TRUE(absl::IsResourceExhausted(sequencer_->TryNext().status()));
  consumer_.Set(1);  // Frees slots 0 and 1.
  EXPECT_TRUE(absl::IsResourceExhausted(sequencer_->TryNext(3).status()));
  EXPECT_EQ(*sequencer_->TryNext(2), 9);  // The failures claimed nothing.
}

TEST_P(SequencerTest, RejectsClaimSizesOutsideTheRing) {
  EXPECT_TRUE(absl::IsInvalidArgument(sequencer_->TryNext(0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(sequencer_->TryNext(9).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      sequencer_->NextFor(9, absl::Seconds(1)).status()));
}

TEST_P(SequencerTest, NextForTimesOutOnFullRing) {
  sequencer_->Publish(0, sequencer_->Next(8));
  absl::StatusOr<int64_t> claimed =
      sequencer_->NextFor(1, absl::Milliseconds(20));
  EXPECT_TRUE(absl::IsDeadlineExceeded(claimed.status())) << claimed.status();
  consumer_.Set(0);
  EXPECT_EQ(*sequencer_->NextFor(1, absl::Milliseconds(20)), 8);
}

// Property: a producer waiting in Next() on a full ring returns
// kHaltedSequence once the sequencer is halted.
TEST_P(SequencerTest, HaltWakesProducerWaitingInNext) {
  Watchdog watchdog("HaltWakesProducerWaitingInNext", seconds(60));
  sequencer_->Publish(0, sequencer_->Next(8));
  auto next =
      std::async(std::launch::async, [&] { return sequencer_->Next(); });
  WaitUntil([&] { return sequencer_->WaitingProducers() == 1; });
  sequencer_->Halt();
  EXPECT_EQ(next.get(), kHaltedSequence);
}

// Property: as above for NextFor with no deadline: it returns Cancelled.
TEST_P(SequencerTest, HaltCancelsProducerWaitingInNextFor) {
  Watchdog watchdog("HaltCancelsProducerWaitingInNextFor", seconds(60));
  sequencer_->Publish(0, sequencer_->Next(8));
  auto next_for = std::async(std::launch::async, [&] {
    return sequencer_->NextFor(1, absl::InfiniteDuration());
  });
  WaitUntil([&] { return sequencer_->WaitingProducers() == 1; });
  sequencer_->Halt();
  EXPECT_TRUE(absl::IsCancelled(next_for.get().status()));
}

// Property: with concurrent producers mixing Next(n), TryNext(n) and
// NextFor(n), every sequence is claimed by exactly one producer, and a
// consumer advancing the gating sequence sees every slot published.
TEST_P(SequencerTest, ConcurrentClaimsAreUniqueAndComplete) {
  if (GetParam() == ProducerType::kSingle) GTEST_SKIP() << "one producer";
  Watchdog watchdog("ConcurrentClaimsAreUniqueAndComplete", seconds(60));
  const uint64_t seed = LoggedSeed();
  constexpr int kProducers = 4;
  const int64_t per_producer = Scaled(20000);
  const int64_t total = kProducers * per_producer;
  std::vector<std::atomic<int>> claimed_by(total);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937_64 rng(seed + p);
      for (int64_t done = 0; done < per_producer;) {
        const int n = static_cast<int>(
            std::min<int64_t>(1 + rng() % 3, per_producer - done));
        int64_t hi;
        switch (rng() % 3) {
          case 0:
            hi = sequencer_->Next(n);
            break;
          case 1: {
            absl::StatusOr<int64_t> s = sequencer_->TryNext(n);
            if (!s.ok()) continue;
            hi = *s;
            break;
          }
          default:
            hi = *sequencer_->NextFor(n, absl::InfiniteDuration());
        }
        for (int64_t s = hi - n + 1; s <= hi; ++s) claimed_by[s].fetch_add(1);
        sequencer_->Publish(hi - n + 1, hi);
        done += n;
      }
    });
  }
  // The consumer: frees slots only once they are published, in order.
  for (int64_t next = 0; next < total;) {
    const int64_t hi = sequencer_->HighestPublished(next, sequencer_->Cursor());
    if (hi >= next) {
      consumer_.Set(hi);
      next = hi + 1;
    } else {
      std::this_thread::yield();
    }
  }
  for (std::thread& t : producers) t.join();
  EXPECT_EQ(sequencer_->Cursor(), total - 1);
  for (int64_t s = 0; s < total; ++s) {
    ASSERT_EQ(claimed_by[s].load(), 1) << "sequence " << s;
  }
}

INSTANTIATE_TEST_SUITE_P(Producers, SequencerTest,
                         ::testing::Values(ProducerType::kSingle,
                                           ProducerType::kMulti),
                         [](const auto& info) {
                           return info.param == ProducerType::kSingle ? "Single"
                                                                      : "Multi";
                         });

TEST(MultiProducerSequencerTest, HighestPublishedStopsAtFirstUnpublishedSlot) {
  auto strategy = BusySpinWaitStrategy();
  MultiProducerSequencer sequencer(8, *strategy);
  const int64_t a = sequencer.Next();
  const int64_t b = sequencer.Next();
  const int64_t c = sequencer.Next();
  sequencer.Publish(a);
  sequencer.Publish(c);
  EXPECT_EQ(sequencer.Cursor(), c);  // The cursor counts claims.
  EXPECT_EQ(sequencer.HighestPublished(0, c), a);
  sequencer.Publish(b);
  EXPECT_EQ(sequencer.HighestPublished(0, c), c);
}

TEST(MultiProducerSequencerTest, AvailabilityDistinguishesLaps) {
  auto strategy = BusySpinWaitStrategy();
  MultiProducerSequencer sequencer(4, *strategy);
  sequencer.Publish(0, sequencer.Next(4));
  EXPECT_TRUE(sequencer.IsAvailable(3));
  EXPECT_FALSE(sequencer.IsAvailable(7));  // Same slot, next lap.
  sequencer.Publish(sequencer.Next(4) - 3, 7);
  EXPECT_TRUE(sequencer.IsAvailable(7));
  EXPECT_FALSE(sequencer.IsAvailable(3));
}

TEST(SequenceBarrierTest, ReturnsOnlyPublishedPrefixAndHonoursAlert) {
  auto strategy = BusySpinWaitStrategy();
  MultiProducerSequencer sequencer(8, *strategy);
  std::unique_ptr<SequenceBarrier> barrier = sequencer.NewBarrier({});
  const int64_t a = sequencer.Next(2);
  sequencer.Publish(a - 1, a);
  sequencer.Next();  // Claimed, never published.
  EXPECT_EQ(*barrier->WaitFor(0), a);
  barrier->Alert();
  EXPECT_TRUE(barrier->IsAlerted());
  EXPECT_TRUE(absl::IsCancelled(barrier->WaitFor(2).status()));
  barrier->ClearAlert();
  EXPECT_EQ(*barrier->WaitFor(1), a);
}

TEST(SequenceBarrierTest, GatesOnDependentStages) {
  auto strategy = BusySpinWaitStrategy();
  SingleProducerSequencer sequencer(8, *strategy);
  Sequence upstream;
  std::unique_ptr<SequenceBarrier> barrier = sequencer.NewBarrier({&upstream});
  sequencer.Publish(0, sequencer.Next(5));
  upstream.Set(2);
  EXPECT_EQ(*barrier->WaitFor(0), 2);  // Not 4: upstream is at 2.
}

}  // namespace
}  // namespace mvkv::disruptor
