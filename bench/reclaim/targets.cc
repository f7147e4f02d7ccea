// Implementations of bench/reclaim/targets.h.
#include "bench/reclaim/targets.h"

#include <cds/container/michael_list_hp.h>
#include <cds/container/michael_set.h>
#include <cds/gc/hp.h>
#include <cds/init.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <xenium/harris_michael_hash_map.hpp>
#include <xenium/harris_michael_list_based_set.hpp>
#include <xenium/reclamation/generic_epoch_based.hpp>
#include <xenium/reclamation/hazard_pointer.hpp>

#include "bench/reclaim/counted.h"
#include "bench/reclaim/urcu_domain.h"
#include "reclaim/reclaim.h"
#include "reclaim/structures/harris_michael_list.h"
#include "reclaim/structures/michael_hash_map.h"

namespace mvkv::bench {
namespace {

constexpr std::size_t kBuckets = 65536;

// The project's structures over a Domain (ours, or the liburcu adapter).
template <class D, class Set>
class OwnTarget final : public Target {
 public:
  explicit OwnTarget(bool hashed)
      : domain_(std::make_unique<D>()), set_(MakeSet(hashed)), dummy_(domain_->template New<Dummy>()) {}
  ~OwnTarget() override {
    set_.reset();
    delete dummy_.load();
  }
  bool Insert(std::uint64_t k) override { return set_->Insert(k); }
  bool Remove(std::uint64_t k) override { return set_->Remove(k); }
  bool Contains(std::uint64_t k) override { return set_->Contains(k); }
  std::int64_t Unreclaimed() override {
    return static_cast<std::int64_t>(domain_->GetCounters().unreclaimed);
  }
  bool StallWhile(void (*park)(void*), void* arg) override {
    typename D::Guard g(*domain_);
    (void)g.Protect(dummy_, 0);
    park(arg);
    return true;
  }

 private:
  struct Dummy : reclaim::Node {};
  std::unique_ptr<Set> MakeSet(bool hashed) {
    if constexpr (std::is_same_v<Set, reclaim::MichaelHashMap<D>>) {
      (void)hashed;
      return std::make_unique<Set>(kBuckets, *domain_);
    } else {
      return std::make_unique<Set>(*domain_);
    }
  }
  std::unique_ptr<D> domain_;
  std::unique_ptr<Set> set_;
  std::atomic<Dummy*> dummy_;
};

template <class D>
std::unique_ptr<Target> MakeOwn(const std::string& structure) {
  if (structure == "hashmap") {
    return std::make_unique<OwnTarget<D, reclaim::MichaelHashMap<D>>>(true);
  }
  if (structure == "list") {
    return std::make_unique<OwnTarget<D, reclaim::HarrisMichaelList<D>>>(false);
  }
  return nullptr;
}

// Counting mode: each key object alive counts +1 and each key in the set
// -1, so LiveCells::Live() = retired-not-freed nodes + in-flight temporaries.
template <class Set, class K, bool kCount, bool kIsMap>
class PeerTarget : public Target {
 public:
  PeerTarget() : gen_(kCount ? LiveCells::NextGeneration() : 0) {}
  bool Contains(std::uint64_t k) override { return set_->contains(K(k)); }
  bool Insert(std::uint64_t k) override {
    const bool ok = Emplace(k);
    if (ok) K(0).Note(-1);  // the key now lives in the set
    return ok;
  }
  bool Remove(std::uint64_t k) override {
    const bool ok = set_->erase(K(k));
    if (ok) K(0).Note(+1);
    return ok;
  }
  std::int64_t Unreclaimed() override {
    if constexpr (!kCount) return -1;
    return std::max<std::int64_t>(0, LiveCells::Live(gen_));
  }

 protected:
  virtual bool Emplace(std::uint64_t k) = 0;
  std::unique_ptr<Set> set_;
  const std::uint32_t gen_;
};

// A xenium list (kIsMap false) or hash map.
template <class Set, bool kCount, bool kIsMap>
class XeniumTarget final : public PeerTarget<Set, Key<kCount>, kCount, kIsMap> {
 public:
  XeniumTarget() { this->set_ = std::make_unique<Set>(); }
  bool StallWhile(void (*park)(void*), void* arg) override {
    // Hold an iterator (a guard_ptr) on the first element while parked.
    auto it = this->set_->begin();
    park(arg);
    return true;
  }

