// A three-node group in one process: it elects a leader, replicates the
// leader's commits so that every follower holds the same versions at the
// same timestamps, refuses commits on followers naming the leader, confirms
// leadership for linearizable reads only on the leader, hands leadership
// over, and keeps every replica identical after a concurrent load.
#include <atomic>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/testing/seed.h"
#include "replication/info.h"
#include "replication/node.h"
#include "tests/replication/cluster.h"

namespace mvkv {
namespace {

using ::testing::HasSubstr;
using testing_support::Await;
using testing_support::Cluster;
using testing_support::ClusterOptions;
using testing_support::FullState;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The barrier path (reads batched per barrier); lease_test covers the
    // lease, on by default everywhere else.
    ClusterOptions options;
    options.read_lease = false;
    cluster_ = std::make_unique<Cluster>(options);
    absl::StatusOr<uint64_t> elected = cluster_->StartAndElect();
    ASSERT_TRUE(elected.ok()) << elected.status();
    leader_ = *elected;
  }
  Database& db(uint64_t id) { return cluster_->node(id)->db(); }
  std::vector<uint64_t> Followers() {
    std::vector<uint64_t> out;
    for (uint64_t id : cluster_->running()) {
      if (id != leader_) out.push_back(id);
    }
    return out;
  }

  std::unique_ptr<Cluster> cluster_;
  uint64_t leader_ = 0;
};

TEST_F(ClusterTest, FollowersHoldTheLeadersVersionsAtTheLeadersTimestamps) {
  Database& leader = db(leader_);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(leader.Put(absl::StrCat("k", i % 10), absl::StrCat("v", i)).ok());
    if (i % 7 == 0) {
      ASSERT_TRUE(leader.Delete(absl::StrCat("k", (i + 3) % 10)).ok());
    }
  }
  auto txn = leader.Begin();
  ASSERT_TRUE(txn->Put("a", "1").ok());
  ASSERT_TRUE(txn->Put("b", "2").ok());
  ASSERT_TRUE(txn->Commit().ok());
  const uint64_t last = leader.GetStats().visible_ts;
  EXPECT_EQ(txn->commit_ts(), last);
  ASSERT_TRUE(cluster_->WaitForVisible(last));
  const testing_support::State want = FullState(leader);
  for (uint64_t f : Followers()) {
    EXPECT_EQ(FullState(db(f)), want) << "node " << f;
    EXPECT_EQ(db(f).GetWithTimestamp("a")->commit_ts, txn->commit_ts());
    EXPECT_EQ(db(f).GetStats().visible_ts, last);
  }
}

TEST_F(ClusterTest, FollowersRefuseCommitsAndNameTheLeader) {
  const replication::ClusterInfo info = cluster_->node(leader_)->Info();
  EXPECT_EQ(info.role, replication::Role::kLeader);
  for (uint64_t f : Followers()) {
    ASSERT_TRUE(testing_support::WaitFor(
        [&] { return cluster_->node(f)->Info().leader_id == leader_; }));
    absl::Status s = db(f).Put("x", "y");
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("the leader is node ", leader_)));
    ASSERT_TRUE(replication::LeaderHint(s).has_value()) << s;
    EXPECT_EQ(*replication::LeaderHint(s), cluster_->options(leader_).client_address);
    const replication::ClusterInfo fi = cluster_->node(f)->Info();
    EXPECT_EQ(fi.role, replication::Role::kFollower);
    EXPECT_EQ(fi.leader_client_address, cluster_->options(leader_).client_address);
  }
  EXPECT_EQ(db(leader_).Get("x").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClusterTest, OnlyTheLeaderConfirmsLeadershipAndReadsAreBatched) {
  replication::Node* leader = cluster_->node(leader_);
  constexpr int kReads = 200;
  std::atomic<int> ok{0}, done{0};
  for (int i = 0; i < kReads; ++i) {
    leader->ConfirmLeadership([&](absl::Status s) {
      ok += s.ok() ? 1 : 0;
      ++done;
    });
  }
  ASSERT_TRUE(testing_support::WaitFor([&] { return done.load() == kReads; }));
  EXPECT_EQ(ok.load(), kReads);
  // One barrier per waiting batch, not per read: far fewer log entries.
  const replication::ClusterInfo info = leader->Info();
  std::printf("reads=%d log_index=%llu\n", kReads,
              static_cast<unsigned long long>(info.last_log_index));
  EXPECT_LT(info.last_log_index, 100u);
  for (uint64_t f : Followers()) {
    absl::Status s = Await([&](replication::StatusCallback cb) {
      cluster_->node(f)->ConfirmLeadership(std::move(cb));
    });
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  }
}

// Property (seeded): under concurrent blocking and async commits, some
// conflicting, every replica ends with the same keys, values and commit
// timestamps, and the same engine accounts.
TEST_F(ClusterTest, EveryReplicaIsIdenticalAfterAConcurrentLoad) {
  const uint64_t seed = testing_support::TestSeed();
  Database& leader = db(leader_);
  constexpr int kThreads = 4, kEach = 150;
  std::vector<std::thread> threads;
  std::atomic<int> committed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + t);
      for (int i = 0; i < kEach; ++i) {
        const std::string key = absl::StrCat("key", rng() % 64);
        absl::Status s;
        switch (rng() % 3) {
          case 0:
            s = leader.Put(key, absl::StrCat(t, "-", i));
            break;
          case 1:
            s = leader.Delete(key);
            break;
          default: {
            auto txn = leader.Begin();
            s = txn->Put(key, "txn");
            if (s.ok()) s = txn->Put(absl::StrCat("pair", rng() % 8), key);
            if (s.ok()) s = txn->Commit();
          }
        }
        if (s.ok()) ++committed;
        ASSERT_TRUE(s.ok() || absl::IsAborted(s)) << s;
      }
    });
  }
  for (auto& th : threads) th.join();
  const uint64_t last = leader.GetStats().visible_ts;
  ASSERT_TRUE(cluster_->WaitForVisible(last));
  const Stats ls = leader.GetStats();
  std::printf("committed=%d batches=%llu\n", committed.load(),
              static_cast<unsigned long long>(ls.pipeline_batches));
  for (uint64_t f : Followers()) {
    EXPECT_EQ(FullState(db(f)), FullState(leader)) << "node " << f;
    const Stats fs = db(f).GetStats();
    EXPECT_EQ(fs.live_keys, ls.live_keys);
    EXPECT_EQ(fs.commits, ls.commits);
  }
}

TEST_F(ClusterTest, LeadershipTransferKeepsTimestampsGoingForward) {
  Database& old_leader = db(leader_);
  ASSERT_TRUE(old_leader.Put("before", "1").ok());
  const uint64_t before = old_leader.GetWithTimestamp("before")->commit_ts;
  const uint64_t target = Followers().front();
  absl::Status s =
      testing_support::TransferLeadership(cluster_->node(leader_), target);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(cluster_->WaitForLeader(), target);
  absl::Status refused = old_leader.Put("late", "x");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  ASSERT_TRUE(db(target).Put("after", "2").ok());
  const uint64_t after = db(target).GetWithTimestamp("after")->commit_ts;
  EXPECT_GT(after, before);
  ASSERT_TRUE(cluster_->WaitForVisible(after));
  EXPECT_EQ(FullState(old_leader), FullState(db(target)));
  EXPECT_EQ(old_leader.Get("late").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mvkv
