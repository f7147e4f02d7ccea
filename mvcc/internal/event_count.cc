#include "mvcc/internal/event_count.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

#include "absl/time/clock.h"

namespace mvkv::mvcc_internal {

void EventCount::Sleep(uint32_t epoch, absl::Time until) {
  timespec timeout{};
  timespec* timeout_ptr = nullptr;
  if (until != absl::InfiniteFuture()) {
    const absl::Duration left = until - absl::Now();
    if (left <= absl::ZeroDuration()) return;
    timeout = absl::ToTimespec(left);
    timeout_ptr = &timeout;
  }
  // Returns at once if epoch_ moved since BeginWait read it (E5).
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&epoch_), FUTEX_WAIT_PRIVATE,
          epoch, timeout_ptr, nullptr, 0);
}

void EventCount::Wake() {
  epoch_.fetch_add(1, std::memory_order_seq_cst);  // (E5)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&epoch_), FUTEX_WAKE_PRIVATE,
          INT_MAX, nullptr, nullptr, 0);
}

}  // namespace mvkv::mvcc_internal
