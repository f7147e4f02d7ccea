// Disruptor<T>: an LMAX-style Disruptor — a pre-allocated ring of events
// passed from producers to a graph of consumer stages without locks or
// queues — and the DSL that wires it.
//
// What it is. Producers claim slots of a power-of-two RingBuffer<T> from a
// Sequencer, fill the events in place and publish them. Each consumer stage
// is a BatchEventProcessor running a caller-owned handler on its own thread;
// it waits (WaitStrategy) on a SequenceBarrier that gates it on the producer
// cursor and on the stages it depends on. Producers gate on the slowest leaf
// stage, so no slot is overwritten before every stage is done with it.
// Nothing allocates after Start(); the only shared writes on the hot path are
// the cursor (or, with several producers, one claim counter and per-slot
// flags) and each stage's own sequence.
//
// Graphs:
//   unicast    d.HandleEventsWith(a);
//   pipeline   d.HandleEventsWith(a).Then(b).Then(c);
//   multicast  d.HandleEventsWith(a, b, c);
//   diamond    d.HandleEventsWith(a, b).Then(c);    // c after both a and b
//              or d.After(ga, gb).HandleEventsWith(c) for separate groups.
//
// Example:
//   Disruptor<Event> d(1024, ProducerType::kMulti,
//                      PhasedBackoffWaitStrategy(absl::Microseconds(20),
//                                                absl::Microseconds(200)));
//   d.HandleEventsWith(validate).Then(persist).Then(complete);
//   d.Start();
//   d.PublishEvent([&](Event& e, int64_t seq) { e = ...; });
//   d.Shutdown();   // drains what was published, then stops the threads
//
// When not to use it: when producers and consumers together exceed the cores
// and latency does not matter, a mutex + condition-variable queue is simpler;
// busy-spinning strategies then waste the cores the consumers need (use
// PhasedBackoff or Blocking). The ring is bounded: a producer faster than the
// slowest stage waits (Next), fails (TryNext) or times out (NextFor).
//
// Thread safety: set-up (HandleEventsWith, Then, After, Start) from one thread
// before any event is published. Then: producers call ring()/sequencer()/
// PublishEvent per the sequencer's contract (one producer thread for
// kSingle, any for kMulti); Occupancy, StageLags, Halt and Shutdown from any
// thread; Halt/Shutdown concurrently with each other too.
//
// Shutting down never hangs on the Disruptor's own waits: Halt() raises the
// sequencer's alert (claims waiting on a full ring return, see sequencer.h)
// and every barrier's alert, then joins the processor threads. It can only
// wait for a handler that is inside OnEvent. Shutdown(timeout) first waits, up
// to `timeout`, for the leaf stages to consume everything published
// contiguously at the time of the call, then halts.
//
// Progress: Start, Halt, Shutdown are blocking (thread creation and joins).
// Occupancy and StageLags are wait-free. PublishEvent is as Sequencer::Next.

#ifndef MVKV_DISRUPTOR_DISRUPTOR_H_
#define MVKV_DISRUPTOR_DISRUPTOR_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "disruptor/event_processor.h"
#include "disruptor/internal/spin.h"
#include "disruptor/ring_buffer.h"
#include "disruptor/sequence.h"
#include "disruptor/sequence_barrier.h"
#include "disruptor/sequencer.h"
#include "disruptor/wait_strategy.h"

namespace mvkv::disruptor {

template <class T>
class Disruptor;

// A set of stages, as returned by the DSL; new stages added through it
// depend on every stage of the set. Owned by its Disruptor (references stay
// valid for the Disruptor's lifetime).
template <class T>
class EventHandlerGroup final {
 public:
  // Adds one stage per handler, each depending on every stage of this group.
  // REQUIRES: set-up phase (before Start); each handler used once.
  template <class... Handlers>
  EventHandlerGroup& Then(Handlers&... handlers) {
    return disruptor_->AddStages(processors_, handlers...);
  }
  template <class... Handlers>
  EventHandlerGroup& HandleEventsWith(Handlers&... handlers) {
    return Then(handlers...);
  }
  // The union of this group and `other`.
  EventHandlerGroup& And(const EventHandlerGroup& other) {
    return disruptor_->Union({this, &other});
  }
  // The stages' sequences (for barriers or gating built by hand).
  std::vector<const Sequence*> sequences() const {
    std::vector<const Sequence*> result;
    for (const EventProcessor* p : processors_)
      result.push_back(&p->sequence());
    return result;
  }

  EventHandlerGroup(Disruptor<T>* disruptor,
                    std::vector<EventProcessor*> processors)
      : disruptor_(disruptor), processors_(std::move(processors)) {}

