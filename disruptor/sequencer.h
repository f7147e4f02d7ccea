// Sequencers: how producers claim ring slots and publish them to consumers.
//
// A producer claims one or more slots (Next/TryNext/NextFor), writes the
// events into the RingBuffer, then publishes the claimed range (Publish).
// Consumers learn what is published from the cursor and, for several
// producers, from per-slot availability flags. The producer side gates on the
// slowest leaf consumer (AddGatingSequences): a slot is reused only after
// every leaf consumer has moved past its previous occupant.
//
//   SingleProducerSequencer  one producer thread; claims are plain writes.
//   MultiProducerSequencer   any number of producer threads; Next claims by
//                            fetch_add on the cursor, TryNext/NextFor by CAS
//                            (so a failed or timed-out claim claims nothing).
//
// Thread safety:
//   - Single: Next/TryNext/NextFor/Publish from one producer thread only
//     (the same one, or threads ordered by external synchronisation).
//   - Multi: Next/TryNext/NextFor/Publish from any thread, concurrently.
//   - Cursor/IsAvailable/HighestPublished/RemainingCapacity/Occupancy/Halt/
//     IsHalted/NewBarrier: any thread, any time.
//   - AddGatingSequences: REQUIRES no concurrent claim (call during set-up,
//     before producers start).
//
// Halting: Halt() raises the sequencer's alert. Claims waiting for free slots
// then return: Next() returns kHaltedSequence (nothing usable is claimed; the
// caller must not publish), NextFor() returns Cancelled. Halt is terminal for
// producers: a MultiProducerSequencer's Next() has already taken its slots by
// fetch_add when it starts waiting, and those slots stay claimed and never
// published, so consumers must be halted too (Disruptor::Halt does both).
// A halt-aware blocking claim that returns a status is NextFor(n,
// absl::InfiniteDuration()).
//
// Producer-side wait policy: a claim waiting for free slots spins 64 rounds,
// yields 64 rounds, then sleeps with exponential back-off from 1 us to
// 100 us, checking the alert and the deadline every round. So a halt or a
// timeout is noticed within ~100 us, and a full ring costs no CPU.
//
// Progress guarantees:
//   Next           blocking while the ring is full; otherwise wait-free
//                  (single) / wait-free fetch_add (multi).
//   TryNext        wait-free (single); lock-free CAS loop (multi).
//   NextFor        blocking, bounded by the timeout or a halt.
//   Publish        wait-free (plus a mutex only when a consumer is parked in
//                  a blocking wait strategy).
//   Cursor, IsAvailable, Halt, IsHalted: wait-free.
//   HighestPublished: wait-free, O(available - lo) for multi.
//   RemainingCapacity, Occupancy: wait-free, O(gating sequences).
//
// Invariants (both sequencers):
//   1. Every claimed sequence is returned to exactly one caller.
//   2. A slot s is claimed only when s - buffer_size <= the minimum gating
//      sequence, i.e. every leaf consumer is done with the slot's previous
//      occupant.
//   3. A consumer sees slot s as available only after its producer's
//      Publish(s); the release store of the publication pairs with the
//      consumer's acquire load, so the event written before Publish is visible.

#ifndef MVKV_DISRUPTOR_SEQUENCER_H_
#define MVKV_DISRUPTOR_SEQUENCER_H_

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "disruptor/alert_flag.h"
#include "disruptor/sequence.h"
#include "disruptor/wait_strategy.h"

namespace mvkv::disruptor {

class SequenceBarrier;

// Returned by Next() when the sequencer is halted while the claim waits.
inline constexpr int64_t kHaltedSequence = -2;

enum class ProducerType { kSingle, kMulti };

class Sequencer {
 public:
  // REQUIRES: buffer_size is a power of two; `wait_strategy` outlives this.
  Sequencer(std::size_t buffer_size, WaitStrategy& wait_strategy);
  virtual ~Sequencer() = default;

  Sequencer(const Sequencer&) = delete;
  Sequencer& operator=(const Sequencer&) = delete;

