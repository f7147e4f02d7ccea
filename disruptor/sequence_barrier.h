// SequenceBarrier: what a consumer waits on. It gates the consumer on the
// producer cursor and on the sequences of the stages the consumer depends on,
// and reports only slots that are published contiguously.
//
// Made by Sequencer::NewBarrier; one barrier per consumer (event processor).
//
// Thread safety: WaitFor is called by the owning consumer thread only.
// Alert, ClearAlert, IsAlerted and Cursor may be called from any thread.
//
// Progress: WaitFor is blocking (see WaitStrategy); it returns Cancelled
// within one wait round after Alert(). Alert/ClearAlert/IsAlerted are
// wait-free except that Alert takes the wait strategy's mutex when a thread
// is parked in it.

#ifndef MVKV_DISRUPTOR_SEQUENCE_BARRIER_H_
#define MVKV_DISRUPTOR_SEQUENCE_BARRIER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "disruptor/alert_flag.h"
#include "disruptor/sequence.h"
#include "disruptor/sequencer.h"
#include "disruptor/wait_strategy.h"

namespace mvkv::disruptor {

class SequenceBarrier final {
 public:
  // REQUIRES: `sequencer` and each dependent outlive the barrier.
  SequenceBarrier(const Sequencer& sequencer,
                  std::vector<const Sequence*> dependents);

  SequenceBarrier(const SequenceBarrier&) = delete;
  SequenceBarrier& operator=(const SequenceBarrier&) = delete;

  // Waits until `seq` is published and every dependent stage has processed
  // it. Returns the highest sequence h >= seq such that all of [seq, h] may
  // be processed. Errors: Cancelled when alerted; DeadlineExceeded when the
  // wait strategy times out (TimeoutBlockingWaitStrategy).
  // If a producer has claimed `seq` but not yet published it, WaitFor backs
  // off (spin, yield, sleep up to 100 us) until it does or an alert comes.
  // REQUIRES: seq >= 0.
  absl::StatusOr<int64_t> WaitFor(int64_t seq);

  // Raises the alert and wakes a waiter parked in the wait strategy.
  void Alert();
  void ClearAlert() { alert_.Clear(); }
  bool IsAlerted() const { return alert_.IsRaised(); }

  // The producer cursor (see Sequencer::Cursor).
  int64_t Cursor() const { return sequencer_.Cursor(); }
  WaitStrategy& wait_strategy() const { return sequencer_.wait_strategy(); }

 private:
  const Sequencer& sequencer_;
  const std::vector<const Sequence*> dependents_;
  AlertFlag alert_;
};

}  // namespace mvkv::disruptor

#endif  // MVKV_DISRUPTOR_SEQUENCE_BARRIER_H_
