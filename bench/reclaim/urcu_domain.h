// bench/reclaim/urcu_domain.h — liburcu (memb flavour) behind reclaim/'s
// Domain concept, so the benchmark runs the project's own list and hash map
// over liburcu's grace periods: Guard = rcu_read_lock/unlock (inlined,
// _LGPL_SOURCE), Protect = an acquire-ordered load (rcu_dereference),
// Retire = call_rcu. The rcu_head lives in the Node's words 0-1 (the node
// header is scheme-private); the deleter in word 3. Counters: retirements
// are counted per thread; reclamations by the call_rcu worker thread.
//
// Thread safety: as the concept. Benchmark-only code.
#ifndef MVKV_BENCH_RECLAIM_URCU_DOMAIN_H_
#define MVKV_BENCH_RECLAIM_URCU_DOMAIN_H_

#define _LGPL_SOURCE 1
#include <urcu/urcu-memb.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "reclaim/internal/node_access.h"
#include "reclaim/node.h"

namespace mvkv::bench {

class UrcuDomain final {
 public:
  struct Options {};
  static constexpr int kMaxIndexes = 8;

  static UrcuDomain& Default() {
    static UrcuDomain* const d = new UrcuDomain();
    return *d;
  }
  UrcuDomain() = default;
  explicit UrcuDomain(const Options&) {}
  ~UrcuDomain() { urcu_memb_barrier(); }  // waits for pending callbacks
  UrcuDomain(const UrcuDomain&) = delete;
  UrcuDomain& operator=(const UrcuDomain&) = delete;

  void InitNode(reclaim::Node*) noexcept {}
  template <class T, class... Args>
  T* New(Args&&... args) {
    return new T(std::forward<Args>(args)...);
  }
  void Retire(reclaim::Node* n, reclaim::Deleter d, std::size_t bytes) noexcept {
    Register();
    reclaim::reclaim_internal::NodeAccess::SetDeleter(n, d);
    ThreadRetired().fetch_add(1, std::memory_order_relaxed);
    (void)bytes;
    urcu_memb_call_rcu(Head(n), &Callback);
  }
  template <class T>
  void Retire(T* p) noexcept {
    Retire(p, &reclaim::reclaim_internal::DeleteAs<T>, sizeof(T));
  }
  void Flush() noexcept {}
  void Barrier() noexcept { urcu_memb_barrier(); }
  reclaim::Counters GetCounters() const noexcept {
    reclaim::Counters c;
    {
      std::lock_guard<std::mutex> l(Mu());
      for (auto* r : Registry()) c.retired += r->load(std::memory_order_relaxed);
    }
    c.reclaimed = Reclaimed().load(std::memory_order_relaxed);
    c.unreclaimed = c.retired > c.reclaimed ? c.retired - c.reclaimed : 0;
    return c;
  }

  class Guard {
   public:
    explicit Guard(UrcuDomain& = Default()) noexcept {
      Register();
      urcu_memb_read_lock();
    }
    ~Guard() { urcu_memb_read_unlock(); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    template <class T>
    T* Protect(const std::atomic<T*>& src, int, const reclaim::Node* = nullptr) noexcept {
      return src.load(std::memory_order_acquire);
    }
    template <class T = reclaim::Node>
    std::uintptr_t Protect(const std::atomic<std::uintptr_t>& src, int,
                           const reclaim::Node* = nullptr) noexcept {
      return src.load(std::memory_order_acquire);
    }
  };

 private:
  struct Registration {
    Registration() { urcu_memb_register_thread(); }
    ~Registration() { urcu_memb_unregister_thread(); }
  };
  static void Register() noexcept { thread_local Registration r; }
  static rcu_head* Head(reclaim::Node* n) noexcept {
    return reinterpret_cast<rcu_head*>(&reclaim::reclaim_internal::NodeAccess::Word(n, 0));
  }
  static void Callback(rcu_head* h) {
    auto* n = reinterpret_cast<reclaim::Node*>(h);  // words 0-1 start the Node
    reclaim::reclaim_internal::NodeAccess::Delete(n);
    Reclaimed().fetch_add(1, std::memory_order_relaxed);
  }
  static std::atomic<std::uint64_t>& Reclaimed() {
    static std::atomic<std::uint64_t> n{0};
    return n;
  }
  static std::mutex& Mu() {
    static std::mutex mu;
    return mu;
  }
  static std::vector<std::atomic<std::uint64_t>*>& Registry() {
    static std::vector<std::atomic<std::uint64_t>*> r;
    return r;
  }
  // Per-thread retire counter, registered once (never freed: counts persist).
  static std::atomic<std::uint64_t>& ThreadRetired() {
    thread_local std::atomic<std::uint64_t>* mine = [] {
      auto* c = new std::atomic<std::uint64_t>(0);
      std::lock_guard<std::mutex> l(Mu());
      Registry().push_back(c);
      return c;
    }();
    return *mine;
  }
};

}  // namespace mvkv::bench

#endif  // MVKV_BENCH_RECLAIM_URCU_DOMAIN_H_
