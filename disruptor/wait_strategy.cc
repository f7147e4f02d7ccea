// Implementations of the wait strategies declared in wait_strategy.h.
//
// Parking protocol (Blocking, TimeoutBlocking, and the last phase of
// PhasedBackoff). A Dekker pair between a waiter and a signaller, built from
// two read-modify-writes of waiters_ (no fences, so TSan can check it). Every
// wake-up source (publish, a processor advancing, an alert) stores its
// sequence or flag BEFORE calling SignalAllWhenBlocking():
//   waiter:    lock mu_; waiters_.fetch_add(1, seq_cst) (B1); re-check
//              cursor/dependents/alert (acquire loads); cv_.wait (unlocks).
//   signaller: store sequence/flag (release); waiters_.fetch_add(0, seq_cst)
//              (B2); if it read > 0: lock mu_, notify_all.
// Invariants:
//   1. (B1) and (B2) are RMWs of one atomic, so one reads the other's result.
//      If (B2) comes first, (B1) reads from it: (B2) synchronizes-with (B1),
//      and the waiter's re-check sees the signaller's store and does not park.
//      Otherwise (B2) reads the increment, and the signaller takes mu_, which
//      the waiter holds from its re-check until cv_.wait releases it: the
//      notify cannot fall between the re-check and the wait. No wake-up is
//      lost.
//   2. When nobody parks, a signal costs one uncontended RMW and no mutex.

#include "disruptor/wait_strategy.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "disruptor/internal/spin.h"

namespace mvkv::disruptor {
namespace {

using Clock = std::chrono::steady_clock;
using disruptor_internal::CpuRelax;

// The highest sequence available to a waiter, see WaitStrategy::WaitFor.
// Acquire loads (Sequence::Get): pair with the release Set of the producer or
// of the dependent processors, so their writes to the slots are visible.
int64_t Available(const Sequence& cursor, SequenceGroup dependents) noexcept {
  return dependents.empty() ? cursor.Get() : MinimumSequence(dependents);
}

absl::Status Alerted() { return absl::CancelledError("disruptor alerted"); }

// Mutex + condition variable parking shared by the blocking strategies.
class ParkingLot {
 public:
  // Parks until `seq` is available, `alert` is raised or `deadline` passes.
  absl::StatusOr<int64_t> Park(int64_t seq, const Sequence& cursor,
                               SequenceGroup dependents, const AlertFlag& alert,
                               std::optional<Clock::time_point> deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    waiters_.fetch_add(1, std::memory_order_seq_cst);  // (B1) pairs (B2)
    absl::StatusOr<int64_t> result = WaitLocked(seq, cursor, dependents, alert,
                                                deadline, lock);
    // Relaxed: a signaller that still sees this waiter costs one unneeded
    // notify; one that misses it needs nothing from it.
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return result;
  }

