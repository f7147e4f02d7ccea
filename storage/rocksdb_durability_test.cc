// RocksDbDurability on its own and under mvkv::Database: round trips,
// durability modes, metadata isolation, load progress and checkpoints.
#include "storage/rocksdb_durability.h"

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "storage/open.h"
#include "storage/testing/temp_dir.h"

namespace mvkv::storage {
namespace {

using ::mvkv::storage_testing::TempDir;
using ::testing::HasSubstr;

using Contents = std::map<std::string, std::pair<std::string, uint64_t>>;

StorageOptions Fresh(const std::string& dir,
                     DurabilityMode mode = DurabilityMode::kSync) {
  StorageOptions o;
  o.dir = dir;
  o.mode = mode;
  o.create_if_missing = true;
  return o;
}

OpenedDatabase OpenOrDie(const StorageOptions& o) {
  absl::StatusOr<OpenedDatabase> opened = OpenPersistentDatabase(o, {});
  EXPECT_TRUE(opened.ok()) << opened.status();
  return std::move(*opened);
}

// Loads everything through the Durability interface.
std::pair<Contents, uint64_t> LoadAll(RocksDbDurability& d) {
  Contents out;
  absl::StatusOr<uint64_t> last =
      d.Load([&](std::string_view k, std::string_view v, uint64_t ts) {
        out[std::string(k)] = {std::string(v), ts};
      });
  EXPECT_TRUE(last.ok()) << last.status();
  return {out, last.value_or(0)};
}

TEST(ParseDurabilityModeTest, AcceptsSyncAsyncNoneAndNamesTheAllowedValues) {
  EXPECT_EQ(*ParseDurabilityMode("sync"), DurabilityMode::kSync);
  EXPECT_EQ(*ParseDurabilityMode("async"), DurabilityMode::kAsync);
  EXPECT_EQ(*ParseDurabilityMode("none"), DurabilityMode::kNone);
  absl::StatusOr<DurabilityMode> bad = ParseDurabilityMode("fsync");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("sync, async, none"));
  EXPECT_STREQ(DurabilityModeName(DurabilityMode::kAsync), "async");
}

TEST(RocksDbDurabilityTest, BatchesRoundTripWithTheirCommitTimestamps) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  {
    auto d = RocksDbDurability::Open(Fresh(dir));
    ASSERT_TRUE(d.ok()) << d.status();
    const DurableWrite w1[] = {{"a", "1", false}, {"b", "2", false}};
    const DurableWrite w2[] = {{"a", "", true},
                               {std::string_view("z\0z", 3), "3", false}};
    const DurableCommit batch[] = {{5, w1}, {7, w2}};
    ASSERT_TRUE((*d)->PersistBatch(batch).ok());
    EXPECT_EQ((*d)->GetCounters().batches, 1u);
    EXPECT_EQ((*d)->GetCounters().commits, 2u);
    EXPECT_EQ((*d)->GetCounters().writes, 4u);
    EXPECT_EQ((*d)->GetCounters().syncs, 1u);
  }
  StorageOptions again;
  again.dir = dir;
  auto d = RocksDbDurability::Open(again);
  ASSERT_TRUE(d.ok()) << d.status();
  auto [contents, last] = LoadAll(**d);
  EXPECT_EQ(last, 7u);
  EXPECT_EQ(contents.size(), 2u);
  EXPECT_EQ(contents["b"], std::make_pair(std::string("2"), uint64_t{5}));
  EXPECT_EQ(contents[std::string("z\0z", 3)],
            std::make_pair(std::string("3"), uint64_t{7}));
  EXPECT_EQ(contents.count("a"), 0u) << "a tombstone deletes the key";
}

TEST(RocksDbDurabilityTest, UserKeysNamedLikeMetadataAreOrdinaryKeys) {
  TempDir tmp;
  auto d = RocksDbDurability::Open(Fresh(tmp.Sub("db")));
  ASSERT_TRUE(d.ok()) << d.status();
  const DurableWrite w[] = {{"last_commit_ts", "x", false},
                            {"format", "y", false}};
  const DurableCommit batch[] = {{3, w}};
  ASSERT_TRUE((*d)->PersistBatch(batch).ok());
  auto [contents, last] = LoadAll(**d);
  EXPECT_EQ(last, 3u);
  EXPECT_EQ(contents["last_commit_ts"].first, "x");
  EXPECT_EQ(contents["format"].first, "y");
}

TEST(RocksDbDurabilityTest, DatabaseStateSurvivesCloseAndTimestampsContinue) {
  TempDir tmp;
  StorageOptions o = Fresh(tmp.Sub("db"));
  uint64_t kept_ts = 0, last_ts = 0;
  {
    OpenedDatabase opened = OpenOrDie(o);
    Database& db = *opened.db;
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(db.Put(absl::StrCat("k", i), absl::StrCat("v", i)).ok());
    }
    ASSERT_TRUE(db.Delete("k7").ok());
    auto txn = db.Begin();
    ASSERT_TRUE(txn->Put("k8", "new").ok());
    ASSERT_TRUE(txn->Delete("k9").ok());
    ASSERT_TRUE(txn->Commit().ok());
    kept_ts = db.GetWithTimestamp("k3")->commit_ts;
    last_ts = db.GetStats().visible_ts;
  }
  o.create_if_missing = false;
  OpenedDatabase opened = OpenOrDie(o);
  Database& db = *opened.db;
  EXPECT_EQ(db.Scan("", "")->size(), 98u);
  EXPECT_EQ(*db.Get("k0"), "v0");
  EXPECT_EQ(*db.Get("k8"), "new");
  EXPECT_EQ(db.Get("k7").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db.Get("k9").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db.GetWithTimestamp("k3")->commit_ts, kept_ts);
  EXPECT_EQ(db.GetStats().visible_ts, last_ts);
  ASSERT_TRUE(db.Put("after", "1").ok());
  EXPECT_GT(db.GetWithTimestamp("after")->commit_ts, last_ts);
}

