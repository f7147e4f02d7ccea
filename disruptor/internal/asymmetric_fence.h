// Asymmetric fences: a StoreLoad barrier whose cost is moved entirely to the
// rare side. The frequent side (a publisher checking whether anyone is
// parked) issues LightFence(), a compiler-only barrier; the rare side (a
// consumer about to park) issues HeavyFence(), Linux's
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which makes every running
// thread of the process execute a full memory barrier. The same technique
// as folly's asymmetricLightBarrier/asymmetricHeavyBarrier and liburcu's
// "memb" flavour. Internal to disruptor/.
//
// Why it is correct: when HeavyFence returns, every other thread of the
// process has passed a full barrier at some point P during the call. For a
// light-side thread doing "store X; LightFence; load Y" against a heavy side
// doing "store Y; HeavyFence; load X": if its load of Y ran before P, its
// store of X (earlier in program order) was visible before P, hence to the
// heavy side's later load of X; otherwise its load of Y runs after P and sees
// the heavy side's store of Y, made before the call. A descheduled thread
// passed a full barrier when it was switched out.
//
// Availability: AsymmetricFencesAvailable() registers the process once and
// reports whether the kernel supports it. It is false under ThreadSanitizer,
// which cannot model membarrier: the callers then use a symmetric
// read-modify-write protocol that TSan can check.
//
// Thread safety: all functions may be called from any thread.
// Progress: LightFence and AsymmetricFencesAvailable (after the first call)
// are wait-free; HeavyFence is a system call (blocking, a few microseconds).

#ifndef MVKV_DISRUPTOR_INTERNAL_ASYMMETRIC_FENCE_H_
#define MVKV_DISRUPTOR_INTERNAL_ASYMMETRIC_FENCE_H_

#include <atomic>

namespace mvkv::disruptor::disruptor_internal {

bool AsymmetricFencesAvailable();

inline void LightFence() noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

// REQUIRES: AsymmetricFencesAvailable().
void HeavyFence();

}  // namespace mvkv::disruptor::disruptor_internal

#endif  // MVKV_DISRUPTOR_INTERNAL_ASYMMETRIC_FENCE_H_
