// Injected write failures (an Env whose file system fails writes): the
// failing commit returns Unavailable and is never visible, later commits are
// refused, reads go on, and after a reopen the failed commit is absent.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "storage/open.h"
#include "storage/rocksdb_durability.h"
#include "storage/testing/fault_injection_fs.h"
#include "storage/testing/temp_dir.h"

namespace mvkv::storage {
namespace {

using ::testing::HasSubstr;

// Options for a fresh database in `tmp` whose writes go through `faulty`.
StorageOptions FaultyOptions(const storage_testing::TempDir& tmp,
                             storage_testing::FaultInjectionEnv& faulty) {
  StorageOptions o;
  o.dir = tmp.Sub("db");
  o.create_if_missing = true;
  o.env = faulty.env();
  return o;
}

TEST(WriteFailureTest, PersistBatchReportsTheInjectedError) {
  storage_testing::TempDir tmp;
  storage_testing::FaultInjectionEnv faulty;
  StorageOptions o = FaultyOptions(tmp, faulty);
  auto d = RocksDbDurability::Open(o);
  ASSERT_TRUE(d.ok()) << d.status();
  const DurableWrite w[] = {{"k", "v", false}};
  const DurableCommit batch[] = {{1, w}};
  faulty.SetFailing(true);
  absl::Status s = (*d)->PersistBatch(batch);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("injected write failure"));
  EXPECT_GT(faulty.failures(), 0u);
  EXPECT_EQ((*d)->GetCounters().batches, 0u);
  faulty.SetFailing(false);
}

TEST(WriteFailureTest, FailedCommitIsUnavailableInvisibleAndAbsentAfterReopen) {
  storage_testing::TempDir tmp;
  storage_testing::FaultInjectionEnv faulty;
  StorageOptions o = FaultyOptions(tmp, faulty);
  {
    auto opened = OpenPersistentDatabase(o, {});
    ASSERT_TRUE(opened.ok()) << opened.status();
    Database& db = *opened->db;
    ASSERT_TRUE(db.Put("kept", "1").ok());
    faulty.SetFailing(true);
    absl::Status s = db.Put("lost", "2");
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_THAT(s.message(), HasSubstr("injected write failure"));
    EXPECT_EQ(db.Get("lost").status().code(), absl::StatusCode::kNotFound);
    // Even once the disk recovers, the engine stays stopped: it never
    // acknowledges commits after a durability failure.
    faulty.SetFailing(false);
    EXPECT_EQ(db.Put("later", "3").code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(*db.Get("kept"), "1");
    EXPECT_EQ(db.Scan("", "")->size(), 1u);
  }
  o.env = nullptr;
  auto reopened = OpenPersistentDatabase(o, {});
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(*reopened->db->Get("kept"), "1");
  EXPECT_EQ(reopened->db->Get("lost").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(reopened->db->Get("later").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(reopened->db->Put("after", "4").ok());
}

}  // namespace
}  // namespace mvkv::storage
