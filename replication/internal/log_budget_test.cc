// LogBudget: a snapshot is due once the bytes applied since the last one
// reach the budget, and the trailing entries kept hold at most a quarter of
// it, never fewer than one entry.
#include "replication/internal/log_budget.h"

#include "gtest/gtest.h"

namespace mvkv::replication_internal {
namespace {

TEST(LogBudgetTest, DueAtTheByteBudgetAndKeepsAQuarterAtMost) {
  LogBudget budget(/*trailing=*/8, /*max_bytes=*/1000);
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(budget.Applied(100)) << i;
  EXPECT_TRUE(budget.Applied(100));
  EXPECT_EQ(budget.SnapshotTaken(), 2u);  // 2 x 100 <= 250 < 3 x 100
  EXPECT_EQ(budget.since_snapshot(), 0u);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(budget.Applied(10));
  EXPECT_EQ(budget.SnapshotTaken(), 8u);  // 8 x 10 fit: the trailing cap
}

TEST(LogBudgetTest, KeepsAtLeastOneEntryAndResetsOnRestore) {
  LogBudget budget(8, 1000);
  EXPECT_TRUE(budget.Applied(5000));
  EXPECT_EQ(budget.SnapshotTaken(), 1u);  // too big for the quarter, yet 1
  budget.Applied(900);
  budget.Reset();
  EXPECT_EQ(budget.since_snapshot(), 0u);
  EXPECT_EQ(budget.SnapshotTaken(), 1u);
}

}  // namespace
}  // namespace mvkv::replication_internal
