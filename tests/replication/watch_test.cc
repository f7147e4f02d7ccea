// A watch on a follower of a three-node group: it is served from the
// follower's applied stream, so it receives the leader's commits, each once,
// in order, at the leader's timestamps, with the commit's changes grouped.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "tests/replication/cluster.h"

namespace mvkv {
namespace {

using testing_support::Cluster;
using testing_support::ClusterOptions;

TEST(ReplicatedWatchTest, AFollowersWatchGetsTheLeadersCommits) {
  Cluster cluster{ClusterOptions()};
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  const uint64_t follower = cluster.Follower(*elected);
  auto watch = cluster.node(follower)->db().Watch(WatchRange::Prefix("w/"));
  ASSERT_TRUE(watch.ok()) << watch.status();
  std::vector<uint64_t> want;
  for (int i = 0; i < 30; ++i) {
    absl::Status s = cluster.OnLeader([&](Database& db) {
      auto txn = db.Begin();
      if (absl::Status p = txn->Put(absl::StrCat("w/", i), "a"); !p.ok()) {
        return p;
      }
      if (absl::Status p = txn->Put(absl::StrCat("w/", i, "b"), "b");
          !p.ok()) {
        return p;
      }
      if (absl::Status p = txn->Put(absl::StrCat("x/", i), "out"); !p.ok()) {
        return p;
      }
      absl::Status c = txn->Commit();
      if (c.ok()) want.push_back(txn->commit_ts());
      return c;
    });
    ASSERT_TRUE(s.ok()) << s;
  }
  std::vector<uint64_t> got;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (got.size() < want.size()) {
    absl::StatusOr<WatchEvent> e = (*watch)->Next(deadline);
    ASSERT_TRUE(e.ok()) << e.status();
    ASSERT_EQ(e->type, WatchEvent::Type::kCommit);
    ASSERT_EQ(e->changes.size(), 2u);  // both w/ keys, never x/
    got.push_back(e->commit_ts);
  }
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace mvkv
