#include "mvcc/db.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mvkv {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<Database> OpenDb(Options options = Options()) {
  auto db = Database::Open(options);
  EXPECT_TRUE(db.ok()) << db.status();
  return std::move(*db);
}

std::vector<std::string> Keys(const std::vector<KeyValue>& kvs) {
  std::vector<std::string> keys;
  for (const KeyValue& kv : kvs) keys.push_back(kv.key);
  return keys;
}

TEST(DatabaseTest, GetReturnsWhatPutStored) {
  auto db = OpenDb();
  ASSERT_TRUE(db->Put("alpha", "1").ok());
  ASSERT_TRUE(db->Put("beta", "2").ok());
  EXPECT_EQ(*db->Get("alpha"), "1");
  EXPECT_EQ(*db->Get("beta"), "2");
  ASSERT_TRUE(db->Put("alpha", "3").ok());
  EXPECT_EQ(*db->Get("alpha"), "3");
}

TEST(DatabaseTest, MissingAndDeletedKeysAreNotFound) {
  auto db = OpenDb();
  EXPECT_EQ(db->Get("nope").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(db->Put("k", "v").ok());
  ASSERT_TRUE(db->Delete("k").ok());
  EXPECT_EQ(db->Get("k").status().code(), absl::StatusCode::kNotFound);
  // Deleting a missing key is not an error.
  EXPECT_TRUE(db->Delete("never-there").ok());
}

// GetIfPresent answers as Get does: present (value assigned over whatever
// the buffer held, large values outside the record included), absent,
// deleted, empty value, bad key.
TEST(DatabaseTest, GetIfPresentAgreesWithGet) {
  auto db = OpenDb();
  const std::string big(1000, 'b');
  ASSERT_TRUE(db->Put("small", "1").ok());
  ASSERT_TRUE(db->Put("big", big).ok());
  ASSERT_TRUE(db->Put("empty", "").ok());
  ASSERT_TRUE(db->Put("gone", "x").ok());
  ASSERT_TRUE(db->Delete("gone").ok());
  std::string buf = "left over from before";
  EXPECT_EQ(db->GetIfPresent("big", &buf).value_or(false), true);
  EXPECT_EQ(buf, big);
  EXPECT_EQ(db->GetIfPresent("small", &buf).value_or(false), true);
  EXPECT_EQ(buf, "1");
  ASSERT_TRUE(db->Put("small", "22").ok());
  EXPECT_EQ(db->GetIfPresent("small", &buf).value_or(false), true);
  EXPECT_EQ(buf, *db->Get("small"));
  EXPECT_EQ(db->GetIfPresent("empty", &buf).value_or(false), true);
  EXPECT_EQ(buf, "");
  buf = "kept";
  for (const char* absent : {"gone", "never-there"}) {
    absl::StatusOr<bool> found = db->GetIfPresent(absent, &buf);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_FALSE(*found) << absent;
    EXPECT_EQ(buf, "kept");  // untouched on a miss
  }
  EXPECT_EQ(db->GetIfPresent("", &buf).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DatabaseTest, EmptyValueIsAValueNotADelete) {
  auto db = OpenDb();
  ASSERT_TRUE(db->Put("k", "").ok());
  absl::StatusOr<std::string> v = db->Get("k");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "");
}

TEST(DatabaseTest, CommitTimestampsGrowWithEachWrite) {
  auto db = OpenDb();
  ASSERT_TRUE(db->Put("k", "1").ok());
  const uint64_t first = db->GetWithTimestamp("k")->commit_ts;
  ASSERT_TRUE(db->Put("k", "2").ok());
  const uint64_t second = db->GetWithTimestamp("k")->commit_ts;
  EXPECT_GT(second, first);
  EXPECT_EQ(db->GetStats().visible_ts, second);
}

TEST(DatabaseTest, ScanReturnsLiveKeysInOrderWithinRangeAndLimit) {
  auto db = OpenDb();
  for (const char* k : {"d", "a", "c", "b", "e"}) ASSERT_TRUE(db->Put(k, k).ok());
  ASSERT_TRUE(db->Delete("c").ok());
  EXPECT_THAT(Keys(*db->Scan("", "")), ElementsAre("a", "b", "d", "e"));
  EXPECT_THAT(Keys(*db->Scan("b", "e")), ElementsAre("b", "d"));
  EXPECT_THAT(Keys(*db->Scan("b", "", 2)), ElementsAre("b", "d"));
  EXPECT_THAT(Keys(*db->Scan("f", "")), ElementsAre());
}

TEST(DatabaseTest, BadInputIsRefusedAndChangesNothing) {
  Options options;
  options.limits.max_key_bytes = 8;
  options.limits.max_value_bytes = 16;
  auto db = OpenDb(options);
  ASSERT_TRUE(db->Put("k", "v").ok());
  const Stats before = db->GetStats();

  absl::Status empty_key = db->Put("", "v");
  EXPECT_EQ(empty_key.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty_key.message(), HasSubstr("empty"));
  absl::Status long_key = db->Put("123456789", "v");
  EXPECT_EQ(long_key.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(long_key.message(), HasSubstr("over the limit of 8 (max_key_bytes)"));
  absl::Status long_value = db->Put("k", std::string(17, 'x'));
  EXPECT_EQ(long_value.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Get("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Delete("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Scan("b", "a").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Scan("a", "a").status().code(),
            absl::StatusCode::kInvalidArgument);

  const Stats after = db->GetStats();
  EXPECT_EQ(after.visible_ts, before.visible_ts);
  EXPECT_EQ(after.versions, before.versions);
  EXPECT_EQ(*db->Get("k"), "v");
}

TEST(DatabaseTest, OpenRejectsBadOptions) {
  Options options;
  options.limits.max_key_bytes = 0;
  EXPECT_EQ(Database::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options();
  options.commit_ring_size = 0;
  EXPECT_EQ(Database::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TxnTest, ReadsItsOwnWritesAndPublishesThemOnlyAtCommit) {
  auto db = OpenDb();
  ASSERT_TRUE(db->Put("a", "old").ok());
  auto txn = db->Begin();
  ASSERT_TRUE(txn->Put("a", "new").ok());
  ASSERT_TRUE(txn->Put("b", "fresh").ok());
  ASSERT_TRUE(txn->Delete("a").ok());
  ASSERT_TRUE(txn->Put("a", "newer").ok());
  EXPECT_EQ(*txn->Get("a"), "newer");
  EXPECT_EQ(*txn->Get("b"), "fresh");
  EXPECT_EQ(*db->Get("a"), "old");
  EXPECT_EQ(db->Get("b").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_GT(txn->commit_ts(), txn->snapshot_ts());
  EXPECT_EQ(*db->Get("a"), "newer");
  EXPECT_EQ(*db->Get("b"), "fresh");
}

TEST(TxnTest, ScanMergesOwnWritesWithCommittedState) {
  auto db = OpenDb();
  for (const char* k : {"a", "c", "e"}) ASSERT_TRUE(db->Put(k, "committed").ok());
  auto txn = db->Begin();
  ASSERT_TRUE(txn->Put("b", "mine").ok());
  ASSERT_TRUE(txn->Delete("c").ok());
  ASSERT_TRUE(txn->Put("e", "mine").ok());
  auto all = txn->Scan("", "");
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Keys(*all), ElementsAre("a", "b", "e"));
  EXPECT_EQ((*all)[2].value, "mine");
  // A limit counts returned pairs, after own deletes are applied.
  EXPECT_THAT(Keys(*txn->Scan("", "", 2)), ElementsAre("a", "b"));
}

// Property: concatenating the pages of a capped scan, each continued at the
// previous page's resume_key, gives exactly the uncapped scan (own writes and
// deletes merged), every page holds at least one pair and fits the caps
// (one pair may exceed the byte cap alone), and `more` is false only on the
// last page.
TEST(TxnTest, PagedScanCoversTheRangeExactlyOnceWithinItsCaps) {
  auto db = OpenDb();
  for (int i = 0; i < 40; ++i) {
    char key[8];
    std::snprintf(key, sizeof key, "k%02d", i);
    ASSERT_TRUE(db->Put(key, std::string(i == 13 ? 1000 : 100, 'v')).ok());
  }
  auto txn = db->Begin();
  ASSERT_TRUE(txn->Put("k05", "mine").ok());
  ASSERT_TRUE(txn->Delete("k07").ok());
  ASSERT_TRUE(txn->Delete("k39").ok());  // the range's last pair: own delete
  ASSERT_TRUE(txn->Put("k105", "new").ok());
  auto whole = txn->Scan("k", "l");
  ASSERT_TRUE(whole.ok()) << whole.status();
  for (const ScanLimits limits :
       {ScanLimits{.max_bytes = 250}, ScanLimits{.max_pairs = 3},
        ScanLimits{.max_pairs = 2, .max_bytes = 150}}) {
    std::vector<KeyValue> all;
    std::string start = "k";
    for (int pages = 0;; ++pages) {
      ASSERT_LT(pages, 100);
      auto page = txn->Scan(start, "l", limits);
      ASSERT_TRUE(page.ok()) << page.status();
      ASSERT_FALSE(page->kvs.empty());
      std::size_t bytes = 0;
      for (const KeyValue& kv : page->kvs) bytes += kv.key.size() + kv.value.size();
      if (limits.max_pairs != 0) {
        EXPECT_LE(page->kvs.size(), limits.max_pairs);
      }
      if (limits.max_bytes != 0 && page->kvs.size() > 1) {
        EXPECT_LT(bytes - page->kvs.back().key.size() -
                      page->kvs.back().value.size(),
                  limits.max_bytes);
      }
      all.insert(all.end(), page->kvs.begin(), page->kvs.end());
      if (!page->more) {
        EXPECT_TRUE(page->resume_key.empty());
        break;
      }
      EXPECT_GT(page->resume_key, page->kvs.back().key);
      start = page->resume_key;
    }
    ASSERT_EQ(all.size(), whole->size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(all[i].key, (*whole)[i].key);
      EXPECT_EQ(all[i].value, (*whole)[i].value);
    }
  }
  // A page never reports `more` when only own deletes follow.
  auto tail = txn->Scan("k38", "l", ScanLimits{.max_pairs = 1});
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->kvs.size(), 1u);
  EXPECT_FALSE(tail->more);
}

TEST(TxnTest, RollbackDiscardsWrites) {
  auto db = OpenDb();
  auto txn = db->Begin();
  ASSERT_TRUE(txn->Put("k", "v").ok());
  ASSERT_TRUE(txn->Rollback().ok());
  EXPECT_TRUE(txn->Rollback().ok());  // idempotent
  EXPECT_EQ(db->Get("k").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db->GetStats().commits, 0u);
}

TEST(TxnTest, OperationsAfterCommitOrRollbackFailWithFailedPrecondition) {
  auto db = OpenDb();
  auto committed = db->Begin();
  ASSERT_TRUE(committed->Put("k", "v").ok());
  ASSERT_TRUE(committed->Commit().ok());
  const Stats before = db->GetStats();
  EXPECT_EQ(committed->Put("k", "w").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(committed->Get("k").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(committed->Delete("k").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(committed->Scan("", "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(committed->Commit().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(committed->Rollback().code(),
            absl::StatusCode::kFailedPrecondition);

  auto rolled_back = db->Begin();
  ASSERT_TRUE(rolled_back->Rollback().ok());
  absl::Status s = rolled_back->Put("k", "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("rolled back"));
  EXPECT_EQ(rolled_back->Commit().code(),
            absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(db->GetStats().visible_ts, before.visible_ts);
  EXPECT_EQ(*db->Get("k"), "v");
}

TEST(TxnTest, BadInputInsideATransactionBuffersNothing) {
  Options options;
  options.limits.max_value_bytes = 4;
  auto db = OpenDb(options);
  auto txn = db->Begin();
  EXPECT_EQ(txn->Put("", "v").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->Put("k", "12345").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->Scan("z", "a").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->Get("k").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(txn->Commit().ok());  // nothing buffered: read-only commit
  EXPECT_EQ(db->GetStats().commits, 0u);
}

TEST(TxnTest, ReadOnlyTransactionsDoNotEnterThePipeline) {
  auto db = OpenDb();
  ASSERT_TRUE(db->Put("k", "v").ok());
  const uint64_t commits = db->GetStats().commits;
  auto txn = db->Begin(IsolationLevel::kSerializable);
  EXPECT_EQ(*txn->Get("k"), "v");
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(db->GetStats().commits, commits);
  EXPECT_EQ(db->GetStats().active_snapshots, 0u);
}

TEST(TransactTest, RetriesConflictsUntilTheyCommit) {
  auto db = OpenDb();
  ASSERT_TRUE(db->Put("n", "0").ok());
  int calls = 0;
  absl::Status s = db->Transact([&](Txn& txn) -> absl::Status {
    ++calls;
    auto n = txn.Get("n");
    if (!n.ok()) return n.status();
    if (calls == 1) {
      // A rival commits after our snapshot: our commit must abort.
      EXPECT_TRUE(db->Put("n", "100").ok());
    }
    return txn.Put("n", std::to_string(std::stoi(*n) + 1));
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(*db->Get("n"), "101");
}

TEST(TransactTest, GivesUpAfterMaxAttemptsWithAborted) {
  auto db = OpenDb();
  int calls = 0;
  Database::TransactOptions options;
  options.retry.max_attempts = 3;
  absl::Status s = db->Transact(
      [&](Txn&) -> absl::Status {
        ++calls;
        return absl::AbortedError("always");
      },
      options);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(calls, 3);
}

TEST(TransactTest, OtherErrorsAreReturnedWithoutRetryOrCommit) {
  auto db = OpenDb();
  int calls = 0;
  absl::Status s = db->Transact([&](Txn& txn) -> absl::Status {
    ++calls;
    EXPECT_TRUE(txn.Put("k", "v").ok());
    return absl::NotFoundError("the function said no");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(db->Get("k").status().code(), absl::StatusCode::kNotFound);
}

TEST(StatsTest, CountsKeysVersionsAndCommits) {
  auto db = OpenDb();
  ASSERT_TRUE(db->Put("a", "1").ok());
  ASSERT_TRUE(db->Put("b", "2").ok());
  ASSERT_TRUE(db->Delete("b").ok());
  const Stats s = db->GetStats();
  EXPECT_EQ(s.live_keys, 1u);
  EXPECT_EQ(s.commits, 3u);
  EXPECT_GE(s.versions, 1u);
  EXPECT_GT(s.version_bytes, 0u);
}

}  // namespace
}  // namespace mvkv
