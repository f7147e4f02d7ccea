// The accept check of a new leader (Core::OnAccepted, fixed in ad75902),
// driven into its race deterministically.
//
// Property: a new leader's engine accepts local commits on the applier
// thread before the loop thread hears of it; this leadership's first batch
// can commit and apply in between, moving the log's applied commit past the
// engine's resume point. The check compares the resume point with the log
// as of the accept request, so that leader becomes ready and keeps serving
// (before the fix it stopped itself with DATA_LOSS, "the engine resumes
// after commit N but the log applied up to N+1"). The window is held open
// by Node::OnNextAcceptForTesting until a commit on the new leader was
// acknowledged; no randomness (no seed).
#include <memory>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "replication/info.h"
#include "replication/node.h"
#include "tests/replication/cluster.h"

namespace mvkv {
namespace {

using testing_support::Await;
using testing_support::Cluster;
using testing_support::ClusterOptions;

// Releases the held applier however the test ends (before the cluster
// closes: Node::Close joins the applier).
struct Release {
  std::shared_ptr<absl::Notification> n = std::make_shared<absl::Notification>();
  ~Release() {
    if (!n->HasBeenNotified()) n->Notify();
  }
};

TEST(AcceptRaceTest, FirstBatchAppliedBeforeTheAcceptCheckKeepsTheLeader) {
  Cluster cluster(ClusterOptions{});
  absl::StatusOr<uint64_t> old = cluster.StartAndElect();
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_TRUE(cluster.node(*old)->db().Put("before", "1").ok());
  const uint64_t next = cluster.Follower(*old);
  ASSERT_NE(next, 0u);

  auto accepted = std::make_shared<absl::Notification>();
  Release release;
  cluster.node(next)->OnNextAcceptForTesting(
      [accepted, released = release.n] {
        accepted->Notify();
        // Bound: the test releases it, at the latest when it ends.
        released->WaitForNotificationWithTimeout(absl::Seconds(120));
      });
  cluster.node(*old)->TransferLeadership(next, [](absl::Status) {});
  ASSERT_TRUE(accepted->WaitForNotificationWithTimeout(absl::Seconds(60)))
      << "node " << next << " never became leader";

  // The engine accepts; the loop has not checked yet (kEnabling): this
  // leadership's first batch commits by quorum and applies here.
  ASSERT_TRUE(cluster.node(next)->db().Put("first", "1").ok());
  release.n->Notify();

  // The check passes: the same node becomes the ready leader and serves.
  EXPECT_EQ(cluster.WaitForLeader(0, absl::Seconds(30)), next);
  const replication::ClusterInfo info = cluster.node(next)->Info();
  EXPECT_TRUE(info.failure.ok()) << info.failure;
  EXPECT_TRUE(Await([&](replication::StatusCallback done) {
                cluster.node(next)->ConfirmLeadership(std::move(done));
              }).ok());
  ASSERT_TRUE(cluster.node(next)->db().Put("second", "1").ok());
  auto second = cluster.node(next)->db().GetWithTimestamp("second");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(cluster.WaitForVisible(second->commit_ts));
  auto first = cluster.node(*old)->db().Get("first");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "1");
}

}  // namespace
}  // namespace mvkv
