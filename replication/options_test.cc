// The configuration checks: every bad member list, id, address and timing
// is refused with InvalidArgument naming what is wrong.
#include "replication/options.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mvkv::replication {
namespace {

using ::testing::HasSubstr;

NodeOptions Good() {
  NodeOptions o;
  o.node_id = 2;
  o.raft_address = "127.0.0.1:9002";
  o.client_address = "127.0.0.1:7071";
  o.bootstrap = {{1, "127.0.0.1:9001", "127.0.0.1:7070"},
                 {2, "127.0.0.1:9002", "127.0.0.1:7071"},
                 {3, "127.0.0.1:9003", "localhost:7072"}};
  return o;
}

void ExpectRefused(const NodeOptions& o, const std::string& why) {
  absl::Status s = ValidateNodeOptions(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << why;
  EXPECT_THAT(s.message(), HasSubstr(why));
}

TEST(OptionsTest, AcceptsAGoodConfigurationAndAJoiningNode) {
  EXPECT_TRUE(ValidateNodeOptions(Good()).ok());
  NodeOptions join = Good();
  join.bootstrap.clear();
  EXPECT_TRUE(ValidateNodeOptions(join).ok());
}

TEST(OptionsTest, RefusesBadNodesAndMemberLists) {
  NodeOptions o = Good();
  o.bootstrap[2].id = 1;
  ExpectRefused(o, "duplicate node id 1");
  o = Good();
  o.node_id = 4;
  o.raft_address = "127.0.0.1:9004";
  ExpectRefused(o, "node id 4 is not in the member list (1, 2, 3)");
  o = Good();
  o.raft_address = "127.0.0.1:9009";
  ExpectRefused(o, "but the member list gives it 127.0.0.1:9002");
  o = Good();
  o.bootstrap[2].raft_address = "127.0.0.1:9001";
  ExpectRefused(o, "is given to two members");
  o = Good();
  o.bootstrap[0].raft_address = "localhost:9001";
  ExpectRefused(o, "not an IPv4 address");
  o = Good();
  o.bootstrap[0].client_address = "nowhere";
  ExpectRefused(o, "is not host:port");
  o = Good();
  o.bootstrap[0].id = 0;
  ExpectRefused(o, "ids start at 1");
  o = Good();
  o.node_id = 0;
  ExpectRefused(o, "node id must be at least 1");
  o = Good();
  o.cluster_id = "bad id";
  ExpectRefused(o, "may hold only");
  o = Good();
  o.cluster_id = "";
  ExpectRefused(o, "1-64 characters");
  o = Good();
  o.raft_address = "127.0.0.1:0";
  ExpectRefused(o, "not an IPv4 address and port");
  o = Good();
  o.election_timeout = o.heartbeat_interval;
  ExpectRefused(o, "election_timeout at least twice");
  o = Good();
  o.peer_send_timeout = o.install_snapshot_timeout;
  ExpectRefused(o, "below install_snapshot_timeout");
  o = Good();
  o.max_log_bytes = 0;
  ExpectRefused(o, "max_log_bytes");
}

TEST(OptionsTest, ParsesMemberListsAndRefusesBadOnes) {
  absl::StatusOr<std::vector<Member>> m =
      ParseMembers("1=127.0.0.1:9001/127.0.0.1:7070,2=10.0.0.2:9001/db2:7070");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[1].id, 2u);
  EXPECT_EQ((*m)[1].raft_address, "10.0.0.2:9001");
  EXPECT_EQ((*m)[1].client_address, "db2:7070");
  for (const char* bad : {"", "1", "1=127.0.0.1:9001", "x=127.0.0.1:9001/a:1",
                          "1=127.0.0.1:9001/a:1,1=127.0.0.2:9001/b:1",
                          "1=127.0.0.1:70000/a:1", "1=127.0.0.1:9001/a:1,"}) {
    EXPECT_EQ(ParseMembers(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace mvkv::replication
