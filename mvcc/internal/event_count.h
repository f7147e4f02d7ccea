// EventCount: lets threads sleep until "something happened" without costing
// the thread that makes it happen more than one load while nobody sleeps.
//
// A waiter: epoch = BeginWait(); re-check its condition; Sleep(epoch, until)
// only if the condition still says so; EndWait(). A signaller: make the
// condition true (a seq_cst store, or any store sequenced before a seq_cst
// operation), then Wake() or WakeIfWaiting().
//
// Memory-order pairs (all seq_cst, one total order S):
//   (E1) BeginWait's increment of waiters_ and (E2) its load of epoch_,
//        then the waiter's seq_cst load of its condition;
//   against (E3) the signaller's seq_cst store of the condition and (E4)
//        WakeIfWaiting's load of waiters_. A Dekker pair: if (E4) precedes
//        (E1) in S, the condition load follows (E3) and sees it; otherwise
//        (E4) sees the waiter and wakes it.
//   (E5) Wake's increment of epoch_: a waiter whose (E2) read the old epoch
//        returns from the futex (the kernel compares the word); one whose
//        (E2) read the new epoch synchronizes with (E5) and sees what the
//        signaller stored before it.
//
// Thread safety: every member from any thread.
// Progress: BeginWait, EndWait, HasWaiters wait-free; Wake one atomic RMW and
// one futex system call; Sleep blocks until a Wake after BeginWait, `until`
// or a spurious wake-up.
#ifndef MVKV_MVCC_INTERNAL_EVENT_COUNT_H_
#define MVKV_MVCC_INTERNAL_EVENT_COUNT_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace mvkv::mvcc_internal {

class EventCount final {
 public:
  uint32_t BeginWait() {
    waiters_.fetch_add(1, std::memory_order_seq_cst);  // (E1)
    return epoch_.load(std::memory_order_seq_cst);     // (E2)
  }
  void Sleep(uint32_t epoch, absl::Time until);
  void EndWait() { waiters_.fetch_sub(1, std::memory_order_relaxed); }

  bool HasWaiters() const { return Waiters() != 0; }
  // Threads between BeginWait and EndWait (asleep or about to decide).
  uint32_t Waiters() const {
    return waiters_.load(std::memory_order_seq_cst);  // (E4)
  }
  // Wakes every sleeper.
  void Wake();
  void WakeIfWaiting() {
    if (HasWaiters()) Wake();
  }

 private:
  alignas(64) std::atomic<uint32_t> waiters_{0};
  std::atomic<uint32_t> epoch_{0};  // the futex word
};

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_EVENT_COUNT_H_
