// The engine's side of persistence, against an in-memory Durability: the
// three-stage pipeline groups commits, a persistence failure stops commits
// (never acknowledging what was not persisted) while reads go on, and Open
// resumes from loaded state with its timestamps.
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "mvcc/durability.h"

namespace mvkv {
namespace {

using ::testing::HasSubstr;

// Every test runs with both pipeline layouts (param: staged_pipeline).
class DurabilityTest : public ::testing::TestWithParam<bool> {};

class FakeDurability final : public Durability {
 public:
  absl::Status PersistBatch(absl::Span<const DurableCommit> batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_next_) return absl::DataLossError("injected: disk full");
    ++batches_;
    for (const DurableCommit& c : batch) {
      EXPECT_GT(c.commit_ts, last_ts_) << "batches arrive in commit order";
      last_ts_ = c.commit_ts;
      ++commits_;
      for (const DurableWrite& w : c.writes) {
        if (w.tombstone) {
          data_.erase(std::string(w.key));
        } else {
          data_[std::string(w.key)] = {std::string(w.value), c.commit_ts};
        }
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Load(
      const std::function<void(std::string_view, std::string_view, uint64_t)>&
          sink) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [k, v] : data_) sink(k, v.first, v.second);
    return last_ts_;
  }

  void FailFromNowOn() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_ = true;
  }
  int batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  int commits() {
    std::lock_guard<std::mutex> lock(mu_);
    return commits_;
  }
  bool Has(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return data_.count(key) > 0;
  }

 private:
  std::mutex mu_;
  bool fail_next_ = false;
  int batches_ = 0;
  int commits_ = 0;
  uint64_t last_ts_ = 0;
  std::map<std::string, std::pair<std::string, uint64_t>> data_;
};

std::unique_ptr<Database> OpenWith(FakeDurability* d, bool staged) {
  Options options;
  options.durability = d;
  options.staged_pipeline = staged;
  auto db = Database::Open(options);
  EXPECT_TRUE(db.ok()) << db.status();
  return std::move(*db);
}

TEST_P(DurabilityTest, EveryAcknowledgedCommitIsPersistedInOrder) {
  FakeDurability durable;
  auto db = OpenWith(&durable, GetParam());
  ASSERT_TRUE(db->Put("a", "1").ok());
  ASSERT_TRUE(db->Delete("a").ok());
  ASSERT_TRUE(db->Put("b", "2").ok());
  auto txn = db->Begin();
  ASSERT_TRUE(txn->Put("c", "3").ok());
  ASSERT_TRUE(txn->Put("d", "4").ok());
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(durable.commits(), 4);
  EXPECT_FALSE(durable.Has("a"));
  EXPECT_TRUE(durable.Has("b"));
  EXPECT_TRUE(durable.Has("d"));
}

// Property: with many concurrent committers, ring batches become group
// commits: fewer PersistBatch calls than commits.
TEST_P(DurabilityTest, ConcurrentCommitsAreGroupedIntoBatches) {
  FakeDurability durable;
  auto db = OpenWith(&durable, GetParam());
  constexpr int kThreads = 16, kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        ASSERT_TRUE(db->Put(absl::StrCat("t", t, "/", i), "v").ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(durable.commits(), kThreads * kEach);
  EXPECT_LT(durable.batches(), durable.commits());
  std::printf("commits=%d batches=%d\n", durable.commits(), durable.batches());
}

TEST_P(DurabilityTest, FailureStopsCommitsButReadsGoOn) {
  FakeDurability durable;
  auto db = OpenWith(&durable, GetParam());
  ASSERT_TRUE(db->Put("kept", "1").ok());
  durable.FailFromNowOn();
  absl::Status s = db->Put("lost", "2");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("disk full"));
  // Not acknowledged, so never visible.
  EXPECT_EQ(db->Get("lost").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db->Put("later", "3").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(*db->Get("kept"), "1");
  EXPECT_EQ(db->Scan("", "")->size(), 1u);
}

TEST_P(DurabilityTest, OpenLoadsStateAndResumesTimestamps) {
  FakeDurability durable;
  uint64_t kept_ts = 0, last_ts = 0;
  {
    auto db = OpenWith(&durable, GetParam());
    ASSERT_TRUE(db->Put("kept", "1").ok());
    kept_ts = db->GetWithTimestamp("kept")->commit_ts;
    ASSERT_TRUE(db->Put("gone", "2").ok());
    ASSERT_TRUE(db->Delete("gone").ok());
    last_ts = db->GetStats().visible_ts;
  }
  auto db = OpenWith(&durable, GetParam());
  EXPECT_EQ(*db->Get("kept"), "1");
  EXPECT_EQ(db->GetWithTimestamp("kept")->commit_ts, kept_ts);
  EXPECT_EQ(db->Get("gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db->GetStats().visible_ts, last_ts);
  ASSERT_TRUE(db->Put("new", "3").ok());
  EXPECT_GT(db->GetWithTimestamp("new")->commit_ts, last_ts);
}

TEST_P(DurabilityTest, CheckpointNeedsDurability) {
  auto db = Database::Open();
  ASSERT_TRUE(db.ok());
  EXPECT_EQ((*db)->Checkpoint("/tmp/x").code(),
            absl::StatusCode::kFailedPrecondition);
  FakeDurability durable;
  auto with = OpenWith(&durable, GetParam());
  EXPECT_EQ(with->Checkpoint("/tmp/x").code(),
            absl::StatusCode::kUnimplemented);
}

INSTANTIATE_TEST_SUITE_P(Layouts, DurabilityTest, ::testing::Bool(),
                         [](const auto& info) {
                           return std::string(info.param ? "Staged" : "Fused");
                         });

}  // namespace
}  // namespace mvkv