 private:
  bool Emplace(std::uint64_t k) override {
    if constexpr (kIsMap) {
      return this->set_->emplace(k, 0);
    } else {
      return this->set_->emplace(k);
    }
  }
};

template <class Reclaimer, bool kCount>
using XeniumList = XeniumTarget<
    xenium::harris_michael_list_based_set<Key<kCount>, xenium::policy::reclaimer<Reclaimer>>,
    kCount, false>;

template <class Reclaimer, bool kCount>
using XeniumMap =
    XeniumTarget<xenium::harris_michael_hash_map<Key<kCount>, std::uint64_t,
                                                 xenium::policy::reclaimer<Reclaimer>,
                                                 xenium::policy::buckets<kBuckets>,
                                                 xenium::policy::hash<std::hash<Key<kCount>>>>,
                 kCount, true>;

template <bool kCount>
struct CdsTypes {
  using K = Key<kCount>;
  struct ListTraits : cds::container::michael_list::traits {
    typedef std::less<K> less;
  };
  using List = cds::container::MichaelList<cds::gc::HP, K, ListTraits>;
  struct SetTraits : cds::container::michael_set::traits {
    typedef std::hash<K> hash;
  };
  using Set = cds::container::MichaelHashSet<cds::gc::HP, List, SetTraits>;
};

template <class Set, bool kCount, bool kIsMap>
class CdsTarget final : public PeerTarget<Set, Key<kCount>, kCount, kIsMap> {
 public:
  CdsTarget() {
    if constexpr (kIsMap) {
      this->set_ = std::make_unique<Set>(2 * kBuckets, 1);
    } else {
      this->set_ = std::make_unique<Set>();
    }
  }
  void ThreadEnter() override { cds::threading::Manager::attachThread(); }
  void ThreadExit() override { cds::threading::Manager::detachThread(); }
  bool StallWhile(void (*park)(void*), void* arg) override {
    auto gp = this->set_->get(Key<kCount>(0));  // holds one hazard pointer
    park(arg);
    return true;
  }

 private:
  bool Emplace(std::uint64_t k) override { return this->set_->insert(Key<kCount>(k)); }
};

template <bool kCount>
std::unique_ptr<Target> MakePeer(const std::string& scheme, const std::string& structure) {
  using XEbr = xenium::reclamation::epoch_based<>;
  using XHp = xenium::reclamation::hazard_pointer<>;
  const bool map = structure == "hashmap";
  if (scheme == "xenium_ebr") {
    if (map) return std::make_unique<XeniumMap<XEbr, kCount>>();
    return std::make_unique<XeniumList<XEbr, kCount>>();
  }
  if (scheme == "xenium_hp") {
    if (map) return std::make_unique<XeniumMap<XHp, kCount>>();
    return std::make_unique<XeniumList<XHp, kCount>>();
  }
  if (scheme == "cds_hp") {
    if (map) return std::make_unique<CdsTarget<typename CdsTypes<kCount>::Set, kCount, true>>();
    return std::make_unique<CdsTarget<typename CdsTypes<kCount>::List, kCount, false>>();
  }
  return nullptr;
}

template <class D>
double GuardLoop(std::uint64_t iterations, bool with_protect) {
  D domain;
  struct Obj : reclaim::Node {};
  std::atomic<Obj*> root{domain.template New<Obj>()};
  std::uintptr_t sink = 0;
  { typename D::Guard warm(domain); }  // registration off the clock
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < iterations; ++i) {
    typename D::Guard g(domain);
    if (with_protect) sink += reinterpret_cast<std::uintptr_t>(g.Protect(root, 0));
    asm volatile("" : : "r"(sink) : "memory");
  }
  const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
  delete root.load();
  return ns.count() / static_cast<double>(iterations);
}

}  // namespace

std::unique_ptr<Target> MakeTarget(const std::string& scheme, const std::string& structure,
                                   bool counting) {
  if (structure != "hashmap" && structure != "list") return nullptr;
  if (scheme == "crystalline") return MakeOwn<reclaim::CrystallineDomain>(structure);
  if (scheme == "ebr") return MakeOwn<reclaim::EbrDomain>(structure);
  if (scheme == "urcu") return MakeOwn<UrcuDomain>(structure);
  return counting ? MakePeer<true>(scheme, structure) : MakePeer<false>(scheme, structure);
}

double GuardCostNs(const std::string& scheme, bool with_protect, std::uint64_t iterations) {
  if (scheme == "crystalline") return GuardLoop<reclaim::CrystallineDomain>(iterations, with_protect);
  if (scheme == "ebr") return GuardLoop<reclaim::EbrDomain>(iterations, with_protect);
  if (scheme == "urcu") return GuardLoop<UrcuDomain>(iterations, with_protect);
  return -1;
}

void InitPeers() {
  cds::Initialize();
  static cds::gc::HP* const hp = new cds::gc::HP();
  (void)hp;
  cds::threading::Manager::attachThread();
}

}  // namespace mvkv::bench
