// The replication families carry exactly the report they are built from:
// the role, indexes and counters as given, each follower's progress on the
// leader only.
#include "server/cluster_metrics.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace mvkv::server {
namespace {

using replication::ClusterInfo;
using replication::MemberInfo;
using replication::MemberRole;
using replication::Role;

ClusterInfo Leader() {
  ClusterInfo info;
  info.node_id = 1;
  info.role = Role::kLeader;
  info.ready = true;
  info.term = 7;
  info.leader_id = 1;
  info.last_log_index = 40;
  info.commit_index = 39;
  info.applied_index = 38;
  info.snapshots_taken = 3;
  info.snapshots_installed = 2;
  info.leader_changes = 4;
  info.last_leader_change = absl::FromUnixSeconds(1700000000);
  info.members = {
      MemberInfo{.id = 1, .role = MemberRole::kVoter, .match_index = 40},
      MemberInfo{.id = 2, .role = MemberRole::kVoter, .match_index = 35,
                 .lag = 5},
      MemberInfo{.id = 5, .role = MemberRole::kSpare, .match_index = 10,
                 .lag = 30}};
  return info;
}

// "name{labels}" -> value, for every metric of every family.
std::map<std::string, double> Values(const ClusterInfo& info) {
  std::map<std::string, double> out;
  for (const prometheus::MetricFamily& f : ClusterMetricFamilies(info)) {
    for (const prometheus::ClientMetric& m : f.metric) {
      std::string name = f.name;
      for (const auto& l : m.label) name += "{" + l.name + "=" + l.value + "}";
      out[name] = f.type == prometheus::MetricType::Counter ? m.counter.value
                                                            : m.gauge.value;
    }
  }
  return out;
}

TEST(ClusterMetricsTest, LeaderReportsItsStateAndEachFollowersProgress) {
  const ClusterInfo info = Leader();
  auto v = Values(info);
  EXPECT_EQ(v["mvkv_raft_role{role=leader}"], 1);
  EXPECT_EQ(v["mvkv_raft_role{role=follower}"], 0);
  EXPECT_EQ(v["mvkv_raft_ready"], 1);
  EXPECT_EQ(v["mvkv_raft_term"], info.term);
  EXPECT_EQ(v["mvkv_raft_leader_id"], info.leader_id);
  EXPECT_EQ(v["mvkv_raft_commit_index"], info.commit_index);
  EXPECT_EQ(v["mvkv_raft_applied_index"], info.applied_index);
  EXPECT_EQ(v["mvkv_raft_snapshots_taken_total"], info.snapshots_taken);
  EXPECT_EQ(v["mvkv_raft_snapshots_installed_total"], info.snapshots_installed);
  EXPECT_EQ(v["mvkv_raft_leader_changes_total"], info.leader_changes);
  EXPECT_EQ(v["mvkv_raft_last_leader_change_timestamp_seconds"], 1700000000);
  EXPECT_EQ(v["mvkv_raft_members{membership=voter}"], 2);
  EXPECT_EQ(v["mvkv_raft_members{membership=spare}"], 1);
  EXPECT_EQ(v["mvkv_raft_follower_lag{node_id=2}"], info.members[1].lag);
  EXPECT_EQ(v["mvkv_raft_follower_match_index{node_id=5}"],
            info.members[2].match_index);
  EXPECT_EQ(v.count("mvkv_raft_follower_lag{node_id=1}"), 0u);  // itself
  EXPECT_EQ(v["mvkv_raft_failed"], 0);
}

TEST(ClusterMetricsTest, FollowerHasNoProgressFamiliesAndFailureShows) {
  ClusterInfo info = Leader();
  info.role = Role::kFollower;
  info.ready = false;
  info.failure = absl::DataLossError("diverged");
  info.last_leader_change = absl::InfinitePast();
  auto v = Values(info);
  EXPECT_EQ(v["mvkv_raft_role{role=follower}"], 1);
  EXPECT_EQ(v["mvkv_raft_ready"], 0);
  EXPECT_EQ(v["mvkv_raft_failed"], 1);
  EXPECT_EQ(v["mvkv_raft_last_leader_change_timestamp_seconds"], 0);
  for (const auto& [name, value] : v) {
    EXPECT_EQ(name.find("follower_"), std::string::npos) << name;
  }
}

TEST(ClusterMetricsTest, CollectableReadsTheReportAtEveryScrape) {
  ClusterInfo info = Leader();
  auto collectable = ClusterCollectable([&info] { return info; });
  prometheus::TextSerializer text;
  EXPECT_NE(text.Serialize(collectable->Collect()).find("mvkv_raft_term 7"),
            std::string::npos);
  info.term = 8;
  const std::string out = text.Serialize(collectable->Collect());
  EXPECT_NE(out.find("mvkv_raft_term 8"), std::string::npos) << out;
  EXPECT_NE(out.find("mvkv_raft_follower_lag{node_id=\"2\"} 5"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace mvkv::server
