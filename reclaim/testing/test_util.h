// reclaim/testing/test_util.h — shared pieces of reclaim/'s tests: the
// scheme list for typed tests, seeds, scaled op counts and a poisoning
// test object. Test-only.
#ifndef MVKV_RECLAIM_TESTING_TEST_UTIL_H_
#define MVKV_RECLAIM_TESTING_TEST_UTIL_H_

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "reclaim/reclaim.h"

namespace mvkv::reclaim::testing {

// Sanitizer builds run the same properties on smaller op counts.
#ifdef MVKV_SANITIZER
inline constexpr std::uint64_t kScale = 8;
#else
inline constexpr std::uint64_t kScale = 1;
#endif

inline std::uint64_t Scaled(std::uint64_t n) { return n / kScale; }

// The seed from $MVKV_TEST_SEED, or a fresh one; logged either way so a
// failing run can be replayed.
inline std::uint64_t TestSeed() {
  std::uint64_t seed;
  if (const char* env = std::getenv("MVKV_TEST_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = std::random_device{}();
  }
  std::printf("[seed] MVKV_TEST_SEED=%llu\n", static_cast<unsigned long long>(seed));
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

// Schemes for typed tests; each makes its own (non-default) domain.
struct CrystallineScheme {
  using Domain = CrystallineDomain;
  static constexpr const char* kName = "Crystalline";
  static Domain::Options MakeOptions(int max_threads = 128) {
    Domain::Options o;
    o.max_threads = max_threads;
    return o;
  }
};
// Crystalline-W with the fast path disabled and the era moving on every
// allocation: every Protect takes the helped slow path.
struct CrystallineSlowPathScheme {
  using Domain = CrystallineDomain;
  static constexpr const char* kName = "CrystallineSlowPath";
  static Domain::Options MakeOptions(int max_threads = 128) {
    Domain::Options o;
    o.max_threads = max_threads;
    o.fast_attempts = 0;
    o.era_freq = 1;
    o.retire_freq = 4;
    return o;
  }
};
struct EbrScheme {
  using Domain = EbrDomain;
  static constexpr const char* kName = "Ebr";
  static Domain::Options MakeOptions(int max_threads = 128) {
    Domain::Options o;
    o.max_threads = max_threads;
    return o;
  }
};

using AllSchemes = ::testing::Types<CrystallineScheme, CrystallineSlowPathScheme, EbrScheme>;

struct SchemeNames {
  template <class S>
  static std::string GetName(int) {
    return S::kName;
  }
};

// An object whose deleter poisons it before freeing it and counts frees, so
// a reader that sees kDead caught a premature free (ASan catches the rest).
inline constexpr std::uint64_t kAlive = 0xA11CEA11CEA11CEull;
inline constexpr std::uint64_t kDead = 0xDEADDEADDEADDEADull;

struct Tracked : Node {
  explicit Tracked(std::uint64_t v) : value(v) {}
  std::atomic<std::uint64_t> canary{kAlive};
  std::uint64_t value;
  std::atomic<Tracked*> next{nullptr};
};

inline std::atomic<std::uint64_t> g_tracked_freed{0};

inline std::size_t FreeTracked(Node* n) noexcept {
  auto* t = static_cast<Tracked*>(n);
  t->canary.store(kDead, std::memory_order_relaxed);
  delete t;
  g_tracked_freed.fetch_add(1, std::memory_order_relaxed);
  return sizeof(Tracked);
}

}  // namespace mvkv::reclaim::testing

#endif  // MVKV_RECLAIM_TESTING_TEST_UTIL_H_
