// WaitStrategy: how a consumer waits for a sequence to become available.
//
// A consumer (through its SequenceBarrier) asks WaitFor(seq, cursor,
// dependents, alert) for the highest sequence it may process. The sequence is
// available when the producer cursor has reached it and, if the consumer
// depends on other stages, when every one of them has processed it. The
// strategy decides what the thread does meanwhile: spin, yield, sleep, or
// park on a condition variable. Producers call SignalAllWhenBlocking() after
// publishing, and event processors after advancing their own sequence, so
// that parked waiters wake up.
//
// Choosing a strategy (cores = hardware threads free for the Disruptor):
//   BusySpinWaitStrategy    lowest latency; burns a core per consumer. Only
//                           when consumers + producers <= cores.
//   YieldingWaitStrategy    spins, then sched_yield(); low latency, gives the
//                           core away when oversubscribed. 100% CPU when idle.
//   SleepingWaitStrategy    spins, yields, then sleeps ~100 ns per round;
//                           little CPU when idle, latency of a timer slack.
//   BlockingWaitStrategy    mutex + condition variable; no CPU when idle,
//                           microseconds of wake-up latency. Publish pays
//                           one load of a counter unless somebody is parked
//                           (the parking side pays a membarrier system call;
//                           see wait_strategy.cc, "Parking protocol").
//   TimeoutBlockingWaitStrategy  as Blocking, but WaitFor returns
//                           DeadlineExceeded after the timeout (the processor
//                           then calls its handler's OnTimeout() and waits on).
//   PhasedBackoffWaitStrategy    spins for `spin`, yields for `yield`, then
//                           parks like Blocking. The default for machines with
//                           few cores (2 here): fast when busy, idle when not.
//
// Thread safety: one WaitStrategy object is shared by all the consumers and
// producers of a Disruptor; every member function may be called concurrently
// from any number of threads.
//
// Progress: WaitFor is blocking by nature (it waits for other threads). It
// returns within one spin/yield/sleep round, or one condition-variable wake-up,
// after `alert` is raised and SignalAllWhenBlocking() is called (which
// SequenceBarrier::Alert() does). SignalAllWhenBlocking is wait-free when no
// thread is parked (one load; one atomic RMW under TSan or without
// membarrier), and takes a mutex otherwise.

#ifndef MVKV_DISRUPTOR_WAIT_STRATEGY_H_
#define MVKV_DISRUPTOR_WAIT_STRATEGY_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "disruptor/alert_flag.h"
#include "disruptor/sequence.h"

namespace mvkv::disruptor {

class WaitStrategy {
 public:
  virtual ~WaitStrategy() = default;

  // Waits until `seq` is available: cursor >= seq and, when `dependents` is
  // not empty, every dependent >= seq.
  // Returns the highest available sequence (>= seq): the minimum of the
  // dependents, or the cursor when there are none. For a multi-producer
  // sequencer the cursor counts claimed, not yet published, slots: callers
  // must still ask the sequencer which slots are published
  // (SequenceBarrier does).
  // Errors: Cancelled when `alert` is raised (checked before each wait round);
  // DeadlineExceeded for TimeoutBlockingWaitStrategy when its timeout elapses.
  // REQUIRES: seq >= 0.
  virtual absl::StatusOr<int64_t> WaitFor(int64_t seq, const Sequence& cursor,
                                          SequenceGroup dependents,
                                          const AlertFlag& alert) = 0;

  // Wakes every thread parked in WaitFor so it re-checks its condition.
  // Call after advancing any sequence someone may wait on, and after raising
  // an alert. A no-op for the non-parking strategies.
  virtual void SignalAllWhenBlocking() = 0;

  // False if SignalAllWhenBlocking() is a no-op (the strategy never parks), so
  // publishers and processors may skip the call. Asked once, at set-up.
  virtual bool NeedsSignal() const { return true; }

  // Threads parked in WaitFor right now (inside the condition-variable wait,
  // or about to enter it with the lock held, so a signal after this count
  // was read cannot be missed). 0 for strategies that never park. For tests
  // and diagnostics: wait-free, one relaxed load.
  virtual int ParkedWaiters() const { return 0; }
};

// Factories. Each returns a fresh strategy for one Disruptor.
std::unique_ptr<WaitStrategy> BusySpinWaitStrategy();
std::unique_ptr<WaitStrategy> YieldingWaitStrategy();
std::unique_ptr<WaitStrategy> SleepingWaitStrategy();
std::unique_ptr<WaitStrategy> BlockingWaitStrategy();
// REQUIRES: timeout > 0.
std::unique_ptr<WaitStrategy> TimeoutBlockingWaitStrategy(
    absl::Duration timeout);
// Spins for `spin`, then yields until `spin + yield` has elapsed, then parks.
std::unique_ptr<WaitStrategy> PhasedBackoffWaitStrategy(absl::Duration spin,
                                                        absl::Duration yield);

}  // namespace mvkv::disruptor

#endif  // MVKV_DISRUPTOR_WAIT_STRATEGY_H_
