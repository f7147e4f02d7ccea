// Each isolation level means exactly what db.h says: these tests build the
// classic anomalies step by step, deterministically, on one thread.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "mvcc/testing/database_test.h"

namespace mvkv {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using IsolationTest = testing_support::DatabaseTest;

TEST_F(IsolationTest, SnapshotReadsIgnoreLaterCommits) {
  ASSERT_TRUE(db_->Put("k", "before").ok());
  auto reader = db_->Begin(IsolationLevel::kSnapshot);
  EXPECT_EQ(*reader->Get("k"), "before");
  ASSERT_TRUE(db_->Put("k", "after").ok());
  ASSERT_TRUE(db_->Put("new", "x").ok());
  EXPECT_EQ(*reader->Get("k"), "before");
  EXPECT_EQ(reader->Get("new").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reader->Scan("", "")->size(), 1u);
}

TEST_F(IsolationTest, ReadCommittedSeesNewCommitsBetweenReads) {
  ASSERT_TRUE(db_->Put("k", "before").ok());
  auto reader = db_->Begin(IsolationLevel::kReadCommitted);
  EXPECT_EQ(*reader->Get("k"), "before");
  ASSERT_TRUE(db_->Put("k", "after").ok());
  EXPECT_EQ(*reader->Get("k"), "after");
  ASSERT_TRUE(db_->Put("other", "x").ok());
  EXPECT_EQ(reader->Scan("", "")->size(), 2u);
}

TEST_F(IsolationTest, LostUpdateIsPreventedUnderSnapshotIsolation) {
  ASSERT_TRUE(db_->Put("counter", "0").ok());
  auto t1 = db_->Begin();
  auto t2 = db_->Begin();
  ASSERT_EQ(*t1->Get("counter"), "0");
  ASSERT_EQ(*t2->Get("counter"), "0");
  ASSERT_TRUE(t1->Put("counter", "1").ok());
  ASSERT_TRUE(t2->Put("counter", "1").ok());
  ASSERT_TRUE(t1->Commit().ok());
  absl::Status s = t2->Commit();
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("\"counter\""));
  EXPECT_EQ(*db_->Get("counter"), "1");
  EXPECT_EQ(db_->GetStats().aborts_write_conflict, 1u);
}

TEST_F(IsolationTest, ReadCommittedLetsTheLastWriterWin) {
  ASSERT_TRUE(db_->Put("k", "0").ok());
  auto t1 = db_->Begin(IsolationLevel::kReadCommitted);
  auto t2 = db_->Begin(IsolationLevel::kReadCommitted);
  ASSERT_TRUE(t1->Put("k", "1").ok());
  ASSERT_TRUE(t2->Put("k", "2").ok());
  ASSERT_TRUE(t1->Commit().ok());
  ASSERT_TRUE(t2->Commit().ok());
  EXPECT_EQ(*db_->Get("k"), "2");
}

// Two doctors on call; each goes off call if the other is still on.
void WriteSkew(Database& db, IsolationLevel level, absl::Status* second) {
  ASSERT_TRUE(db.Put("alice", "on").ok());
  ASSERT_TRUE(db.Put("bob", "on").ok());
  auto t1 = db.Begin(level);
  auto t2 = db.Begin(level);
  ASSERT_EQ(*t1->Get("bob"), "on");
  ASSERT_EQ(*t2->Get("alice"), "on");
  ASSERT_TRUE(t1->Put("alice", "off").ok());
  ASSERT_TRUE(t2->Put("bob", "off").ok());
  ASSERT_TRUE(t1->Commit().ok());
  *second = t2->Commit();
}

TEST_F(IsolationTest, WriteSkewHappensUnderSnapshotIsolation) {
  absl::Status second;
  WriteSkew(*db_, IsolationLevel::kSnapshot, &second);
  EXPECT_TRUE(second.ok()) << second;
  EXPECT_EQ(*db_->Get("alice"), "off");
  EXPECT_EQ(*db_->Get("bob"), "off");  // nobody on call: the anomaly
}

