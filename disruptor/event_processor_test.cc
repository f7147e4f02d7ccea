// BatchEventProcessor wired by hand (no DSL): the lower-level API a user can
// take alone — sequencer, barrier, processor, own thread.

#include "disruptor/event_processor.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "disruptor/internal/test_util.h"
#include "disruptor/ring_buffer.h"
#include "disruptor/sequencer.h"
#include "disruptor/wait_strategy.h"
#include "gtest/gtest.h"

namespace mvkv::disruptor {
namespace {

using disruptor_internal::Scaled;
using disruptor_internal::Watchdog;

struct Event {
  int64_t value = 0;
};

// Records hooks, batch boundaries and the delivered values.
class RecordingHandler {
 public:
  void OnStart() { started_ = true; }
  void OnShutdown() { shut_down_ = true; }
  void OnBatchStart(int64_t size) {
    if (in_batch_ != 0) ++errors_;  // Previous batch did not end.
    in_batch_ = size;
    batch_sizes_ += size;
  }
  void OnEvent(Event& e, int64_t seq, bool end_of_batch) {
    if (e.value != seq) ++errors_;
    --in_batch_;
    if (end_of_batch != (in_batch_ == 0)) ++errors_;
    if (end_of_batch) ++batches_;
    ++seen_;
  }

  bool started_ = false;
  bool shut_down_ = false;
  int64_t in_batch_ = 0;
  int64_t batch_sizes_ = 0;
  int64_t batches_ = 0;
  int64_t seen_ = 0;
  int64_t errors_ = 0;
};

// Property: a hand-wired processor delivers every event once, in order;
// end_of_batch is true exactly on the last event of each batch announced by
// OnBatchStart; the hooks run once; Halt stops Run().
TEST(BatchEventProcessorTest, HandWiredProcessorDeliversBatchesAndHooks) {
  Watchdog watchdog("HandWiredProcessorDeliversBatchesAndHooks",
                    std::chrono::seconds(60));
  std::unique_ptr<WaitStrategy> strategy = BlockingWaitStrategy();
  RingBuffer<Event> ring(16);
  SingleProducerSequencer sequencer(ring.size(), *strategy);
  RecordingHandler handler;
  BatchEventProcessor<Event, RecordingHandler> processor(
      ring, sequencer.NewBarrier({}), handler);
  sequencer.AddGatingSequences({&processor.sequence()});
  std::thread consumer([&] { processor.Run(); });

  const int64_t n = Scaled(100000);
  for (int64_t i = 0; i < n;) {
    const int batch = static_cast<int>(std::min<int64_t>(1 + i % 5, n - i));
    const int64_t hi = sequencer.Next(batch);
    for (int64_t s = hi - batch + 1; s <= hi; ++s) ring[s].value = s;
    sequencer.Publish(hi - batch + 1, hi);
    i += batch;
  }
  while (processor.sequence().Get() < n - 1) std::this_thread::yield();
  EXPECT_EQ(processor.Lag(), 0);
  processor.Halt();
  consumer.join();

  EXPECT_FALSE(processor.IsRunning());
  EXPECT_TRUE(handler.started_);
  EXPECT_TRUE(handler.shut_down_);
  EXPECT_EQ(handler.seen_, n);
  EXPECT_EQ(handler.batch_sizes_, n);
  EXPECT_GE(handler.batches_, 1);
  EXPECT_EQ(handler.errors_, 0);
}

}  // namespace
}  // namespace mvkv::disruptor
