#include "disruptor/internal/asymmetric_fence.h"

#include <cstdlib>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace mvkv::disruptor::disruptor_internal {
namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool kSanitizedThreads = true;
#else
constexpr bool kSanitizedThreads = false;
#endif

bool Register() {
#if defined(__linux__) && defined(__NR_membarrier)
  if (kSanitizedThreads) return false;
  if (std::getenv("MVKV_DISRUPTOR_NO_MEMBARRIER") != nullptr) return false;
  const long supported = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) {
    return false;
  }
  return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
                 0) == 0;
#else
  return false;
#endif
}

}  // namespace

bool AsymmetricFencesAvailable() {
  static const bool available = Register();  // Thread-safe static init.
  return available;
}

void HeavyFence() {
#if defined(__linux__) && defined(__NR_membarrier)
  if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
    std::abort();  // Registered in AsymmetricFencesAvailable: cannot fail.
  }
#endif
}

}  // namespace mvkv::disruptor::disruptor_internal
