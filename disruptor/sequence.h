// Sequence: a cache-line-padded 64-bit counter, the unit of coordination in
// the Disruptor.
//
// Every party of a Disruptor (the producer cursor, each event processor)
// publishes how far it has got as a Sequence. Other parties read it to know
// which ring slots they may touch. A Sequence occupies a cache-line pair of its
// own so that two counters written by different threads never share a line
// (false sharing is the main enemy of the design).
//
// Thread safety: every member function may be called from any thread at any
// time. Get() is an acquire load, Set() a release store, so a writer's work on
// ring slots before Set(v) is visible to a reader whose Get() returns >= v.
//
// Progress: every operation is wait-free (one atomic instruction), except
// CompareAndSet's caller-side retry loops, which are the caller's business.

#ifndef MVKV_DISRUPTOR_SEQUENCE_H_
#define MVKV_DISRUPTOR_SEQUENCE_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

namespace mvkv::disruptor {

// Value of a Sequence before anything has been claimed, published or consumed.
inline constexpr int64_t kInitialSequence = -1;

// Two cache lines: Intel's adjacent-line prefetcher pulls lines in pairs, so a
// single line of padding still lets neighbours interfere.
inline constexpr std::size_t kCacheLineSize = 128;

class alignas(kCacheLineSize) Sequence {
 public:
  explicit Sequence(int64_t initial = kInitialSequence) noexcept
      : value_(initial) {}

  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  // Acquire load: pairs with the release Set()/CompareAndSet()/AddAndGet() of
  // the writer, so slot contents written before that are visible.
  int64_t Get() const noexcept {
    return value_.load(std::memory_order_acquire);
  }

  // Relaxed load, for the single thread that owns (writes) this sequence.
  int64_t GetRelaxed() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

  // Release store: pairs with the acquire Get() of readers.
  void Set(int64_t value) noexcept {
    value_.store(value, std::memory_order_release);
  }

  // Atomically replaces `expected` by `desired`. acq_rel on success (pairs
  // with Get() of readers and with earlier writers' releases); acquire on
  // failure. Returns true on success.
  bool CompareAndSet(int64_t expected, int64_t desired) noexcept {
    return value_.compare_exchange_strong(expected, desired,
                                          std::memory_order_acq_rel,
                                          std::memory_order_acquire);
  }

  // Atomically adds `delta` and returns the new value. acq_rel: pairs with
  // Get() of readers and with the other AddAndGet() callers.
  int64_t AddAndGet(int64_t delta) noexcept {
    return value_.fetch_add(delta, std::memory_order_acq_rel) + delta;
  }

 private:
  std::atomic<int64_t> value_;
  char padding_[kCacheLineSize - sizeof(std::atomic<int64_t>)];
};

static_assert(sizeof(Sequence) == kCacheLineSize);

// A read-only group of sequences, e.g. the stages a consumer depends on or
// the leaf consumers a producer gates on.
using SequenceGroup = std::span<const Sequence* const>;

// Smallest value in `group`, or `if_empty` when the group is empty. Each read
// is an acquire Get() (see Sequence::Get). Wait-free.
inline int64_t MinimumSequence(
    SequenceGroup group,
    int64_t if_empty = std::numeric_limits<int64_t>::max()) noexcept {
  int64_t minimum = if_empty;
  for (const Sequence* s : group) minimum = std::min(minimum, s->Get());
  return minimum;
}

}  // namespace mvkv::disruptor

#endif  // MVKV_DISRUPTOR_SEQUENCE_H_
