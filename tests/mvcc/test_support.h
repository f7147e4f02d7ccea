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

// For INSTANTIATE_TEST_SUITE_P over isolation levels: the level's name.
inline std::string IsolationName(
    const ::testing::TestParamInfo<IsolationLevel>& info) {
  return Traits(info.param).name;
}

}  // namespace mvkv::testing_support

#endif  // MVKV_TESTS_MVCC_TEST_SUPPORT_H_