TEST(RocksDbDurabilityTest, AsyncModeKeepsEverythingAcrossACleanClose) {
  TempDir tmp;
  StorageOptions o = Fresh(tmp.Sub("db"), DurabilityMode::kAsync);
  {
    OpenedDatabase opened = OpenOrDie(o);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(opened.db->Put(absl::StrCat("k", i), "v").ok());
    }
    EXPECT_EQ(opened.durability->GetCounters().syncs, 0u);
    EXPECT_EQ(opened.durability->GetCounters().commits, 50u);
  }
  OpenedDatabase opened = OpenOrDie(o);
  EXPECT_EQ(opened.db->Scan("", "")->size(), 50u);
}

TEST(RocksDbDurabilityTest, NoneModePersistsNothingAndReloadsTheOldState) {
  TempDir tmp;
  StorageOptions o = Fresh(tmp.Sub("db"));
  {
    OpenedDatabase opened = OpenOrDie(o);
    ASSERT_TRUE(opened.db->Put("durable", "1").ok());
  }
  o.mode = DurabilityMode::kNone;
  {
    OpenedDatabase opened = OpenOrDie(o);
    EXPECT_EQ(*opened.db->Get("durable"), "1") << "none mode still loads";
    ASSERT_TRUE(opened.db->Put("volatile", "2").ok());
    ASSERT_TRUE(opened.db->Delete("durable").ok());
    EXPECT_EQ(opened.durability->GetCounters().commits, 2u);
    EXPECT_EQ(opened.durability->GetCounters().syncs, 0u);
  }
  o.mode = DurabilityMode::kSync;
  OpenedDatabase opened = OpenOrDie(o);
  EXPECT_EQ(*opened.db->Get("durable"), "1");
  EXPECT_EQ(opened.db->Get("volatile").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(RocksDbDurabilityTest, LoadReportsProgressEveryNKeysAndAtTheEnd) {
  TempDir tmp;
  StorageOptions o = Fresh(tmp.Sub("db"));
  {
    auto d = RocksDbDurability::Open(o);
    ASSERT_TRUE(d.ok());
    std::vector<std::string> keys;
    for (int i = 0; i < 2500; ++i) keys.push_back(absl::StrCat("key", i));
    std::vector<DurableWrite> writes;
    for (const std::string& k : keys) writes.push_back({k, "value", false});
    const DurableCommit batch[] = {{1, writes}};
    ASSERT_TRUE((*d)->PersistBatch(batch).ok());
  }
  std::vector<LoadProgress> reports;
  o.progress = [&](const LoadProgress& p) { reports.push_back(p); };
  o.progress_every_keys = 1000;
  auto d = RocksDbDurability::Open(o);
  ASSERT_TRUE(d.ok());
  auto [contents, last] = LoadAll(**d);
  EXPECT_EQ(contents.size(), 2500u);
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[0].keys, 1000u);
  EXPECT_EQ(reports[1].keys, 2000u);
  EXPECT_FALSE(reports[1].done);
  EXPECT_EQ(reports[2].keys, 2500u);
  EXPECT_TRUE(reports[2].done);
  EXPECT_EQ(reports[2].bytes, 10u * 4 + 90 * 5 + 900 * 6 + 1500 * 7 + 2500 * 5);
  StderrLoadProgress("test")(reports[2]);  // prints one line
}

TEST(RocksDbDurabilityTest, CheckpointOpensAsADatabaseWithTheSameContent) {
  TempDir tmp;
  StorageOptions o = Fresh(tmp.Sub("db"));
  OpenedDatabase opened = OpenOrDie(o);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(opened.db->Put(absl::StrCat("k", i), absl::StrCat(i)).ok());
  }
  ASSERT_TRUE(opened.db->Delete("k5").ok());
  const std::string copy = tmp.Sub("checkpoint");
  ASSERT_TRUE(opened.db->Checkpoint(copy).ok());
  // Later commits do not reach the checkpoint.
  ASSERT_TRUE(opened.db->Put("later", "x").ok());
  EXPECT_EQ(opened.db->Checkpoint(copy).code(),
            absl::StatusCode::kAlreadyExists);

  StorageOptions co;
  co.dir = copy;
  OpenedDatabase restored = OpenOrDie(co);
  std::vector<KeyValue> want = *opened.db->Scan("", "");
  std::vector<KeyValue> got = *restored.db->Scan("", "");
  ASSERT_EQ(got.size(), 199u);
  ASSERT_EQ(want.size(), 200u);
  want.erase(
      std::remove_if(want.begin(), want.end(),
                     [](const KeyValue& kv) { return kv.key == "later"; }),
      want.end());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(std::tie(got[i].key, got[i].value, got[i].commit_ts),
              std::tie(want[i].key, want[i].value, want[i].commit_ts));
  }
  EXPECT_EQ(restored.db->GetStats().visible_ts + 1,
            opened.db->GetStats().visible_ts);
}

TEST(RocksDbDurabilityTest, OpenPersistentDatabaseRefusesAPresetDurability) {
  TempDir tmp;
  Options options;
  auto other = RocksDbDurability::Open(Fresh(tmp.Sub("other")));
  ASSERT_TRUE(other.ok());
  options.durability = other->get();
  EXPECT_EQ(
      OpenPersistentDatabase(Fresh(tmp.Sub("db")), options).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mvkv::storage