TEST_F(IsolationTest, WriteSkewAbortsUnderSerializable) {
  absl::Status second;
  WriteSkew(*db_, IsolationLevel::kSerializable, &second);
  EXPECT_EQ(second.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(second.message(), HasSubstr("\"alice\""));
  EXPECT_EQ(*db_->Get("bob"), "on");
  EXPECT_EQ(db_->GetStats().aborts_read_conflict, 1u);
}

// Each transaction counts the rows in a range and inserts one if fewer than
// two exist: serially, the second sees the first's row and stops.
void Phantom(Database& db, IsolationLevel level, absl::Status* second) {
  ASSERT_TRUE(db.Put("shift/1", "x").ok());
  auto t1 = db.Begin(level);
  auto t2 = db.Begin(level);
  ASSERT_EQ(t1->Scan("shift/", "shift0")->size(), 1u);
  ASSERT_EQ(t2->Scan("shift/", "shift0")->size(), 1u);
  ASSERT_TRUE(t1->Put("shift/2", "x").ok());
  ASSERT_TRUE(t2->Put("shift/3", "x").ok());
  ASSERT_TRUE(t1->Commit().ok());
  *second = t2->Commit();
}

TEST_F(IsolationTest, PhantomInsertIntoAScannedRangeCommitsUnderSnapshot) {
  absl::Status second;
  Phantom(*db_, IsolationLevel::kSnapshot, &second);
  EXPECT_TRUE(second.ok()) << second;
  EXPECT_EQ(db_->Scan("shift/", "shift0")->size(), 3u);
}

TEST_F(IsolationTest, PhantomInsertIntoAScannedRangeAbortsUnderSerializable) {
  absl::Status second;
  Phantom(*db_, IsolationLevel::kSerializable, &second);
  EXPECT_EQ(second.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(second.message(),
              HasSubstr("in the range scanned from \"shift/\" to \"shift0\""));
  EXPECT_EQ(db_->Scan("shift/", "shift0")->size(), 2u);
}

TEST_F(IsolationTest, SerializableScanWithLimitOnlyGuardsWhatItReturned) {
  ASSERT_TRUE(db_->Put("a", "1").ok());
  ASSERT_TRUE(db_->Put("b", "1").ok());
  auto t = db_->Begin(IsolationLevel::kSerializable);
  ASSERT_EQ(t->Scan("", "", 1)->size(), 1u);  // saw only "a"
  ASSERT_TRUE(db_->Put("z", "1").ok());       // beyond what it returned
  ASSERT_TRUE(t->Put("out", "1").ok());
  EXPECT_TRUE(t->Commit().ok());
}

TEST_F(IsolationTest, SerializableReadOfAMissingKeyConflictsWithItsInsert) {
  auto t = db_->Begin(IsolationLevel::kSerializable);
  EXPECT_EQ(t->Get("ghost").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(db_->Put("ghost", "boo").ok());
  ASSERT_TRUE(t->Put("witness", "saw no ghost").ok());
  absl::Status s = t->Commit();
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  // The conflict names the kind of read: a point read, not a scan.
  EXPECT_THAT(s.message(), HasSubstr("key \"ghost\" (point read)"));
  EXPECT_THAT(s.message(), Not(HasSubstr("scanned")));
}

TEST_F(IsolationTest, ReadWithTimestampIsValidatedAsAPointRead) {
  ASSERT_TRUE(db_->Put("k", "1").ok());
  auto t = db_->Begin(IsolationLevel::kSerializable);
  absl::StatusOr<ReadResult> r = t->GetWithTimestamp("k");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, "1");
  EXPECT_EQ(r->commit_ts, db_->GetStats().visible_ts);
  ASSERT_TRUE(t->Put("own", "x").ok());
  EXPECT_EQ(t->GetWithTimestamp("own")->commit_ts, 0u);  // own write
  ASSERT_TRUE(db_->Put("k", "2").ok());
  absl::Status s = t->Commit();
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("key \"k\" (point read)"));
}

TEST(IsolationTraitsTest, EachLevelHasOneRowThatDescribesIt) {
  const IsolationTraits& si = Traits(IsolationLevel::kSnapshot);
  const IsolationTraits& ser = Traits(IsolationLevel::kSerializable);
  const IsolationTraits& rc = Traits(IsolationLevel::kReadCommitted);
  EXPECT_STREQ(si.name, "snapshot");
  EXPECT_STREQ(ser.name, "serializable");
  EXPECT_STREQ(rc.name, "read_committed");
  EXPECT_TRUE(si.has_snapshot && si.validates_writes && !si.validates_reads);
  EXPECT_TRUE(ser.has_snapshot && ser.records_reads && ser.validates_reads);
  EXPECT_TRUE(rc.reads_latest && !rc.has_snapshot && !rc.validates_writes);
}

TEST_F(IsolationTest, DeleteCountsAsAWriteForFirstCommitterWins) {
  ASSERT_TRUE(db_->Put("k", "v").ok());
  auto t = db_->Begin();
  ASSERT_TRUE(t->Put("k", "mine").ok());
  ASSERT_TRUE(db_->Delete("k").ok());
  EXPECT_EQ(t->Commit().code(), absl::StatusCode::kAborted);
}

}  // namespace
}  // namespace mvkv
