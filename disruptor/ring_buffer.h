// RingBuffer<T>: the pre-allocated, power-of-two array of events that the
// Disruptor's producers fill and its consumers read.
//
// Events are default-constructed once, when the ring is built, and reused for
// every lap: publishing never allocates. Slot `seq` lives at index
// `seq & (size - 1)`.
//
// Thread safety: the ring itself does no synchronisation. Who may touch which
// slot, and when, is decided by the Sequencer (claims and publication) and the
// SequenceBarriers (consumption): a producer writes only slots it has claimed
// and not yet published; a consumer reads only slots its barrier returned and
// that its own Sequence has not yet moved past.
//
// Progress: operator[] is wait-free (an index computation).

#ifndef MVKV_DISRUPTOR_RING_BUFFER_H_
#define MVKV_DISRUPTOR_RING_BUFFER_H_

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "disruptor/sequence.h"

namespace mvkv::disruptor {

template <class T>
class RingBuffer final {
 public:
  // REQUIRES: `size` is a power of two and > 0.
  explicit RingBuffer(std::size_t size)
      : mask_(static_cast<int64_t>(size) - 1),
        size_(size),
        storage_(new T[size + 2 * kPadding]) {
    assert(size > 0 && std::has_single_bit(size));
  }

  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;

  // The event of sequence `seq`. REQUIRES: seq >= 0.
  T& operator[](int64_t seq) noexcept {
    return storage_[kPadding + static_cast<std::size_t>(seq & mask_)];
  }
  const T& operator[](int64_t seq) const noexcept {
    return storage_[kPadding + static_cast<std::size_t>(seq & mask_)];
  }

  std::size_t size() const noexcept { return size_; }

 private:
  // Unused events on both sides keep the first and last slots off the cache
  // lines of whatever the allocator puts next to the array.
  static constexpr std::size_t kPadding =
      sizeof(T) >= kCacheLineSize ? 1 : kCacheLineSize / sizeof(T);

  const int64_t mask_;
  const std::size_t size_;
  const std::unique_ptr<T[]> storage_;
};

}  // namespace mvkv::disruptor

#endif  // MVKV_DISRUPTOR_RING_BUFFER_H_