  // Claims `n` consecutive slots, waiting (see "Producer-side wait policy")
  // while fewer than `n` are free. Returns the highest claimed sequence; the
  // claim is [result - n + 1, result]. Returns kHaltedSequence if the
  // sequencer is halted while waiting.
  // REQUIRES: 1 <= n <= buffer_size.
  virtual int64_t Next(int n = 1) = 0;

  // As Next, but never waits. Errors: ResourceExhausted when fewer than `n`
  // slots are free (nothing is claimed); InvalidArgument when n is out of
  // range.
  virtual absl::StatusOr<int64_t> TryNext(int n = 1) = 0;

  // As Next, giving up after `timeout`. Nothing is claimed on error.
  // Errors: DeadlineExceeded on timeout; Cancelled if halted;
  // InvalidArgument when n is out of range.
  virtual absl::StatusOr<int64_t> NextFor(int n, absl::Duration timeout) = 0;

  // Makes claimed slot `seq`, or the claimed range [lo, hi], visible to
  // consumers. REQUIRES: the caller claimed these slots and wrote them.
  virtual void Publish(int64_t seq) = 0;
  virtual void Publish(int64_t lo, int64_t hi) = 0;

  // Single: highest published sequence. Multi: highest claimed sequence
  // (use HighestPublished for what consumers may read). Acquire load.
  int64_t Cursor() const { return cursor_.Get(); }
  const Sequence& cursor_sequence() const { return cursor_; }

  // True if slot `seq` is published (in its current lap of the ring).
  virtual bool IsAvailable(int64_t seq) const = 0;

  // The highest sequence h in [lo - 1, available] such that every slot of
  // [lo, h] is published. REQUIRES: available <= Cursor().
  virtual int64_t HighestPublished(int64_t lo, int64_t available) const = 0;

  // Producers will not overwrite a slot before these sequences pass it.
  // REQUIRES: no concurrent claim; the sequences outlive this sequencer.
  void AddGatingSequences(std::initializer_list<const Sequence*> sequences);
  void AddGatingSequences(SequenceGroup sequences);

  // A barrier for a consumer that processes a slot only after the producer
  // and every stage in `dependents` did. The result uses this sequencer and
  // its wait strategy, and must not outlive them.
  std::unique_ptr<SequenceBarrier> NewBarrier(
      std::vector<const Sequence*> dependents);

  // Free slots, as seen now. May be stale by the time it is used.
  int64_t RemainingCapacity() const;
  // Slots claimed (multi) or published (single) and not yet consumed by the
  // slowest gating (leaf) consumer: Cursor() - min(gating).
  int64_t Occupancy() const;

  void Halt();
  bool IsHalted() const { return halted_.IsRaised(); }
  // Producers waiting for a free slot right now (in Next/NextFor's slow
  // path). For tests and diagnostics: wait-free, one relaxed load.
  int WaitingProducers() const {
    return waiting_producers_.load(std::memory_order_relaxed);
  }

  std::size_t buffer_size() const { return buffer_size_; }
  WaitStrategy& wait_strategy() const { return wait_strategy_; }

 protected:
  // Slot counts are compared with sequences, hence signed.
  int64_t size() const { return static_cast<int64_t>(buffer_size_); }
  bool ValidClaimSize(int n) const { return n >= 1 && n <= size(); }
  // min(gating), or `if_none` when nothing gates the producers.
  int64_t MinimumGating(int64_t if_none) const {
    return MinimumSequence(gating_, if_none);
  }
  // Runs `try_claim` until it returns a claim, the deadline passes (none:
  // wait forever) or the sequencer is halted, backing off between rounds.
  template <class TryClaim>
  absl::StatusOr<int64_t> ClaimWithBackoff(
      TryClaim try_claim, std::optional<absl::Time> deadline) const;
  // Wakes consumers parked in the wait strategy, if it can park any.
  void SignalWaiters() {
    if (signal_) wait_strategy_.SignalAllWhenBlocking();
  }

  Sequence cursor_;  // See Cursor().
  WaitStrategy& wait_strategy_;
  const bool signal_;  // wait_strategy_.NeedsSignal().

