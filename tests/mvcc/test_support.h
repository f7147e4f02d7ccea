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
#include "mvcc/testing/seed.h"  // TestSeed()

namespace mvkv::testing_support {

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
