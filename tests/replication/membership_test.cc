// Changing the group while it serves: a fresh node joins and catches up by
// snapshot, a node is removed, and every bad change is refused with a clear
// status and changes nothing.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
using testing_support::TransferLeadership;

absl::Status Add(replication::Node* n, const replication::Member& m) {
  return Await([&](replication::StatusCallback cb) { n->AddMember(m, std::move(cb)); });
}
absl::Status Remove(replication::Node* n, uint64_t id) {
  return Await([&](replication::StatusCallback cb) { n->RemoveMember(id, std::move(cb)); });
}

int Voters(const replication::ClusterInfo& info) {
  int n = 0;
  for (const replication::MemberInfo& m : info.members) {
    n += m.role == replication::MemberRole::kVoter ? 1 : 0;
  }
  return n;
}

// Property: a node that joins a group whose log was compacted far past its
// start gets a snapshot, becomes a voter, holds the same state at the same
// timestamps, counts in the quorum, and is reported with its client address.
TEST(MembershipTest, AFreshNodeJoinsByASnapshotAndBecomesAVoter) {
  Cluster cluster({.snapshot_threshold = 8, .snapshot_trailing = 2});
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  uint64_t leader = *elected;
  uint64_t writer = leader;  // the leader may change: write where it is
  for (int i = 0; i < 60; ++i) {
    absl::Status s = cluster.OnLeader(
        [&](Database& db) { return db.Put(absl::StrCat("k", i), "v"); }, &writer);
    ASSERT_TRUE(s.ok()) << s;
  }
  leader = writer;
  // Compacted: the log no longer starts at its first entry.
  ASSERT_TRUE(testing_support::WaitFor(
      [&] { return cluster.node(leader)->Info().snapshot_index > 10; }));
  replication::Member m;
  absl::StatusOr<uint64_t> joined = cluster.StartJoiningNode(&m);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(cluster.node(*joined)->db().Put("x", "y").code(),
            absl::StatusCode::kUnavailable);
  absl::Status added;
  // Bound: the deadline (a leader change in between is retried).
  for (const absl::Time end = absl::Now() + absl::Seconds(60); absl::Now() < end;) {
    leader = cluster.WaitForLeader();
    added = Add(cluster.node(leader), m);
    if (!absl::IsUnavailable(added)) break;
  }
  ASSERT_TRUE(added.ok()) << added;
  const uint64_t last = cluster.node(leader)->db().GetStats().visible_ts;
  ASSERT_TRUE(cluster.WaitForVisible(last));
  EXPECT_EQ(FullState(cluster.node(*joined)->db()),
            FullState(cluster.node(leader)->db()));
  EXPECT_TRUE(testing_support::WaitFor(
      [&] { return cluster.node(*joined)->Info().snapshots_installed >= 1; }));
  ASSERT_TRUE(testing_support::WaitFor([&] {
    return Voters(cluster.node(leader)->Info()) == 4;
  }));
  bool listed = false;
  for (const replication::MemberInfo& mi : cluster.node(leader)->Info().members) {
    if (mi.id == *joined) {
      listed = mi.client_address == m.client_address && mi.lag < 10;
    }
  }
  EXPECT_TRUE(listed);
  // Four voters: with one original follower gone, the quorum (3 of 4)
  // needs the new one.
  int stopped = 0;
  for (uint64_t id : cluster.running()) {
    if (id != leader && id != *joined && stopped < 1) {
      cluster.StopNode(id);
      ++stopped;
    }
  }
  ASSERT_TRUE(cluster.node(leader)->db().Put("quorum", "with the new node").ok());
}

TEST(MembershipTest, ARemovedNodeLeavesTheQuorumAndTheReport) {
  Cluster cluster(ClusterOptions{});
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  const uint64_t leader = *elected;
  const uint64_t gone = cluster.Follower(leader);
  absl::Status removed = Remove(cluster.node(leader), gone);
  ASSERT_TRUE(removed.ok()) << removed;
  EXPECT_EQ(cluster.node(leader)->Info().members.size(), 2u);
  cluster.StopNode(gone);
  // Two voters left, both up: commits go on.
  ASSERT_TRUE(cluster.node(leader)->db().Put("after", "removal").ok());
  EXPECT_EQ(Remove(cluster.node(leader), gone).code(), absl::StatusCode::kNotFound);
}

TEST(MembershipTest, BadChangesAreRefusedAndChangeNothing) {
  Cluster cluster(ClusterOptions{});
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  const uint64_t leader = *elected;
  replication::Node* l = cluster.node(leader);
  const uint64_t follower = cluster.Follower(leader);
  const replication::NodeOptions& fo = cluster.options(follower);
  absl::Status s = Add(l, {follower, fo.raft_address, fo.client_address});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  s = Add(l, {follower, "127.0.0.1:1", fo.client_address});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_THAT(s.message(), HasSubstr("already a member"));
  s = Add(l, {99, fo.raft_address, "127.0.0.1:5"});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("already used by node ", follower)));
  EXPECT_EQ(Add(l, {99, "nowhere:1", "127.0.0.1:5"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Add(l, {0, "127.0.0.1:7", "127.0.0.1:5"}).code(),
            absl::StatusCode::kInvalidArgument);
  s = Add(cluster.node(follower), {99, "127.0.0.1:7", "127.0.0.1:5"});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(replication::LeaderHint(s), cluster.options(leader).client_address);
  EXPECT_EQ(Remove(l, 99).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TransferLeadership(l, leader).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TransferLeadership(l, 99).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TransferLeadership(cluster.node(follower), leader).code(),
            absl::StatusCode::kUnavailable);
  const replication::ClusterInfo info = l->Info();
  EXPECT_EQ(info.members.size(), 3u);
  EXPECT_EQ(Voters(info), 3);
  EXPECT_EQ(cluster.WaitForLeader(), leader);
}

TEST(MembershipTest, TheLastVoterCannotBeRemoved) {
  Cluster cluster({.nodes = 1});
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  const uint64_t leader = *elected;
  ASSERT_TRUE(cluster.node(leader)->db().Put("alone", "1").ok());
  absl::Status s = Remove(cluster.node(leader), leader);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("last voter"));
  EXPECT_EQ(TransferLeadership(cluster.node(leader), 0).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(cluster.node(leader)->db().Put("still", "serving").ok());
}

}  // namespace
}  // namespace mvkv
