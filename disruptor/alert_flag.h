// AlertFlag: a sticky, cache-line-padded boolean that tells waiters to give
// up (halt). Raised by SequenceBarrier::Alert() and Sequencer::Halt(); every
// wait loop of the Disruptor polls it.
//
// Thread safety: all members may be called from any thread.
// Progress: wait-free.
//
// Memory order: Raise() is a seq_cst store and IsRaised() a seq_cst load.
// The blocking wait strategies rely on this: a waiter registers itself, then
// re-checks the flag; the raiser stores the flag, then checks for registered
// waiters (a Dekker pair, see the parking protocol in wait_strategy.cc).

#ifndef MVKV_DISRUPTOR_ALERT_FLAG_H_
#define MVKV_DISRUPTOR_ALERT_FLAG_H_

#include <atomic>

#include "disruptor/sequence.h"

namespace mvkv::disruptor {

class alignas(kCacheLineSize) AlertFlag {
 public:
  AlertFlag() = default;
  AlertFlag(const AlertFlag&) = delete;
  AlertFlag& operator=(const AlertFlag&) = delete;

  // seq_cst store: pairs with the seq_cst IsRaised() of waiters.
  void Raise() noexcept { raised_.store(true, std::memory_order_seq_cst); }
  void Clear() noexcept { raised_.store(false, std::memory_order_seq_cst); }
  bool IsRaised() const noexcept {
    return raised_.load(std::memory_order_seq_cst);
  }

 private:
  std::atomic<bool> raised_{false};
};

}  // namespace mvkv::disruptor

#endif  // MVKV_DISRUPTOR_ALERT_FLAG_H_
