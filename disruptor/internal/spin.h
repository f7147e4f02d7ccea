// Spin-loop helpers shared by the wait strategies and the sequencers.
// Internal to disruptor/: not part of the public API.
//
// Thread safety: stateless functions and a per-thread Backoff object.

#ifndef MVKV_DISRUPTOR_INTERNAL_SPIN_H_
#define MVKV_DISRUPTOR_INTERNAL_SPIN_H_

#include <chrono>
#include <thread>

namespace mvkv::disruptor::disruptor_internal {

// One CPU "pause": tells a hyper-threaded core that this is a spin loop.
inline void CpuRelax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// The producer-side wait policy (a producer waiting for free slots) and the
// consumer-side wait for a claimed slot to be published: spin a little, then
// yield, then sleep with exponential back-off capped at kMaxSleep. Nobody
// signals these waits, so the cap bounds the extra latency.
class Backoff {
 public:
  void Pause() noexcept {
    if (rounds_ < kSpinRounds) {
      CpuRelax();
    } else if (rounds_ < kSpinRounds + kYieldRounds) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(sleep_);
      if (sleep_ < kMaxSleep) sleep_ *= 2;
    }
    ++rounds_;
  }

 private:
  static constexpr int kSpinRounds = 64;
  static constexpr int kYieldRounds = 64;
  static constexpr std::chrono::microseconds kMaxSleep{100};
  int rounds_ = 0;
  std::chrono::microseconds sleep_{1};
};

}  // namespace mvkv::disruptor::disruptor_internal

#endif  // MVKV_DISRUPTOR_INTERNAL_SPIN_H_