 private:
  friend class Disruptor<T>;
  Disruptor<T>* disruptor_;
  std::vector<EventProcessor*> processors_;
};

template <class T>
class Disruptor final {
 public:
  // REQUIRES: ring_size is a power of two; wait_strategy is not null.
  Disruptor(std::size_t ring_size, ProducerType producer_type,
            std::unique_ptr<WaitStrategy> wait_strategy)
      : wait_strategy_(std::move(wait_strategy)),
        ring_(ring_size),
        sequencer_(MakeSequencer(producer_type, ring_size, *wait_strategy_)),
        single_(dynamic_cast<SingleProducerSequencer*>(sequencer_.get())),
        multi_(dynamic_cast<MultiProducerSequencer*>(sequencer_.get())) {}

  // Halts (without draining) if still running.
  ~Disruptor() { Halt(); }

  Disruptor(const Disruptor&) = delete;
  Disruptor& operator=(const Disruptor&) = delete;

  // New stages that depend only on the producers.
  // REQUIRES: set-up phase; each handler used once in this Disruptor.
  template <class... Handlers>
  EventHandlerGroup<T>& HandleEventsWith(Handlers&... handlers) {
    return AddStages({}, handlers...);
  }

  // A group whose new stages depend on every stage of `groups`.
  template <class... Groups>
  EventHandlerGroup<T>& After(const Groups&... groups) {
    return Union({&groups...});
  }

  // Gates producers on the leaf stages and starts one thread per stage.
  // REQUIRES: called once, after the graph is declared.
  void Start();

  // Stops every stage now: raises all alerts, joins the threads. Events
  // published but not yet processed are left. Idempotent; safe before Start.
  void Halt();

  // Waits for the leaf stages to process everything published (contiguously)
  // when called, then halts. Returns true if drained, false if `timeout`
  // passed first (halted anyway). The no-argument form waits as long as it
  // takes.
  bool Shutdown(absl::Duration timeout);
  void Shutdown() { Shutdown(absl::InfiniteDuration()); }

  // Claims one slot (Sequencer::Next), calls fill(event, sequence), publishes.
  // Returns false, publishing nothing, if the sequencer was halted.
  // Calls the final sequencer class directly (no virtual call).
  template <class Fill>
  bool PublishEvent(Fill&& fill) {
    if (single_ != nullptr) return PublishWith(*single_, fill);
    return PublishWith(*multi_, fill);
  }
  // As PublishEvent without waiting; errors as Sequencer::TryNext.
  template <class Fill>
  absl::Status TryPublishEvent(Fill&& fill) {
    absl::StatusOr<int64_t> seq = sequencer_->TryNext();
    if (!seq.ok()) return seq.status();
    fill(ring_[*seq], *seq);
    sequencer_->Publish(*seq);
    return absl::OkStatus();
  }

  // As PublishEvent, giving up after `timeout` (InfiniteDuration: a
  // halt-aware blocking publish). Errors as Sequencer::NextFor:
  // DeadlineExceeded, Cancelled (halted); nothing is claimed on error.
  template <class Fill>
  absl::Status PublishEventFor(Fill&& fill, absl::Duration timeout) {
    absl::StatusOr<int64_t> seq = sequencer_->NextFor(1, timeout);
    if (!seq.ok()) return seq.status();
    fill(ring_[*seq], *seq);
    sequencer_->Publish(*seq);
    return absl::OkStatus();
  }

  RingBuffer<T>& ring() { return ring_; }
  Sequencer& sequencer() { return *sequencer_; }
  WaitStrategy& wait_strategy() { return *wait_strategy_; }

  // Published (or, multi-producer, claimed) and not yet consumed by the
  // slowest leaf stage. Meaningful after Start().
  int64_t Occupancy() const { return sequencer_->Occupancy(); }
  // Cursor minus each stage's sequence, in the order stages were added.
  std::vector<int64_t> StageLags() const;
  std::size_t num_stages() const { return stages_.size(); }
  const EventProcessor& stage(std::size_t i) const {
    return *stages_[i].processor;
  }

 private:
  friend class EventHandlerGroup<T>;

  struct Stage {
    std::unique_ptr<EventProcessor> processor;
    bool is_leaf = true;
  };

