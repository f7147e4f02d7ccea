#include "disruptor/sequencer.h"

#include <bit>
#include <cassert>

#include "absl/status/status.h"
#include "disruptor/internal/spin.h"
#include "disruptor/sequence_barrier.h"

namespace mvkv::disruptor {
namespace {

absl::Status BadClaimSize(int n) {
  return absl::InvalidArgumentError("claim size out of range [1, ring size]");
}

}  // namespace

Sequencer::Sequencer(std::size_t buffer_size, WaitStrategy& wait_strategy)
    : wait_strategy_(wait_strategy),
      signal_(wait_strategy.NeedsSignal()),
      buffer_size_(buffer_size) {
  assert(buffer_size > 0 && std::has_single_bit(buffer_size));
}

void Sequencer::AddGatingSequences(
    std::initializer_list<const Sequence*> sequences) {
  gating_.insert(gating_.end(), sequences.begin(), sequences.end());
}

void Sequencer::AddGatingSequences(SequenceGroup sequences) {
  gating_.insert(gating_.end(), sequences.begin(), sequences.end());
}

std::unique_ptr<SequenceBarrier> Sequencer::NewBarrier(
    std::vector<const Sequence*> dependents) {
  return std::make_unique<SequenceBarrier>(*this, std::move(dependents));
}

int64_t Sequencer::RemainingCapacity() const { return size() - Occupancy(); }

int64_t Sequencer::Occupancy() const {
  const int64_t cursor = Cursor();
  return cursor - MinimumGating(cursor);
}

void Sequencer::Halt() {
  halted_.Raise();
  wait_strategy_.SignalAllWhenBlocking();
}

template <class TryClaim>
absl::StatusOr<int64_t> Sequencer::ClaimWithBackoff(
    TryClaim try_claim, std::optional<absl::Time> deadline) const {
  if (std::optional<int64_t> claimed = try_claim()) return *claimed;
  waiting_producers_.fetch_add(1, std::memory_order_relaxed);
  struct Leave {
    std::atomic<int>& count;
    ~Leave() { count.fetch_sub(1, std::memory_order_relaxed); }
  } leave{waiting_producers_};
  disruptor_internal::Backoff backoff;
  while (true) {
    if (IsHalted()) return absl::CancelledError("sequencer halted");
    if (deadline && absl::Now() >= *deadline) {
      return absl::DeadlineExceededError("no free slot before the timeout");
    }
    backoff.Pause();
    if (std::optional<int64_t> claimed = try_claim()) return *claimed;
  }
}

// ---------------------------------------------------------------------------
// SingleProducerSequencer. state_ is touched by the producer thread only.

SingleProducerSequencer::SingleProducerSequencer(std::size_t buffer_size,
                                                 WaitStrategy& wait_strategy)
    : Sequencer(buffer_size, wait_strategy) {}

bool SingleProducerSequencer::HasCapacity(int n) {
  const int64_t wrap_point = state_.next_value + n - size();
  if (wrap_point <= state_.cached_gating) return true;
  // Acquire loads of the gating sequences pair with the consumers' release
  // Set() after they finished with the slots we are about to overwrite.
  state_.cached_gating = MinimumGating(state_.next_value);
  return wrap_point <= state_.cached_gating;
}

int64_t SingleProducerSequencer::NextSlow(int n) {
  absl::StatusOr<int64_t> claimed = NextFor(n, absl::InfiniteDuration());
  return claimed.ok() ? *claimed : kHaltedSequence;
}

absl::StatusOr<int64_t> SingleProducerSequencer::TryNext(int n) {
  if (!ValidClaimSize(n)) return BadClaimSize(n);
  if (!HasCapacity(n)) return absl::ResourceExhaustedError("ring is full");
  state_.next_value += n;
  return state_.next_value;
}

absl::StatusOr<int64_t> SingleProducerSequencer::NextFor(
    int n, absl::Duration timeout) {
  if (!ValidClaimSize(n)) return BadClaimSize(n);
  if (HasCapacity(n)) return state_.next_value += n;  // Fast path.
  std::optional<absl::Time> deadline;
  if (timeout != absl::InfiniteDuration()) deadline = absl::Now() + timeout;
  return ClaimWithBackoff(
      [this, n]() -> std::optional<int64_t> {
        if (!HasCapacity(n)) return std::nullopt;
        return state_.next_value += n;
      },
      deadline);
}

bool SingleProducerSequencer::IsAvailable(int64_t seq) const {
  const int64_t cursor = Cursor();
  return seq <= cursor && seq > cursor - size();
}

// ---------------------------------------------------------------------------
// MultiProducerSequencer. cursor_ is the claim counter.

MultiProducerSequencer::MultiProducerSequencer(std::size_t buffer_size,
                                               WaitStrategy& wait_strategy)
    : Sequencer(buffer_size, wait_strategy),
      index_shift_(std::countr_zero(buffer_size)),
      mask_(static_cast<int64_t>(buffer_size) - 1),
      available_(new std::atomic<int64_t>[buffer_size]) {
  for (std::size_t i = 0; i < buffer_size; ++i) {
    available_[i].store(-1, std::memory_order_relaxed);  // Before sharing.
  }
}

bool MultiProducerSequencer::HasCapacity(int64_t current, int n) const {
  const int64_t wrap_point = current + n - size();
  const int64_t cached = gating_cache_.Get();
  if (wrap_point <= cached && cached <= current) return true;
  // Acquire loads of the gating sequences: pair with the consumers' release
  // Set(), see SingleProducerSequencer::HasCapacity.
  const int64_t minimum = MinimumGating(current);
  gating_cache_.Set(minimum);  // Only a hint; any racing value is safe.
  return wrap_point <= minimum;
}

int64_t MultiProducerSequencer::NextSlow(int64_t next, int n) {
  const int64_t current = next - n;
  if (HasCapacity(current, n)) return next;
  // The slots are ours; wait until the leaf consumers free them
  // (invariant 2). On halt they stay claimed: see the header.
  absl::StatusOr<int64_t> waited = ClaimWithBackoff(
      [&]() -> std::optional<int64_t> {
        if (!HasCapacity(current, n)) return std::nullopt;
        return next;
      },
      std::nullopt);
  return waited.ok() ? *waited : kHaltedSequence;
}

absl::StatusOr<int64_t> MultiProducerSequencer::TryNext(int n) {
  if (!ValidClaimSize(n)) return BadClaimSize(n);
  while (true) {
    const int64_t current = cursor_.Get();
    if (!HasCapacity(current, n)) {
      return absl::ResourceExhaustedError("ring is full");
    }
    // acq_rel CAS pairs with the other claimers' fetch_add/CAS; claiming
    // only after the capacity check means a failure claims nothing.
    if (cursor_.CompareAndSet(current, current + n)) return current + n;
  }
}

absl::StatusOr<int64_t> MultiProducerSequencer::NextFor(
    int n, absl::Duration timeout) {
  if (!ValidClaimSize(n)) return BadClaimSize(n);
  std::optional<absl::Time> deadline;
  if (timeout != absl::InfiniteDuration()) deadline = absl::Now() + timeout;
  return ClaimWithBackoff(
      [this, n]() -> std::optional<int64_t> {
        absl::StatusOr<int64_t> claimed = TryNext(n);
        if (!claimed.ok()) return std::nullopt;
        return *claimed;
      },
      deadline);
}

void MultiProducerSequencer::Publish(int64_t lo, int64_t hi) {
  for (int64_t seq = lo; seq <= hi; ++seq) {
    // Release: pairs with the acquire load in IsAvailable (invariant 3).
    Flag(seq).store(Round(seq), std::memory_order_release);
  }
  SignalWaiters();
}

int64_t MultiProducerSequencer::HighestPublished(int64_t lo,
                                                 int64_t available) const {
  for (int64_t seq = lo; seq <= available; ++seq) {
    if (!IsAvailable(seq)) return seq - 1;
  }
  return available;
}

std::unique_ptr<Sequencer> MakeSequencer(ProducerType type,
                                         std::size_t buffer_size,
                                         WaitStrategy& wait_strategy) {
  if (type == ProducerType::kSingle) {
    return std::make_unique<SingleProducerSequencer>(buffer_size,
                                                     wait_strategy);
  }
  return std::make_unique<MultiProducerSequencer>(buffer_size, wait_strategy);
}

}  // namespace mvkv::disruptor
