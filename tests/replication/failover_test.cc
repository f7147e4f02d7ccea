// Leadership changes with commits in flight, and restarts from the nodes'
// directories: no acknowledged commit is lost, no commit is half applied,
// and no replica's visible commit timestamp ever goes backwards.
#include <atomic>
#include <cstdio>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/durability.h"
#include "replication/info.h"
#include "replication/node.h"
#include "tests/replication/cluster.h"

namespace mvkv {
namespace {

using testing_support::Cluster;
using testing_support::ClusterOptions;
using testing_support::FullState;
using testing_support::WaitFor;

// Samples every running node's visible_ts and records any decrease.
class MonotonicWatch {
 public:
  explicit MonotonicWatch(Cluster& cluster) : cluster_(cluster) {
    for (uint64_t id : cluster_.running()) dbs_[id] = &cluster_.node(id)->db();
    thread_ = std::thread([this] {
      std::map<uint64_t, uint64_t> last;
      while (!stop_.load()) {
        for (auto& [id, db] : dbs_) {
          const uint64_t ts = db->GetStats().visible_ts;
          if (ts < last[id]) backwards_.fetch_add(1);
          last[id] = ts;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  ~MonotonicWatch() { Stop(); }
  int Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    return backwards_.load();
  }

 private:
  Cluster& cluster_;
  std::map<uint64_t, Database*> dbs_;
  std::atomic<bool> stop_{false};
  std::atomic<int> backwards_{0};
  std::thread thread_;
};

// Property: a transaction whose batch is in Raft when its leader loses the
// leadership (both followers stalled, so no quorum) fails with Unavailable
// marked outcome-unknown, never OK, and is taken back out on that node;
// whatever the new leader then decides, both of its keys are present at one
// timestamp on every replica or absent on all, and timestamps never go
// backwards.
TEST(FailoverTest, LeadershipLostWithABatchInFlight) {
  Cluster cluster(ClusterOptions{});
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  const uint64_t leader = *elected;
  Database& ldb = cluster.node(leader)->db();
  ASSERT_TRUE(ldb.Put("base", "0").ok());
  const uint64_t base_ts = ldb.GetStats().visible_ts;
  ASSERT_TRUE(cluster.WaitForVisible(base_ts));
  MonotonicWatch watch(cluster);
  // Stalled until the outcome is known: only a lost leadership can end the
  // commit.
  std::atomic<bool> release{false};
  for (uint64_t id : cluster.running()) {
    if (id != leader) cluster.node(id)->StallForTesting(absl::Seconds(120), &release);
  }
  auto txn = ldb.Begin();
  ASSERT_TRUE(txn->Put("x", "1").ok());
  ASSERT_TRUE(txn->Put("y", "1").ok());
  // std::promise, not absl::Notification: Debian's Abseil is not annotated
  // for ThreadSanitizer.
  std::promise<absl::Status> done;
  std::future<absl::Status> result = done.get_future();
  txn->CommitAsync([&](absl::Status s) { done.set_value(std::move(s)); });
  const bool came = result.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  release.store(true, std::memory_order_release);
  ASSERT_TRUE(came) << "the commit never ended";
  const absl::Status outcome = result.get();
  EXPECT_EQ(outcome.code(), absl::StatusCode::kUnavailable) << outcome;
  EXPECT_TRUE(IsBatchNotCommitted(outcome)) << outcome;
  EXPECT_EQ(ldb.Get("x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ldb.GetStats().visible_ts, base_ts);

  uint64_t next = 0;
  absl::Status put = cluster.OnLeader(
      [](Database& db) { return db.Put("after", "2"); }, &next);
  ASSERT_TRUE(put.ok()) << put << " on node " << next;
  const uint64_t after_ts = cluster.node(next)->db().GetWithTimestamp("after")->commit_ts;
  EXPECT_GT(after_ts, base_ts);
  ASSERT_TRUE(cluster.WaitForVisible(after_ts));
  const testing_support::State want = FullState(cluster.node(next)->db());
  bool committed = false;
  for (uint64_t id : cluster.running()) {
    Database& db = cluster.node(id)->db();
    EXPECT_EQ(FullState(db), want) << "node " << id;
    auto x = db.GetWithTimestamp("x");
    auto y = db.GetWithTimestamp("y");
    ASSERT_EQ(x.ok(), y.ok()) << "half a transaction on node " << id;
    if (x.ok()) {
      committed = true;
      EXPECT_EQ(x->commit_ts, y->commit_ts);
      EXPECT_LT(x->commit_ts, after_ts);
    }
  }
  std::printf("old leader %llu, new leader %llu, in-flight batch %s\n",
              static_cast<unsigned long long>(leader),
              static_cast<unsigned long long>(next),
              committed ? "committed by the new leader" : "dropped");
  EXPECT_EQ(watch.Stop(), 0) << "a visible timestamp went backwards";
}

// Property: every commit acknowledged before the whole group stops is
// there, at its timestamp, on every node after all restart from their
// directories (snapshots and log entries both), and commits go on after.
TEST(FailoverTest, WholeGroupRestartsFromItsDirectories) {
  Cluster cluster({.snapshot_threshold = 16, .snapshot_trailing = 4});
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  uint64_t leader = *elected;
  for (int i = 0; i < 60; ++i) {
    absl::Status s = cluster.OnLeader(
        [&](Database& db) {
          return db.Put(absl::StrCat("k", i % 25), absl::StrCat("v", i));
        },
        &leader);
    ASSERT_TRUE(s.ok()) << s;
  }
  ASSERT_TRUE(cluster.OnLeader([](Database& db) { return db.Delete("k3"); }, &leader).ok());
  const uint64_t last = cluster.node(leader)->db().GetStats().visible_ts;
  ASSERT_TRUE(cluster.WaitForVisible(last));
  const testing_support::State before = FullState(cluster.node(leader)->db());
  ASSERT_TRUE(testing_support::WaitFor(
      [&] { return cluster.node(leader)->Info().snapshots_taken > 0; }));
  const std::vector<uint64_t> ids = cluster.running();
  for (uint64_t id : ids) cluster.StopNode(id);
  for (uint64_t id : ids) {
    absl::Status s = cluster.StartNode(id);
    ASSERT_TRUE(s.ok()) << s;
  }
  leader = cluster.WaitForLeader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(cluster.WaitForVisible(last));
  for (uint64_t id : ids) {
    EXPECT_EQ(FullState(cluster.node(id)->db()), before) << "node " << id;
  }
  ASSERT_TRUE(cluster.node(leader)->db().Put("new", "1").ok());
  EXPECT_GT(cluster.node(leader)->db().GetWithTimestamp("new")->commit_ts, last);
}

// Property: a follower that was down while the log was compacted past it
// catches up by a snapshot when it restarts, and then matches the leader.
TEST(FailoverTest, ARestartedFollowerCatchesUpBySnapshot) {
  Cluster cluster({.snapshot_threshold = 8, .snapshot_trailing = 2});
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  const uint64_t leader = *elected;
  const uint64_t follower = cluster.Follower(leader);
  ASSERT_TRUE(cluster.node(leader)->db().Put("early", "1").ok());
  ASSERT_TRUE(cluster.WaitForVisible(cluster.node(leader)->db().GetStats().visible_ts));
  cluster.StopNode(follower);
  uint64_t writer = leader;  // the leader may change: write where it is
  for (int i = 0; i < 60; ++i) {
    absl::Status s = cluster.OnLeader(
        [&](Database& db) { return db.Put(absl::StrCat("k", i), "v"); }, &writer);
    ASSERT_TRUE(s.ok()) << s;
  }
  const uint64_t last = cluster.node(writer)->db().GetStats().visible_ts;
  ASSERT_TRUE(testing_support::WaitFor(
      [&] { return cluster.node(writer)->Info().snapshot_index > 10; }));
  absl::Status restarted = cluster.StartNode(follower);
  ASSERT_TRUE(restarted.ok()) << restarted;
  ASSERT_TRUE(cluster.WaitForVisible(last));
  EXPECT_EQ(FullState(cluster.node(follower)->db()),
            FullState(cluster.node(writer)->db()));
  EXPECT_TRUE(testing_support::WaitFor(
      [&] { return cluster.node(follower)->Info().snapshots_installed >= 1; }));
}

}  // namespace
}  // namespace mvkv
