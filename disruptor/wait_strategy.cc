// Implementations of the wait strategies declared in wait_strategy.h.
//
// Parking protocol (Blocking, TimeoutBlocking, and the last phase of
// PhasedBackoff): a Dekker pair between a waiter about to park and a
// signaller, on the flag signal_needed_. Every wake-up source (publish, a
// processor advancing, an alert) stores its sequence or flag (release) BEFORE
// SignalAllWhenBlocking(). Two variants, chosen once per process:
//   Asymmetric (default on Linux with membarrier):
//     waiter:    lock mu_; then per round: signal_needed_ = true (B1);
//                HeavyFence (B2); re-check cursor/dependents/alert;
//                cv_.wait (unlocks mu_).
//     signaller: store; LightFence (B3, compiler only); load signal_needed_
//                (B4); only if true: exchange(false) (B5), and if that read
//                true, lock mu_ and notify_all.
//     Publish pays no atomic RMW and no fence while nobody is parked.
//   Symmetric (under TSan, or without membarrier):
//     waiter:    per round: signal_needed_.exchange(true, seq_cst) (B1);
//                re-check; wait.
//     signaller: store; signal_needed_.exchange(false, seq_cst) (B5); if it
//                read true: lock mu_, notify_all.
// Invariants:
//   1. Asymmetric: by the membarrier argument (internal/asymmetric_fence.h),
//      either the signaller's store is visible to the waiter's re-check
//      after (B2), or (B4) sees the waiter's (B1).
//   2. Symmetric: (B1) and (B5) are RMWs of one atomic, so one reads the
//      other's result. If (B5) comes first, (B1) reads from it (release
//      sequence): (B5) synchronizes-with (B1) and the re-check sees the
//      store. Otherwise (B5) reads true.
//   3. Of the signallers that see true, exactly one wins (B5) and notifies:
//      one notify per parking round, not one per publish. Waiters re-arm
//      (B1) on every round, so a flag cleared for another waiter or a stale
//      notify costs at most a spurious wake-up.
//   4. The winner takes mu_, which the waiter holds from (B1) until cv_.wait
//      releases it: the notify cannot fall between the re-check and the wait.
//      With 1 or 2, no wake-up is lost.

#include "disruptor/wait_strategy.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "disruptor/internal/asymmetric_fence.h"
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
    while (true) {
      Arm();
      if (alert.IsRaised()) return Alerted();
      const int64_t available = Available(cursor, dependents);
      if (available >= seq) return available;
      // Relaxed: a count for observers; mu_ is held until the wait
      // releases it, so a waker that read the count cannot slip between.
      parked_.fetch_add(1, std::memory_order_relaxed);
      bool timed_out = false;
      if (!deadline) {
        cv_.wait(lock);
      } else {
        timed_out = cv_.wait_until(lock, *deadline) == std::cv_status::timeout;
      }
      parked_.fetch_sub(1, std::memory_order_relaxed);
      if (timed_out) return AfterTimeout(seq, cursor, dependents, alert);
    }
  }

  int parked() const { return parked_.load(std::memory_order_relaxed); }

  void WakeAll() {
    if (asymmetric_) {
      disruptor_internal::LightFence();  // (B3) pairs with (B2).
      // (B4) Relaxed: ordering comes from the fence pair, invariant 1.
      if (!signal_needed_.load(std::memory_order_relaxed)) return;
    }
    // (B5) pairs with (B1), invariants 2 and 3.
    if (!signal_needed_.exchange(false, std::memory_order_seq_cst)) return;
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }

 private:
  // Announces a waiter about to re-check and park. REQUIRES: mu_ held.
  void Arm() {
    if (asymmetric_) {
      // (B1) Relaxed: HeavyFence orders it before the re-check, invariant 1.
      signal_needed_.store(true, std::memory_order_relaxed);
      disruptor_internal::HeavyFence();  // (B2) pairs with (B3).
    } else {
      signal_needed_.exchange(true, std::memory_order_seq_cst);  // (B1)
    }
  }

  static absl::StatusOr<int64_t> AfterTimeout(int64_t seq,
                                              const Sequence& cursor,
                                              SequenceGroup dependents,
                                              const AlertFlag& alert) {
    if (alert.IsRaised()) return Alerted();
    const int64_t available = Available(cursor, dependents);
    if (available >= seq) return available;
    return absl::DeadlineExceededError("wait strategy timed out");
  }

  const bool asymmetric_ = disruptor_internal::AsymmetricFencesAvailable();
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int> parked_{0};  // see WaitStrategy::ParkedWaiters
  // Own cache lines: every signal reads it, parking waiters write mu_/cv_.
  alignas(kCacheLineSize) std::atomic<bool> signal_needed_{false};
};

