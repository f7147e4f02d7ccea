// TVar<T>: typed transactional variables that share transactions and
// timestamps with keys.
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "mvcc/testing/database_test.h"

namespace mvkv {
namespace {

using TVarTest = testing_support::DatabaseTest;

TEST_F(TVarTest, InitialValueIsVisibleToEveryTransaction) {
  TVar<int> x = db_->NewTVar(41);
  auto txn = db_->Begin();
  EXPECT_EQ(*txn->Read(x), 41);
}

TEST_F(TVarTest, HoldsNonTrivialTypes) {
  TVar<std::vector<std::string>> names =
      db_->NewTVar(std::vector<std::string>{"ada"});
  ASSERT_TRUE(db_->Transact([&](Txn& t) -> absl::Status {
                   auto v = t.Read(names);
                   if (!v.ok()) return v.status();
                   v->push_back("grace");
                   return t.Write(names, *v);
                 }).ok());
  auto txn = db_->Begin();
  EXPECT_EQ(*txn->Read(names), (std::vector<std::string>{"ada", "grace"}));
}

TEST_F(TVarTest, CommitsAtomicallyWithKeysInOneTransaction) {
  TVar<int64_t> total = db_->NewTVar<int64_t>(0);
  auto writer = db_->Begin();
  ASSERT_TRUE(writer->Put("order/1", "100").ok());
  ASSERT_TRUE(writer->Write(total, int64_t{100}).ok());
  EXPECT_EQ(*writer->Read(total), 100);  // own write

  auto before = db_->Begin();
  ASSERT_TRUE(writer->Commit().ok());
  auto after = db_->Begin();

  // A snapshot from before the commit sees neither; one after sees both.
  EXPECT_EQ(*before->Read(total), 0);
  EXPECT_EQ(before->Get("order/1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(*after->Read(total), 100);
  EXPECT_EQ(*after->Get("order/1"), "100");
}

TEST_F(TVarTest, ConcurrentWritersConflictLikeKeys) {
  TVar<int> x = db_->NewTVar(0);
  auto t1 = db_->Begin();
  auto t2 = db_->Begin();
  ASSERT_TRUE(t1->Write(x, 1).ok());
  ASSERT_TRUE(t2->Write(x, 2).ok());
  ASSERT_TRUE(t1->Commit().ok());
  EXPECT_EQ(t2->Commit().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(*db_->Begin()->Read(x), 1);
}

TEST_F(TVarTest, SerializableValidatesTVarReads) {
  TVar<int> x = db_->NewTVar(0);
  auto t = db_->Begin(IsolationLevel::kSerializable);
  EXPECT_EQ(*t->Read(x), 0);
  ASSERT_TRUE(db_->Transact([&](Txn& u) { return u.Write(x, 5); }).ok());
  ASSERT_TRUE(t->Put("derived", "0").ok());
  EXPECT_EQ(t->Commit().code(), absl::StatusCode::kAborted);
}

TEST_F(TVarTest, RollbackDiscardsTVarWrites) {
  TVar<int> x = db_->NewTVar(7);
  auto t = db_->Begin();
  ASSERT_TRUE(t->Write(x, 8).ok());
  ASSERT_TRUE(t->Write(x, 9).ok());  // replaces the first buffered value
  EXPECT_EQ(*t->Read(x), 9);
  ASSERT_TRUE(t->Rollback().ok());
  EXPECT_EQ(*db_->Begin()->Read(x), 7);
}

TEST_F(TVarTest, EmptyHandleIsInvalidArgument) {
  TVar<int> empty;
  auto t = db_->Begin();
  EXPECT_EQ(t->Read(empty).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t->Write(empty, 1).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TVarTest, HistoryIsPrunedWhenNoSnapshotNeedsIt) {
  TVar<int> x = db_->NewTVar(0);
  const uint64_t base = db_->GetStats().versions;
  for (int i = 1; i <= 100; ++i) {
    ASSERT_TRUE(db_->Transact([&](Txn& t) { return t.Write(x, i); }).ok());
  }
  // With no snapshot open, a chain keeps only what the horizon needs.
  EXPECT_LE(db_->GetStats().versions, base + 2);
  EXPECT_EQ(*db_->Begin()->Read(x), 100);
}

}  // namespace
}  // namespace mvkv
