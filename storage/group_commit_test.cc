// Group commit: in sync mode, many concurrent committers share fsyncs.
//
// Property: with 32 threads committing concurrently, every commit is
// persisted and acknowledged, and the number of synced WriteBatches is far
// below the number of commits (each ring batch is one WriteBatch with one
// sync). Deterministic workload (no seed): thread t writes keys t/0..t/N-1.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "storage/open.h"
#include "storage/testing/temp_dir.h"

namespace mvkv::storage {
namespace {

TEST(GroupCommitTest, ConcurrentSyncCommittersShareFsyncs) {
  storage_testing::TempDir tmp;
  StorageOptions o;
  o.dir = tmp.Sub("db");
  o.create_if_missing = true;
  o.mode = DurabilityMode::kSync;
  constexpr int kThreads = 32, kEach = 100;
  {
    auto opened = OpenPersistentDatabase(o, {});
    ASSERT_TRUE(opened.ok()) << opened.status();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          auto txn = opened->db->Begin();
          ASSERT_TRUE(txn->Put(absl::StrCat(t, "/", i), "value").ok());
          ASSERT_TRUE(txn->Commit().ok());
        }
      });
    }
    for (auto& th : threads) th.join();
    const auto c = opened->durability->GetCounters();
    std::printf(
        "threads=%d commits=%llu batches=%llu syncs=%llu "
        "(%.1f commits per sync)\n",
        kThreads, static_cast<unsigned long long>(c.commits),
        static_cast<unsigned long long>(c.batches),
        static_cast<unsigned long long>(c.syncs),
        static_cast<double>(c.commits) / c.syncs);
    EXPECT_EQ(c.commits, uint64_t{kThreads * kEach});
    EXPECT_EQ(c.syncs, c.batches) << "sync mode syncs every batch";
    EXPECT_LT(c.syncs, c.commits / 2) << "group commit did not group";
  }
  auto reopened = OpenPersistentDatabase(o, {});
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->db->Scan("", "")->size(), size_t{kThreads * kEach});
}

}  // namespace
}  // namespace mvkv::storage
