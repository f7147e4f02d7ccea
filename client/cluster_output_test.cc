// `mvkv cluster status` output: the text names the leader and lists every
// member with its role and addresses (progress only when the answering node
// leads); --json carries every field of the status, parseable back.
#include "client/cluster_output.h"

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mvkv::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ClusterStatus FromLeader() {
  ClusterStatus s;
  s.cluster_id = "prod";
  s.node_id = 1;
  s.role = "leader";
  s.ready = true;
  s.term = 4;
  s.leader_id = 1;
  s.leader_client_address = "10.0.0.1:7070";
  s.leader_raft_address = "10.0.0.1:9001";
  s.last_leader_change = absl::FromUnixMillis(1764633600123);
  s.leader_changes = 2;
  s.last_log_index = 90;
  s.commit_index = 90;
  s.applied_index = 89;
  s.applied_ts = 700;
  s.snapshots_taken = 5;
  s.snapshots_installed = 1;
  s.progress_known = true;
  s.members = {
      {1, "10.0.0.1:9001", "10.0.0.1:7070", "voter", "leader", 90, 0},
      {2, "10.0.0.2:9001", "10.0.0.2:7070", "voter", "follower", 87, 3},
      {4, "10.0.0.4:9001", "", "spare", "spare", 10, 80}};
  return s;
}

TEST(ClusterOutputTest, TextNamesTheLeaderAndListsEveryMember) {
  const ClusterStatus s = FromLeader();
  const std::vector<std::string> lines = ClusterStatusLines(s);
  ASSERT_GE(lines.size(), 2 + s.members.size());
  EXPECT_EQ(lines[0],
            "cluster prod: leader 1 at 10.0.0.1:7070, term 4 (answered by "
            "node 1, leader, ready)");
  EXPECT_THAT(lines[1], HasSubstr("ROLE"));
  for (std::size_t i = 0; i < s.members.size(); ++i) {
    const ClusterMember& m = s.members[i];
    const std::string& row = lines[2 + i];
    EXPECT_EQ(row.rfind(std::to_string(m.id) + " ", 0), 0u) << row;
    EXPECT_THAT(row, HasSubstr(m.role));
    EXPECT_THAT(row, HasSubstr(m.membership));
    EXPECT_THAT(row, HasSubstr(m.raft_address));
    EXPECT_THAT(row, HasSubstr(m.client_address.empty() ? " - "
                                                        : m.client_address));
    EXPECT_THAT(row, HasSubstr(" " + std::to_string(m.lag)));
  }
  const std::string all = absl::StrJoin(lines, "\n");
  EXPECT_THAT(all, HasSubstr("applied_index=89"));
  EXPECT_THAT(all, HasSubstr("taken=5 installed=1"));
  EXPECT_THAT(all, HasSubstr("2025-12-02T00:00:00.123Z"));
  EXPECT_THAT(all, Not(HasSubstr("FAILED")));
}

TEST(ClusterOutputTest, TextFromAFollowerHidesProgressAndShowsFailure) {
  ClusterStatus s = FromLeader();
  s.node_id = 2;
  s.role = "follower";
  s.ready = false;
  s.progress_known = false;
  s.failure = "DATA_LOSS: diverged";
  const std::vector<std::string> lines = ClusterStatusLines(s);
  EXPECT_THAT(lines[0], HasSubstr("(answered by node 2, follower)"));
  EXPECT_EQ(lines[1], "FAILED: this node stopped replicating: DATA_LOSS: diverged");
  const std::string& row = lines[3];  // member 1, after the header
  EXPECT_EQ(row.substr(row.size() - 3), "  -") << row;
  s.leader_id = 0;
  EXPECT_THAT(ClusterStatusLines(s)[0], HasSubstr("no leader known"));
}

TEST(ClusterOutputTest, JsonCarriesEveryFieldAndParsesBack) {
  const ClusterStatus s = FromLeader();
  const nlohmann::ordered_json j =
      nlohmann::ordered_json::parse(ClusterStatusJson(s).dump());
  EXPECT_EQ(j["cluster_id"], s.cluster_id);
  EXPECT_EQ(j["node_id"], s.node_id);
  EXPECT_EQ(j["role"], s.role);
  EXPECT_EQ(j["ready"], s.ready);
  EXPECT_EQ(j["term"], s.term);
  EXPECT_EQ(j["leader_id"], s.leader_id);
  EXPECT_EQ(j["leader_client_address"], s.leader_client_address);
  EXPECT_EQ(j["last_leader_change_unix_ms"],
            absl::ToUnixMillis(s.last_leader_change));
  EXPECT_EQ(j["applied_index"], s.applied_index);
  EXPECT_EQ(j["snapshots_installed"], s.snapshots_installed);
  ASSERT_EQ(j["members"].size(), s.members.size());
  for (std::size_t i = 0; i < s.members.size(); ++i) {
    EXPECT_EQ(j["members"][i]["id"], s.members[i].id);
    EXPECT_EQ(j["members"][i]["role"], s.members[i].role);
    EXPECT_EQ(j["members"][i]["client_address"], s.members[i].client_address);
    EXPECT_EQ(j["members"][i]["raft_address"], s.members[i].raft_address);
    EXPECT_EQ(j["members"][i]["lag"], s.members[i].lag);
  }
  ClusterStatus follower = s;
  follower.progress_known = false;
  EXPECT_FALSE(ClusterStatusJson(follower)["members"][0].contains("lag"));
}

}  // namespace
}  // namespace mvkv::client
