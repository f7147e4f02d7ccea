// mvcc/testing/seed.h — the seed of a randomized engine test: MVKV_TEST_SEED
// if set, else a fresh one; printed either way so a failure can be replayed
// with MVKV_TEST_SEED=<seed>. And the size of a stress test's run, smaller
// under the sanitizers (MVKV_SANITIZER), which run it several times slower.
// Test-only.
#ifndef MVKV_MVCC_TESTING_SEED_H_
#define MVKV_MVCC_TESTING_SEED_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>

namespace mvkv::testing_support {

inline uint64_t TestSeed() {
  const char* env = std::getenv("MVKV_TEST_SEED");
  const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10)
                                       : std::random_device{}();
  std::printf("seed=%llu (set MVKV_TEST_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  return seed;
}

// `normal`, or `sanitized` in a sanitizer build.
constexpr int Scaled(int normal, int sanitized) {
#ifdef MVKV_SANITIZER
  (void)normal;
  return sanitized;
#else
  (void)sanitized;
  return normal;
#endif
}

}  // namespace mvkv::testing_support

#endif  // MVKV_MVCC_TESTING_SEED_H_
