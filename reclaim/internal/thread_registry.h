// reclaim/internal/thread_registry.h — lazy, wait-free registration of threads
// in a domain's fixed array of slots, and release at thread exit.
//
// Every domain keeps its state in a "core" object shared (std::shared_ptr) by
// the domain and by each thread that holds a slot in it, so a thread that
// exits after the domain was destroyed still finds valid memory to release
// its slot in. Not part of the public API.
//
// Progress: Claim() is one bounded pass over the slot array (wait-free);
// Release() is a store; the per-thread lookup is a thread_local compare on
// the fast path and a bounded scan of this thread's domains otherwise.
#ifndef MVKV_RECLAIM_INTERNAL_THREAD_REGISTRY_H_
#define MVKV_RECLAIM_INTERNAL_THREAD_REGISTRY_H_

#include <atomic>
#include <memory>

namespace mvkv::reclaim::reclaim_internal {

inline constexpr int kCacheLine = 64;

// Which slots of a fixed-size array are owned by a live thread.
class SlotClaims {
 public:
  explicit SlotClaims(int slots);
  SlotClaims(const SlotClaims&) = delete;
  SlotClaims& operator=(const SlotClaims&) = delete;

  // Claims a free slot for the calling thread. Wait-free: one pass over the
  // array, one exchange per free-looking slot. If every slot is taken,
  // aborts the process with a message naming Options::max_threads.
  int Claim(const char* scheme) noexcept;
  // Claims slot `i` if it is free (used to adopt an exited thread's slot).
  bool TryClaim(int i) noexcept;
  void Release(int i) noexcept;
  // Slots [0, HighWater()) have been claimed at least once; the others are
  // untouched and can be skipped by scans.
  int HighWater() const noexcept { return high_water_.load(std::memory_order_acquire); }
  // Slots claimed now (for the era-advance period; approximate under churn).
  int Registered() const noexcept { return registered_.load(std::memory_order_relaxed); }
  int size() const noexcept { return size_; }

 private:
  struct alignas(kCacheLine) Flag {
    std::atomic<int> owned{0};
  };
  void RaiseHighWater(int at_least) noexcept;

  const int size_;
  std::unique_ptr<Flag[]> owned_;
  alignas(kCacheLine) std::atomic<int> high_water_{0};
  std::atomic<int> registered_{0};
};

// The part of a domain's core the registry calls into.
class RegistryClient {
 public:
  virtual ~RegistryClient() = default;
  // Runs on the registering thread, once per (thread, domain).
  virtual int ClaimSlot() noexcept = 0;
  // Runs on the exiting thread (thread_local destructor), once per slot.
  virtual void ReleaseSlot(int slot) noexcept = 0;
};

struct LastUsed {
  const RegistryClient* client = nullptr;
  int slot = -1;
};
// The (domain, slot) this thread used last: the guard's fast path.
inline thread_local LastUsed tls_last_used;

// Slow path of ThisThreadSlot: searches this thread's registrations, or
// registers it (keeping `client` alive until the thread exits).
int LookUpOrRegister(const std::shared_ptr<RegistryClient>& client) noexcept;

// The calling thread's slot in `client`'s domain, registering it on first use.
inline int ThisThreadSlot(const std::shared_ptr<RegistryClient>& client) noexcept {
  const LastUsed& last = tls_last_used;
  if (last.client == client.get()) return last.slot;
  return LookUpOrRegister(client);
}

}  // namespace mvkv::reclaim::reclaim_internal

#endif  // MVKV_RECLAIM_INTERNAL_THREAD_REGISTRY_H_