 private:
  const std::size_t buffer_size_;
  std::vector<const Sequence*> gating_;
  AlertFlag halted_;
  // Relaxed: a count for observers only (WaitingProducers).
  mutable std::atomic<int> waiting_producers_{0};
};

class SingleProducerSequencer final : public Sequencer {
 public:
  SingleProducerSequencer(std::size_t buffer_size, WaitStrategy& wait_strategy);

  // The fast paths are inline: callers holding the final type (see
  // Disruptor::PublishEvent) pay no virtual call.
  int64_t Next(int n = 1) override {
    assert(ValidClaimSize(n));
    if (state_.next_value + n - size() <= state_.cached_gating) {
      return state_.next_value += n;
    }
    return NextSlow(n);
  }
  absl::StatusOr<int64_t> TryNext(int n = 1) override;
  absl::StatusOr<int64_t> NextFor(int n, absl::Duration timeout) override;
  void Publish(int64_t seq) override {
    cursor_.Set(seq);  // Release: pairs with consumers' acquire Cursor().
    SignalWaiters();
  }
  void Publish(int64_t /*lo*/, int64_t hi) override { Publish(hi); }
  bool IsAvailable(int64_t seq) const override;
  int64_t HighestPublished(int64_t /*lo*/, int64_t available) const override {
    return available;  // The cursor only ever covers published slots.
  }

 private:
  // True if n more slots are free; refreshes the gating cache if needed.
  bool HasCapacity(int n);
  int64_t NextSlow(int n);

  // Written and read by the producer thread only; on their own cache line so
  // that consumers reading cursor_ do not share it.
  struct alignas(kCacheLineSize) ProducerState {
    int64_t next_value = kInitialSequence;     // Highest claimed.
    int64_t cached_gating = kInitialSequence;  // Last min(gating) seen.
  };
  ProducerState state_;
};

class MultiProducerSequencer final : public Sequencer {
 public:
  MultiProducerSequencer(std::size_t buffer_size, WaitStrategy& wait_strategy);

  int64_t Next(int n = 1) override {
    assert(ValidClaimSize(n));
    // acq_rel fetch_add: claims are unique (invariant 1); pairs with other
    // claimers' fetch_add/CAS on cursor_.
    const int64_t next = cursor_.AddAndGet(n);
    // Relaxed-enough hint: gating_cache_ only ever holds a past minimum.
    if (next - size() <= gating_cache_.Get()) return next;
    return NextSlow(next, n);
  }
  absl::StatusOr<int64_t> TryNext(int n = 1) override;
  absl::StatusOr<int64_t> NextFor(int n, absl::Duration timeout) override;
  void Publish(int64_t seq) override {
    // Release: pairs with the acquire load in IsAvailable (invariant 3).
    Flag(seq).store(Round(seq), std::memory_order_release);
    SignalWaiters();
  }
  void Publish(int64_t lo, int64_t hi) override;
  bool IsAvailable(int64_t seq) const override {
    // Acquire: pairs with the release store in Publish.
    return Flag(seq).load(std::memory_order_acquire) == Round(seq);
  }
  int64_t HighestPublished(int64_t lo, int64_t available) const override;

 private:
  // True if slots (current, current + n] are free.
  bool HasCapacity(int64_t current, int n) const;
  // Next() when the cached gating minimum is too low: waits for the slots.
  int64_t NextSlow(int64_t next, int n);
  int64_t Round(int64_t seq) const { return seq >> index_shift_; }
  std::atomic<int64_t>& Flag(int64_t seq) const {
    return available_[static_cast<std::size_t>(seq & mask_)];
  }

  // Last min(gating) seen by any producer; a hint, refreshed when stale.
  mutable Sequence gating_cache_;
  const int index_shift_;
  const int64_t mask_;
  // available_[s & mask_] == Round(s) iff slot s is published in its
  // current lap. Initially -1 (no lap published).
  const std::unique_ptr<std::atomic<int64_t>[]> available_;
};

// Makes the sequencer for `type`. REQUIRES: as the constructors.
std::unique_ptr<Sequencer> MakeSequencer(ProducerType type,
                                         std::size_t buffer_size,
                                         WaitStrategy& wait_strategy);

}  // namespace mvkv::disruptor

#endif  // MVKV_DISRUPTOR_SEQUENCER_H_
