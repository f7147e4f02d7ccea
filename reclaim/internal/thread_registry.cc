#include "reclaim/internal/thread_registry.h"

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

namespace mvkv::reclaim::reclaim_internal {

SlotClaims::SlotClaims(int slots) : size_(slots), owned_(new Flag[slots]) {}

int SlotClaims::Claim(const char* scheme) noexcept {
  // Bound: size_ iterations, one exchange each at most.
  for (int i = 0; i < size_; ++i) {
    if (TryClaim(i)) return i;
  }
  std::fprintf(stderr,
               "mvkv::reclaim: all %d thread slots of a %s domain are in use; "
               "raise Options::max_threads\n",
               size_, scheme);
  std::abort();
}

bool SlotClaims::TryClaim(int i) noexcept {
  // (R1) acquire: pairs with the release in Release (R2), so the new owner
  // sees everything the previous owner left in the slot (its partial batch).
  if (owned_[i].owned.load(std::memory_order_relaxed) != 0) return false;
  if (owned_[i].owned.exchange(1, std::memory_order_acquire) != 0) return false;
  registered_.fetch_add(1, std::memory_order_relaxed);
  RaiseHighWater(i + 1);
  return true;
}

void SlotClaims::Release(int i) noexcept {
  registered_.fetch_sub(1, std::memory_order_relaxed);
  // (R2) release: pairs with (R1).
  owned_[i].owned.store(0, std::memory_order_release);
}

void SlotClaims::RaiseHighWater(int at_least) noexcept {
  int seen = high_water_.load(std::memory_order_relaxed);
  // Bound: every failed CAS means high_water_ grew, and it never exceeds
  // size_, so at most size_ iterations.
  while (seen < at_least &&
         !high_water_.compare_exchange_weak(seen, at_least, std::memory_order_acq_rel,
                                            std::memory_order_relaxed)) {
  }
}

namespace {

// This thread's registrations; releases every slot when the thread exits.
class ThreadRegistrations {
 public:
  ~ThreadRegistrations() {
    tls_last_used = LastUsed{};
    for (auto& [client, slot] : entries_) client->ReleaseSlot(slot);
  }
  int Find(const RegistryClient* client) const noexcept {
    for (const auto& [c, slot] : entries_) {
      if (c.get() == client) return slot;
    }
    return -1;
  }
  void Add(std::shared_ptr<RegistryClient> client, int slot) {
    entries_.emplace_back(std::move(client), slot);
  }

 private:
  std::vector<std::pair<std::shared_ptr<RegistryClient>, int>> entries_;
};

thread_local ThreadRegistrations tls_registrations;

}  // namespace

int LookUpOrRegister(const std::shared_ptr<RegistryClient>& client) noexcept {
  int slot = tls_registrations.Find(client.get());
  if (slot < 0) {
    slot = client->ClaimSlot();
    tls_registrations.Add(client, slot);
  }
  tls_last_used = LastUsed{client.get(), slot};
  return slot;
}

}  // namespace mvkv::reclaim::reclaim_internal