  void WakeAll() {
    // (B2) pairs with (B1): an RMW, not a load, see invariant 1.
    if (waiters_.fetch_add(0, std::memory_order_seq_cst) == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }

 private:
  absl::StatusOr<int64_t> WaitLocked(
      int64_t seq, const Sequence& cursor, SequenceGroup dependents,
      const AlertFlag& alert, std::optional<Clock::time_point> deadline,
      std::unique_lock<std::mutex>& lock) {
    while (true) {
      if (alert.IsRaised()) return Alerted();
      int64_t available = Available(cursor, dependents);
      if (available >= seq) return available;
      if (!deadline) {
        cv_.wait(lock);
      } else if (cv_.wait_until(lock, *deadline) == std::cv_status::timeout) {
        if (alert.IsRaised()) return Alerted();
        available = Available(cursor, dependents);
        if (available >= seq) return available;
        return absl::DeadlineExceededError("wait strategy timed out");
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  // Own cache lines: every signal touches it, parking waiters write mu_/cv_.
  alignas(kCacheLineSize) std::atomic<int> waiters_{0};
};

class BusySpin final : public WaitStrategy {
 public:
  absl::StatusOr<int64_t> WaitFor(int64_t seq, const Sequence& cursor,
                                  SequenceGroup dependents,
                                  const AlertFlag& alert) override {
    while (true) {
      if (alert.IsRaised()) return Alerted();
      int64_t available = Available(cursor, dependents);
      if (available >= seq) return available;
      CpuRelax();
    }
  }
  void SignalAllWhenBlocking() override {}
  bool NeedsSignal() const override { return false; }
};

class Yielding final : public WaitStrategy {
 public:
  absl::StatusOr<int64_t> WaitFor(int64_t seq, const Sequence& cursor,
                                  SequenceGroup dependents,
                                  const AlertFlag& alert) override {
    for (int spins = 0;; ++spins) {
      if (alert.IsRaised()) return Alerted();
      int64_t available = Available(cursor, dependents);
      if (available >= seq) return available;
      if (spins < kSpinTries) {
        CpuRelax();
      } else {
        std::this_thread::yield();
      }
    }
  }
  void SignalAllWhenBlocking() override {}
  bool NeedsSignal() const override { return false; }

 private:
  static constexpr int kSpinTries = 100;
};

class Sleeping final : public WaitStrategy {
 public:
  absl::StatusOr<int64_t> WaitFor(int64_t seq, const Sequence& cursor,
                                  SequenceGroup dependents,
                                  const AlertFlag& alert) override {
    for (int tries = 0;; ++tries) {
      if (alert.IsRaised()) return Alerted();
      int64_t available = Available(cursor, dependents);
      if (available >= seq) return available;
      if (tries < kSpinTries) {
        CpuRelax();
      } else if (tries < kSpinTries + kYieldTries) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::nanoseconds(100));
      }
    }
  }
  void SignalAllWhenBlocking() override {}
  bool NeedsSignal() const override { return false; }

 private:
  static constexpr int kSpinTries = 100;
  static constexpr int kYieldTries = 100;
};

class Blocking final : public WaitStrategy {
 public:
  absl::StatusOr<int64_t> WaitFor(int64_t seq, const Sequence& cursor,
                                  SequenceGroup dependents,
                                  const AlertFlag& alert) override {
    if (alert.IsRaised()) return Alerted();
    int64_t available = Available(cursor, dependents);
    if (available >= seq) return available;
    return lot_.Park(seq, cursor, dependents, alert, std::nullopt);
  }
  void SignalAllWhenBlocking() override { lot_.WakeAll(); }

 private:
  ParkingLot lot_;
};

class TimeoutBlocking final : public WaitStrategy {
 public:
  explicit TimeoutBlocking(absl::Duration timeout)
      : timeout_(absl::ToChronoNanoseconds(timeout)) {}

  absl::StatusOr<int64_t> WaitFor(int64_t seq, const Sequence& cursor,
                                  SequenceGroup dependents,
                                  const AlertFlag& alert) override {
    if (alert.IsRaised()) return Alerted();
    int64_t available = Available(cursor, dependents);
    if (available >= seq) return available;
    return lot_.Park(seq, cursor, dependents, alert, Clock::now() + timeout_);
  }
  void SignalAllWhenBlocking() override { lot_.WakeAll(); }

 private:
  const std::chrono::nanoseconds timeout_;
  ParkingLot lot_;
};

class PhasedBackoff final : public WaitStrategy {
 public:
  PhasedBackoff(absl::Duration spin, absl::Duration yield)
      : spin_(absl::ToChronoNanoseconds(spin)),
        spin_and_yield_(absl::ToChronoNanoseconds(spin + yield)) {}

  absl::StatusOr<int64_t> WaitFor(int64_t seq, const Sequence& cursor,
                                  SequenceGroup dependents,
                                  const AlertFlag& alert) override {
    const Clock::time_point start = Clock::now();
    for (int tries = 1;; ++tries) {
      if (alert.IsRaised()) return Alerted();
      int64_t available = Available(cursor, dependents);
      if (available >= seq) return available;
      if (tries % kTriesPerClockRead != 0) {
        CpuRelax();
        continue;
      }
      const Clock::duration waited = Clock::now() - start;
      if (waited >= spin_and_yield_) break;
      if (waited >= spin_) std::this_thread::yield();
    }
    return lot_.Park(seq, cursor, dependents, alert, std::nullopt);
  }
  void SignalAllWhenBlocking() override { lot_.WakeAll(); }

 private:
  static constexpr int kTriesPerClockRead = 64;
  const std::chrono::nanoseconds spin_;
  const std::chrono::nanoseconds spin_and_yield_;
  ParkingLot lot_;
};

}  // namespace

std::unique_ptr<WaitStrategy> BusySpinWaitStrategy() {
  return std::make_unique<BusySpin>();
}
std::unique_ptr<WaitStrategy> YieldingWaitStrategy() {
  return std::make_unique<Yielding>();
}
std::unique_ptr<WaitStrategy> SleepingWaitStrategy() {
  return std::make_unique<Sleeping>();
}
std::unique_ptr<WaitStrategy> BlockingWaitStrategy() {
  return std::make_unique<Blocking>();
}
std::unique_ptr<WaitStrategy> TimeoutBlockingWaitStrategy(
    absl::Duration timeout) {
  return std::make_unique<TimeoutBlocking>(timeout);
}
std::unique_ptr<WaitStrategy> PhasedBackoffWaitStrategy(absl::Duration spin,
                                                        absl::Duration yield) {
  return std::make_unique<PhasedBackoff>(spin, yield);
}

}  // namespace mvkv::disruptor
