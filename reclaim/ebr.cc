// EbrDomain. Invariants: internal/ebr_core.h.
#include "reclaim/ebr.h"

#include <algorithm>

namespace mvkv::reclaim {
namespace ebr_internal {

using reclaim_internal::NodeAccess;

namespace {
std::atomic<std::uintptr_t>& W(Node* n, int i) noexcept { return NodeAccess::Word(n, i); }
void Add(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
}  // namespace

Core::Core(int max_threads, int retire_freq)
    : retire_freq_(retire_freq), slots_(new EbrSlot[max_threads]), claims_(max_threads) {}

Core::~Core() = default;

int Core::ClaimSlot() noexcept { return claims_.Claim("EBR"); }

void Core::ReleaseSlot(int slot) noexcept {
  // The limbo list stays in the slot for its next owner or Barrier.
  Collect(slots_[slot]);
  claims_.Release(slot);
}

void Core::Retire(EbrSlot& s, Node* n, Deleter d, std::size_t bytes) noexcept {
  NodeAccess::SetDeleter(n, d);
  Add(s.retired, 1);
  Add(s.retired_bytes, bytes);
  // (T0) seq_cst: the epoch read after the caller unlinked `n`.
  W(n, 0).store(Epoch(), std::memory_order_relaxed);
  W(n, 1).store(reinterpret_cast<std::uintptr_t>(s.limbo), std::memory_order_relaxed);
  if (s.limbo == nullptr) s.limbo_tail = n;
  s.limbo = n;
  if (++s.retires % retire_freq_ == 0) {
    if (s.advances++ % 16 == 0) (void)Sum();  // samples the peak
    TryAdvance();
    Collect(s);
  }
}

bool Core::TryAdvance() noexcept {
  const std::uint64_t e = Epoch();
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const int high = claims_.HighWater();
  for (int i = 0; i < high; ++i) {  // Bound: one pass
    // (T1) seq_cst: pairs with G1.
    const std::uint64_t a = slots_[i].announce.load(std::memory_order_seq_cst);
    if ((a & 1) != 0 && (a >> 1) != e) return false;
  }
  std::uint64_t expect = e;
  // One attempt: a failure means someone else advanced.
  return epoch_.compare_exchange_strong(expect, e + 1, std::memory_order_seq_cst);
}

void Core::Collect(EbrSlot& s) noexcept {
  const std::uint64_t safe = Epoch() - 2;
  if (s.limbo == nullptr || W(s.limbo_tail, 0).load(std::memory_order_relaxed) > safe) return;
  // Invariant 4: find the first expired node; everything after it is too.
  Node* prev = nullptr;
  Node* n = s.limbo;
  while (n != nullptr && W(n, 0).load(std::memory_order_relaxed) > safe) {
    prev = n;
    n = reinterpret_cast<Node*>(W(n, 1).load(std::memory_order_relaxed));
  }
  if (n == nullptr) return;
  if (prev == nullptr) {
    s.limbo = nullptr;
    s.limbo_tail = nullptr;
  } else {
    W(prev, 1).store(0, std::memory_order_relaxed);
    s.limbo_tail = prev;
  }
  FreeChain(s, n);
}

void Core::FreeChain(EbrSlot& s, Node* n) noexcept {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  while (n != nullptr) {
    Node* next = reinterpret_cast<Node*>(W(n, 1).load(std::memory_order_relaxed));
    bytes += NodeAccess::Delete(n);
    ++count;
    n = next;
  }
  Add(s.reclaimed, count);
  Add(s.reclaimed_bytes, bytes);
}

void Core::AdoptOrphans() noexcept {
  const int high = claims_.HighWater();
  for (int i = 0; i < high; ++i) {
    if (!claims_.TryClaim(i)) continue;
    Collect(slots_[i]);
    claims_.Release(i);
  }
}

void Core::FreeEverything() noexcept {
  const int high = claims_.HighWater();
  for (int i = 0; i < high; ++i) {
    FreeChain(slots_[i], slots_[i].limbo);
    slots_[i].limbo = nullptr;
    slots_[i].limbo_tail = nullptr;
  }
}

Counters Core::Sum() noexcept {
  Counters c;
  const int high = claims_.HighWater();
  for (int i = 0; i < high; ++i) {
    c.reclaimed += slots_[i].reclaimed.load(std::memory_order_relaxed);
    c.reclaimed_bytes += slots_[i].reclaimed_bytes.load(std::memory_order_relaxed);
  }
  for (int i = 0; i < high; ++i) {
    c.retired += slots_[i].retired.load(std::memory_order_relaxed);
    c.retired_bytes += slots_[i].retired_bytes.load(std::memory_order_relaxed);
  }
  c.unreclaimed = c.retired > c.reclaimed ? c.retired - c.reclaimed : 0;
  c.unreclaimed_bytes =
      c.retired_bytes > c.reclaimed_bytes ? c.retired_bytes - c.reclaimed_bytes : 0;
  std::uint64_t peak = peak_.load(std::memory_order_relaxed);
  for (int i = 0; i < 4 && peak < c.unreclaimed; ++i) {  // Bound: 4 attempts
    if (peak_.compare_exchange_weak(peak, c.unreclaimed, std::memory_order_relaxed)) break;
  }
  c.unreclaimed_peak = std::max(peak, c.unreclaimed);
  return c;
}

}  // namespace ebr_internal

EbrDomain& EbrDomain::Default() {
  static EbrDomain* const domain = new EbrDomain();
  return *domain;
}

EbrDomain::EbrDomain() : EbrDomain(Options()) {}

EbrDomain::EbrDomain(const Options& options) {
  auto core = std::make_shared<ebr_internal::Core>(std::max(1, options.max_threads),
                                                   std::max(1, options.retire_freq));
  core_ = core.get();
  client_ = std::move(core);
}

EbrDomain::~EbrDomain() { core_->FreeEverything(); }

void EbrDomain::Flush() noexcept {
  core_->TryAdvance();
  core_->Collect(MySlot());
}

void EbrDomain::Barrier() noexcept {
  for (int i = 0; i < 3; ++i) {
    Flush();
    core_->AdoptOrphans();
  }
}

}  // namespace mvkv::reclaim
