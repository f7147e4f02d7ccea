#include "disruptor/sequence_barrier.h"

#include <utility>

#include "absl/status/status.h"
#include "disruptor/internal/spin.h"

namespace mvkv::disruptor {

SequenceBarrier::SequenceBarrier(const Sequencer& sequencer,
                                 std::vector<const Sequence*> dependents)
    : sequencer_(sequencer), dependents_(std::move(dependents)) {}

absl::StatusOr<int64_t> SequenceBarrier::WaitFor(int64_t seq) {
  if (alert_.IsRaised()) return absl::CancelledError("barrier alerted");
  absl::StatusOr<int64_t> available = sequencer_.wait_strategy().WaitFor(
      seq, sequencer_.cursor_sequence(), dependents_, alert_);
  if (!available.ok()) return available;
  // With several producers the cursor counts claims: keep to the prefix that
  // is published (per-slot flags read with acquire, see Sequencer).
  disruptor_internal::Backoff backoff;
  while (true) {
    const int64_t published = sequencer_.HighestPublished(seq, *available);
    if (published >= seq) return published;
    if (alert_.IsRaised()) return absl::CancelledError("barrier alerted");
    backoff.Pause();
  }
}

void SequenceBarrier::Alert() {
  alert_.Raise();  // Before the signal: wait_strategy.cc, parking protocol.
  sequencer_.wait_strategy().SignalAllWhenBlocking();
}

}  // namespace mvkv::disruptor