  template <class... Handlers>
  EventHandlerGroup<T>& AddStages(const std::vector<EventProcessor*>& after,
                                  Handlers&... handlers);
  template <class Handler>
  EventProcessor* AddStage(const std::vector<EventProcessor*>& after,
                           Handler& handler);
  EventHandlerGroup<T>& Union(
      std::initializer_list<const EventHandlerGroup<T>*> groups);
  template <class S, class Fill>
  bool PublishWith(S& sequencer, Fill& fill) {
    const int64_t seq = sequencer.Next();
    if (seq == kHaltedSequence) return false;
    fill(ring_[seq], seq);
    sequencer.Publish(seq);
    return true;
  }
  int64_t MinimumLeafSequence() const;
  bool WaitForLeaves(int64_t target, absl::Time deadline) const;

  const std::unique_ptr<WaitStrategy> wait_strategy_;
  RingBuffer<T> ring_;
  const std::unique_ptr<Sequencer> sequencer_;
  SingleProducerSequencer* const single_;  // Exactly one of these two is
  MultiProducerSequencer* const multi_;    // set: sequencer_, typed.
  std::vector<Stage> stages_;
  std::deque<EventHandlerGroup<T>> groups_;  // Stable addresses.
  std::vector<const Sequence*> leaves_;
  std::mutex halt_mu_;  // Serialises Halt(): joins happen once.
  std::vector<std::thread> threads_;
  bool started_ = false;
};

// ---------------------------------------------------------------------------
// Implementation.

template <class T>
template <class... Handlers>
EventHandlerGroup<T>& Disruptor<T>::AddStages(
    const std::vector<EventProcessor*>& after, Handlers&... handlers) {
  assert(!started_);
  std::vector<EventProcessor*> added{AddStage(after, handlers)...};
  return groups_.emplace_back(this, std::move(added));
}

template <class T>
template <class Handler>
EventProcessor* Disruptor<T>::AddStage(
    const std::vector<EventProcessor*>& after, Handler& handler) {
  std::vector<const Sequence*> dependents;
  for (EventProcessor* p : after) {
    dependents.push_back(&p->sequence());
    for (Stage& s : stages_) {
      if (s.processor.get() == p) s.is_leaf = false;
    }
  }
  auto processor = std::make_unique<BatchEventProcessor<T, Handler>>(
      ring_, sequencer_->NewBarrier(std::move(dependents)), handler);
  EventProcessor* raw = processor.get();
  stages_.push_back(Stage{std::move(processor), true});
  return raw;
}

template <class T>
EventHandlerGroup<T>& Disruptor<T>::Union(
    std::initializer_list<const EventHandlerGroup<T>*> groups) {
  std::vector<EventProcessor*> all;
  for (const EventHandlerGroup<T>* g : groups) {
    all.insert(all.end(), g->processors_.begin(), g->processors_.end());
  }
  return groups_.emplace_back(this, std::move(all));
}

template <class T>
void Disruptor<T>::Start() {
  assert(!started_);
  started_ = true;
  for (const Stage& s : stages_) {
    // Only stages that others depend on need to wake parked waiters: the
    // producers wait for leaves by back-off, not in the wait strategy.
    s.processor->SetSignalProgress(!s.is_leaf);
    if (s.is_leaf) leaves_.push_back(&s.processor->sequence());
  }
  sequencer_->AddGatingSequences(leaves_);
  for (Stage& s : stages_) {
    threads_.emplace_back([p = s.processor.get()] { p->Run(); });
  }
}

template <class T>
void Disruptor<T>::Halt() {
  sequencer_->Halt();
  for (Stage& s : stages_) s.processor->Halt();
  std::lock_guard<std::mutex> lock(halt_mu_);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

template <class T>
int64_t Disruptor<T>::MinimumLeafSequence() const {
  return MinimumSequence(leaves_, sequencer_->Cursor());
}

template <class T>
bool Disruptor<T>::WaitForLeaves(int64_t target, absl::Time deadline) const {
  disruptor_internal::Backoff backoff;
  while (MinimumLeafSequence() < target) {
    if (absl::Now() >= deadline) return false;
    backoff.Pause();
  }
  return true;
}

template <class T>
bool Disruptor<T>::Shutdown(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  bool drained = true;
  if (started_ && !leaves_.empty()) {
    const int64_t target = sequencer_->HighestPublished(
        MinimumLeafSequence() + 1, sequencer_->Cursor());
    drained = WaitForLeaves(target, deadline);
  }
  Halt();
  return drained;
}

template <class T>
std::vector<int64_t> Disruptor<T>::StageLags() const {
  std::vector<int64_t> lags;
  for (const Stage& s : stages_) lags.push_back(s.processor->Lag());
  return lags;
}

}  // namespace mvkv::disruptor

#endif  // MVKV_DISRUPTOR_DISRUPTOR_H_
