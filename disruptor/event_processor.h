// Event processors: the consumer threads of a Disruptor.
//
// A BatchEventProcessor owns a SequenceBarrier and a Sequence. Its Run() loop
// waits on the barrier for the next available sequence, hands every event of
// the available batch to the handler, then publishes its progress by
// advancing its Sequence (which later stages and the producers gate on).
//
// The handler type needs
//   void OnEvent(T& event, int64_t sequence, bool end_of_batch);
// and may have, detected at compile time:
//   void OnStart();                       // on the processor thread, first
//   void OnShutdown();                    // on the processor thread, last
//   void OnBatchStart(int64_t size);      // before each batch's first event
//   void OnTimeout(int64_t next_sequence);  // TimeoutBlockingWaitStrategy
// `end_of_batch` is true on the last event the processor knows to be
// available: a natural point to flush (e.g. one group commit per batch).
// OnEvent must not throw; the handler is held by reference and must outlive
// the processor.
//
// Thread safety: Run() is called once, on the processor's own thread. Halt(),
// IsRunning(), sequence(), Lag() may be called from any thread at any time.
//
// Progress: Run() is blocking (it is the consumer loop). Halt() is wait-free
// (plus the wait strategy's mutex if the processor is parked); the loop exits
// within one wait round, or as soon as the current OnEvent returns: a handler
// stuck in user code cannot be interrupted.
//
// Invariants:
//   1. sequence() only grows, and is advanced (release) only after OnEvent
//      returned for every sequence up to the new value: a stage depending on
//      this one, or a producer reusing a slot, sees the handler's effects.
//   2. Events are delivered in sequence order, each exactly once, with no gap.

#ifndef MVKV_DISRUPTOR_EVENT_PROCESSOR_H_
#define MVKV_DISRUPTOR_EVENT_PROCESSOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "disruptor/ring_buffer.h"
#include "disruptor/sequence.h"
#include "disruptor/sequence_barrier.h"

namespace mvkv::disruptor {

// Type-erased processor, so a Disruptor can own processors of any handler.
class EventProcessor {
 public:
  virtual ~EventProcessor() = default;

  // The consumer loop; returns after Halt(). REQUIRES: called at most once.
  virtual void Run() = 0;
  // Asks Run() to return; idempotent. Events not yet processed are left.
  virtual void Halt() = 0;
  virtual bool IsRunning() const = 0;
  // Highest sequence fully processed (kInitialSequence at first).
  virtual const Sequence& sequence() const = 0;
  // Producer cursor minus sequence(): how far this stage is behind.
  virtual int64_t Lag() const = 0;
  // Whether advancing sequence() signals the wait strategy (needed only when
  // another stage waits on this one through a parking strategy). Default
  // true; Disruptor::Start turns it off for leaf stages. REQUIRES: before Run.
  virtual void SetSignalProgress(bool signal) = 0;
};

template <class T, class Handler>
class BatchEventProcessor final : public EventProcessor {
 public:
  // REQUIRES: `ring` and `handler` outlive the processor; `barrier` was made
  // by the sequencer of `ring`.
  BatchEventProcessor(RingBuffer<T>& ring,
                      std::unique_ptr<SequenceBarrier> barrier,
                      Handler& handler)
      : ring_(ring),
        barrier_(std::move(barrier)),
        handler_(handler),
        signal_(barrier_->wait_strategy().NeedsSignal()) {}

  void Run() override {
    // Relaxed: IsRunning() is an observation, not a synchronisation point.
    running_.store(true, std::memory_order_relaxed);
    if constexpr (requires(Handler & h) { h.OnStart(); }) handler_.OnStart();
    Loop();
    if constexpr (requires(Handler & h) { h.OnShutdown(); }) {
      handler_.OnShutdown();
    }
    running_.store(false, std::memory_order_relaxed);
  }

  void Halt() override { barrier_->Alert(); }
  bool IsRunning() const override {
    return running_.load(std::memory_order_relaxed);
  }
  const Sequence& sequence() const override { return sequence_; }
  int64_t Lag() const override { return barrier_->Cursor() - sequence_.Get(); }
  void SetSignalProgress(bool signal) override {
    signal_ = signal && barrier_->wait_strategy().NeedsSignal();
  }

 private:
  void Loop() {
    int64_t next = sequence_.GetRelaxed() + 1;  // Only this thread writes it.
    while (true) {
      absl::StatusOr<int64_t> available = barrier_->WaitFor(next);
      if (!available.ok()) {
        if (absl::IsCancelled(available.status())) return;  // Halted.
        if constexpr (requires(Handler & h) { h.OnTimeout(next); }) {
          handler_.OnTimeout(next);
        }
        continue;
      }
      next = ProcessBatch(next, *available);
    }
  }

  // Handles [first, last]; returns the next sequence to wait for.
  int64_t ProcessBatch(int64_t first, int64_t last) {
    if constexpr (requires(Handler & h) { h.OnBatchStart(last - first + 1); }) {
      handler_.OnBatchStart(last - first + 1);
    }
    for (int64_t seq = first; seq <= last; ++seq) {
      handler_.OnEvent(ring_[seq], seq, seq == last);
    }
    // Release: pairs with the acquire Get() of dependent stages' barriers and
    // of the producers' gating check (invariant 1).
    sequence_.Set(last);
    if (signal_) barrier_->wait_strategy().SignalAllWhenBlocking();
    return last + 1;
  }

  RingBuffer<T>& ring_;
  const std::unique_ptr<SequenceBarrier> barrier_;
  Handler& handler_;
  bool signal_;  // Wake stages parked on this one (blocking strategies).
  Sequence sequence_;
  std::atomic<bool> running_{false};
};

}  // namespace mvkv::disruptor

#endif  // MVKV_DISRUPTOR_EVENT_PROCESSOR_H_
