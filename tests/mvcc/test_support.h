// Helpers shared by the engine's concurrency tests: a logged, replayable
// seed and readable names for isolation-level parameters.
#ifndef MVKV_TESTS_MVCC_TEST_SUPPORT_H_
#define MVKV_TESTS_MVCC_TEST_SUPPORT_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "mvcc/db.h"

namespace mvkv::testing_support {

// MVKV_TEST_SEED if set, else a random seed; printed so a failure can be
// replayed with MVKV_TEST_SEED=<seed>.
inline uint64_t TestSeed() {
  const char* env = std::getenv("MVKV_TEST_SEED");
  const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10)
                                       : std::random_device{}();
  std::printf("seed=%llu (set MVKV_TEST_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  return seed;
}

// For INSTANTIATE_TEST_SUITE_P over isolation levels.
inline std::string IsolationName(
    const ::testing::TestParamInfo<IsolationLevel>& info) {
  switch (info.param) {
    case IsolationLevel::kSnapshot:
      return "Snapshot";
    case IsolationLevel::kSerializable:
      return "Serializable";
    case IsolationLevel::kReadCommitted:
      return "ReadCommitted";
  }
  return "Unknown";
}

}  // namespace mvkv::testing_support

#endif  // MVKV_TESTS_MVCC_TEST_SUPPORT_H_
