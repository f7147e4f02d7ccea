// mvcc/testing/database_test.h — a GoogleTest fixture holding a fresh
// in-memory Database (db_), for the engine's unit tests. Test-only.
#ifndef MVKV_MVCC_TESTING_DATABASE_TEST_H_
#define MVKV_MVCC_TESTING_DATABASE_TEST_H_

#include <memory>

#include "gtest/gtest.h"
#include "mvcc/db.h"

namespace mvkv::testing_support {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }
  std::unique_ptr<Database> db_;
};

}  // namespace mvkv::testing_support

#endif  // MVKV_MVCC_TESTING_DATABASE_TEST_H_