// The strategies that never park: they poll until the sequence is available
// or the alert is raised, and `Pause::After(polls)` says what the thread does
// between two polls.
template <class Pause>
class Polling final : public WaitStrategy {
 public:
  absl::StatusOr<int64_t> WaitFor(int64_t seq, const Sequence& cursor,
                                  SequenceGroup dependents,
                                  const AlertFlag& alert) override {
    for (int polls = 0;; ++polls) {
      if (alert.IsRaised()) return Alerted();
      int64_t available = Available(cursor, dependents);
      if (available >= seq) return available;
      Pause::After(polls);
    }
  }
  void SignalAllWhenBlocking() override {}
  bool NeedsSignal() const override { return false; }
};

constexpr int kSpinPolls = 100;
constexpr int kYieldPolls = 100;

struct Spin {
  static void After(int) { CpuRelax(); }
};

struct SpinThenYield {
  static void After(int polls) {
    if (polls < kSpinPolls) {
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
};

struct SpinYieldThenSleep {
  static void After(int polls) {
    if (polls < kSpinPolls + kYieldPolls) {
      SpinThenYield::After(polls);
    } else {
      std::this_thread::sleep_for(std::chrono::nanoseconds(100));
    }
  }
};

// Blocking and TimeoutBlocking: park at once, forever or until `timeout`.
class Blocking final : public WaitStrategy {
 public:
  explicit Blocking(std::optional<absl::Duration> timeout = std::nullopt) {
    if (timeout) timeout_ = absl::ToChronoNanoseconds(*timeout);
  }

  absl::StatusOr<int64_t> WaitFor(int64_t seq, const Sequence& cursor,
                                  SequenceGroup dependents,
                                  const AlertFlag& alert) override {
    if (alert.IsRaised()) return Alerted();
    int64_t available = Available(cursor, dependents);
    if (available >= seq) return available;
    std::optional<Clock::time_point> deadline;
    if (timeout_) deadline = Clock::now() + *timeout_;
    return lot_.Park(seq, cursor, dependents, alert, deadline);
  }
  void SignalAllWhenBlocking() override { lot_.WakeAll(); }
  int ParkedWaiters() const override { return lot_.parked(); }

 private:
  std::optional<std::chrono::nanoseconds> timeout_;
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
  int ParkedWaiters() const override { return lot_.parked(); }

 private:
  static constexpr int kTriesPerClockRead = 64;
  const std::chrono::nanoseconds spin_;
  const std::chrono::nanoseconds spin_and_yield_;
  ParkingLot lot_;
};

}  // namespace

std::unique_ptr<WaitStrategy> BusySpinWaitStrategy() {
  return std::make_unique<Polling<Spin>>();
}
std::unique_ptr<WaitStrategy> YieldingWaitStrategy() {
  return std::make_unique<Polling<SpinThenYield>>();
}
std::unique_ptr<WaitStrategy> SleepingWaitStrategy() {
  return std::make_unique<Polling<SpinYieldThenSleep>>();
}
std::unique_ptr<WaitStrategy> BlockingWaitStrategy() {
  return std::make_unique<Blocking>();
}
std::unique_ptr<WaitStrategy> TimeoutBlockingWaitStrategy(
    absl::Duration timeout) {
  return std::make_unique<Blocking>(timeout);
}
std::unique_ptr<WaitStrategy> PhasedBackoffWaitStrategy(absl::Duration spin,
                                                        absl::Duration yield) {
  return std::make_unique<PhasedBackoff>(spin, yield);
}

}  // namespace mvkv::disruptor
