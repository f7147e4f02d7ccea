// The leader's read lease (replication/internal/read_lease.h) in a
// three-node group in one process. Properties checked:
//   * after a commit the ready leader holds the lease (reads skip the
//     barrier) and no follower does; with read_lease false nobody holds it
//     and reads are confirmed by barrier as before;
//   * a leader whose loop is stalled (as under SIGSTOP) longer than the
//     election timeout, deposed meanwhile by a leader that committed a
//     newer value, does not hold the lease any more, and a linearizable
//     read sent to it is refused, never confirmed (it would read the old
//     value): the lease is bounded by time, not by what the stalled loop
//     has not noticed yet;
//   * a leadership transfer ends the lease before the target can lead: the
//     old leader's loop is stalled right after raft_transfer, so it never
//     learns of the new leader, and still it does not hold the lease, well
//     within the time a lease from its last commit would have lasted.
#include <atomic>
#include <cstdio>
#include <future>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "replication/node.h"
#include "tests/replication/cluster.h"

namespace mvkv {
namespace {

using testing_support::Await;
using testing_support::Cluster;
using testing_support::ClusterOptions;
using testing_support::kSanitizer;
using testing_support::WaitFor;

// The lease a commit gives: half the election timeout (ReadLease::kMargin).
absl::Duration LeaseOf(const ClusterOptions& o) { return o.election_timeout / 2; }

// What a reader does until `node` holds the lease: check it, else confirm
// leadership by barrier (which renews it). False if it never did within
// `timeout` (10 s).
bool AcquireLease(replication::Node* node,
                  absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  // Bound: the deadline.
  while (absl::Now() < deadline) {
    if (node->HoldsReadLease()) return true;
    (void)Await([&](replication::StatusCallback cb) {
      node->ConfirmLeadership(std::move(cb));
    }, deadline - absl::Now());
  }
  return false;
}

TEST(LeaseTest, TheReadyLeaderHoldsItAfterACommitFollowersNever) {
  for (const bool lease : {true, false}) {
    ClusterOptions options;
    options.read_lease = lease;
    Cluster cluster(options);
    absl::StatusOr<uint64_t> leader = cluster.StartAndElect();
    ASSERT_TRUE(leader.ok()) << leader.status();
    replication::Node* l = cluster.node(*leader);
    ASSERT_TRUE(l->db().Put("k", "v").ok());
    EXPECT_EQ(AcquireLease(l), lease) << "read_lease=" << lease;
    EXPECT_TRUE(Await([&](replication::StatusCallback cb) {
                  l->ConfirmLeadership(std::move(cb));
                }).ok());
    for (uint64_t id : cluster.running()) {
      if (id == *leader) continue;
      EXPECT_FALSE(cluster.node(id)->HoldsReadLease()) << "node " << id;
      EXPECT_TRUE(absl::IsUnavailable(Await([&](replication::StatusCallback cb) {
        cluster.node(id)->ConfirmLeadership(std::move(cb));
      })));
    }
  }
}

TEST(LeaseTest, AStalledDeposedLeaderNeitherHoldsItNorConfirmsAStaleRead) {
  ClusterOptions options;
  Cluster cluster(options);
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  const uint64_t old_id = *elected;
  replication::Node* old_leader = cluster.node(old_id);
  ASSERT_TRUE(old_leader->db().Put("k", "old").ok());
  ASSERT_TRUE(AcquireLease(old_leader));

  std::atomic<bool> release{false};
  old_leader->StallForTesting(absl::Seconds(120), &release);
  const uint64_t new_id = cluster.WaitForLeader(old_id);
  ASSERT_NE(new_id, 0u) << "no new leader while the old one is stalled";
  ASSERT_TRUE(cluster.node(new_id)->db().Put("k", "new").ok());
  // The old leader's loop has seen none of it.
  EXPECT_FALSE(old_leader->HoldsReadLease());
  std::promise<absl::Status> confirmed;
  std::future<absl::Status> result = confirmed.get_future();
  old_leader->ConfirmLeadership(
      [&](absl::Status s) { confirmed.set_value(std::move(s)); });
  release.store(true, std::memory_order_release);
  ASSERT_EQ(result.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  const absl::Status s = result.get();
  EXPECT_TRUE(absl::IsUnavailable(s))
      << s << " — a read confirmed now would return "
      << old_leader->db().Get("k").value_or("?");
}

TEST(LeaseTest, ATransferEndsItBeforeTheTargetCanLead) {
  ClusterOptions options;
  // A long lease (half of this), so that its natural end cannot pass for
  // the invalidation: the check below runs well within it.
  options.election_timeout = absl::Seconds(kSanitizer ? 8 : 4);
  Cluster cluster(options);
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  const uint64_t old_id = *elected;
  replication::Node* old_leader = cluster.node(old_id);
  // Every entry that commits from here on is stamped after `committed`, so
  // the lease, once held, lasts until at least committed + LeaseOf.
  const absl::Time committed = absl::Now();
  ASSERT_TRUE(old_leader->db().Put("k", "v").ok());
  ASSERT_TRUE(cluster.WaitForVisible(old_leader->db().GetStats().visible_ts));
  ASSERT_TRUE(AcquireLease(old_leader));
  const uint64_t target = cluster.Follower(old_id);

  std::atomic<bool> transferred{false};
  old_leader->TransferLeadership(target, [&](absl::Status) {
    transferred.store(true, std::memory_order_release);
  });
  // Runs on the loop right after the transfer's task: the old leader sends
  // TimeoutNow, then hears nothing more.
  std::atomic<bool> release{false};
  old_leader->StallForTesting(absl::Seconds(120), &release);
  const uint64_t new_id = cluster.WaitForLeader(old_id);
  const absl::Duration elapsed = absl::Now() - committed;
  ASSERT_EQ(new_id, target);
  ASSERT_TRUE(cluster.node(new_id)->db().Put("k", "w").ok());
  std::printf("target led %.3f s after the commit that gave the lease (%s)\n",
              absl::ToDoubleSeconds(elapsed),
              absl::FormatDuration(LeaseOf(options)).c_str());
  ASSERT_LT(elapsed, LeaseOf(options)) << "too slow to tell an invalidated "
                                          "lease from an expired one";
  EXPECT_FALSE(old_leader->HoldsReadLease());
  release.store(true, std::memory_order_release);
  ASSERT_TRUE(WaitFor([&] { return transferred.load(std::memory_order_acquire); }));
}

}  // namespace
}  // namespace mvkv
