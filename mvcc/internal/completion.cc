#include "mvcc/internal/completion.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <thread>

namespace mvkv::mvcc_internal {
namespace {

constexpr std::size_t kParkWords = 256;
// A lone client's commit round trip is a few microseconds: spin a little,
// then yield (on a shared core that hands it to the pipeline thread at
// once), but only for a bounded time, so that many committers waiting on an
// fsync park instead of starving the pipeline thread with yields.
constexpr int kSpins = 50;
constexpr auto kYieldFor = std::chrono::microseconds(100);

struct alignas(64) ParkWord {
  std::atomic<uint32_t> epoch{0};
};
ParkWord park_table[kParkWords];

ParkWord& WordFor(const void* completed) {
  return park_table[std::hash<const void*>{}(completed) % kParkWords];
}

}  // namespace

void WaitComplete(const std::atomic<uint32_t>& completed) {
  // (1) acquire pairs with the release store (2): results are visible.
  for (int i = 0; i < kSpins; ++i) {
    if (completed.load(std::memory_order_acquire) != 0) return;
    CpuRelax();
  }
  const auto yield_until = std::chrono::steady_clock::now() + kYieldFor;
  for (int i = 1;; ++i) {
    if (completed.load(std::memory_order_acquire) != 0) return;
    std::this_thread::yield();
    if (i % 8 == 0 && std::chrono::steady_clock::now() >= yield_until) break;
  }
  ParkWord& word = WordFor(&completed);
  while (true) {
    // Read the epoch before re-checking `completed`: a completion after this
    // load bumps the epoch (3), so wait() returns instead of sleeping.
    const uint32_t epoch = word.epoch.load(std::memory_order_seq_cst);
    if (completed.load(std::memory_order_seq_cst) != 0) return;
    word.epoch.wait(epoch, std::memory_order_seq_cst);
  }
}

void SignalComplete(std::atomic<uint32_t>& completed) {
  ParkWord& word = WordFor(&completed);
  // (2) release (seq_cst): the request's results happen-before the
  // committer's (1). After this store the request may be destroyed.
  completed.store(1, std::memory_order_seq_cst);
  // (3) wake sleepers on this word (spurious wakes re-check `completed`).
  word.epoch.fetch_add(1, std::memory_order_seq_cst);
  word.epoch.notify_all();
}

}  // namespace mvkv::mvcc_internal
