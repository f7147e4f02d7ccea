// Every bad start of a node is refused with a clear status and writes
// nothing: bad options, a directory of another cluster or another node, one
// in use, one holding foreign files, a raft address already taken, a
// missing directory without create_if_missing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replication/node.h"
#include "tests/replication/cluster.h"

namespace mvkv {
namespace {

using ::testing::HasSubstr;
using common::FreePort;
using testing_support::TempPath;

// Every file under `dir` with its bytes (empty map if `dir` is missing).
std::map<std::string, std::string> Contents(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    std::ifstream in(e.path());
    std::stringstream bytes;
    bytes << in.rdbuf();
    out[e.path().string()] = e.is_directory() ? "<dir>" : bytes.str();
  }
  return out;
}

replication::NodeOptions SingleNode(const std::string& dir) {
  replication::NodeOptions o;
  o.cluster_id = "alpha";
  o.node_id = 1;
  o.raft_address = absl::StrCat("127.0.0.1:", FreePort());
  o.client_address = "127.0.0.1:7070";
  o.data_dir = dir;
  o.bootstrap = {{1, o.raft_address, o.client_address}};
  return o;
}

void ExpectRefused(const replication::NodeOptions& o, absl::StatusCode code,
                   const std::string& why) {
  const auto before = Contents(o.data_dir);
  absl::StatusOr<std::unique_ptr<replication::Node>> node = replication::Node::Open(o);
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), code) << node.status();
  EXPECT_THAT(node.status().message(), HasSubstr(why));
  EXPECT_EQ(Contents(o.data_dir), before) << "a refused start wrote into " << o.data_dir;
}

TEST(OpenErrorsTest, BadOptionsWriteNothing) {
  replication::NodeOptions o = SingleNode(TempPath("bad-options"));
  o.bootstrap.push_back({1, "127.0.0.1:1", "127.0.0.1:2"});
  ExpectRefused(o, absl::StatusCode::kInvalidArgument, "duplicate node id 1");
  o = SingleNode(o.data_dir);
  o.node_id = 2;
  ExpectRefused(o, absl::StatusCode::kInvalidArgument, "node id 2 is not in the member list");
  o = SingleNode(o.data_dir);
  o.bootstrap[0].raft_address = "127.0.0.1:";
  ExpectRefused(o, absl::StatusCode::kInvalidArgument, "not an IPv4 address");
  EXPECT_FALSE(std::filesystem::exists(o.data_dir));
  o = SingleNode(o.data_dir);
  mvkv::Options db;
  db.staged_pipeline = true;
  EXPECT_EQ(replication::Node::Open(o, db).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.create_if_missing = false;
  ExpectRefused(o, absl::StatusCode::kNotFound, "does not exist");
}

TEST(OpenErrorsTest, ADirectoryOfAnotherClusterOrNodeIsRefusedUntouched) {
  const std::string dir = TempPath("owned");
  replication::NodeOptions o = SingleNode(dir);
  {
    auto node = replication::Node::Open(o);
    ASSERT_TRUE(node.ok()) << node.status();
    ASSERT_TRUE(testing_support::WaitFor([&] { return (*node)->Info().ready; }));
    ASSERT_TRUE((*node)->db().Put("k", "v").ok());
  }
  replication::NodeOptions other = o;
  other.cluster_id = "beta";
  ExpectRefused(other, absl::StatusCode::kFailedPrecondition,
                "belongs to node 1 of cluster \"alpha\", not to node 1 of cluster \"beta\"");
  other = o;
  other.node_id = 2;
  other.bootstrap = {{2, o.raft_address, o.client_address}};
  ExpectRefused(other, absl::StatusCode::kFailedPrecondition, "belongs to node 1");
  // While it runs, a second process (here: a second node) cannot use it.
  auto running = replication::Node::Open(o);
  ASSERT_TRUE(running.ok()) << running.status();
  replication::NodeOptions twin = o;
  twin.raft_address = absl::StrCat("127.0.0.1:", FreePort());
  twin.bootstrap = {{1, twin.raft_address, o.client_address}};
  absl::StatusOr<std::unique_ptr<replication::Node>> second = replication::Node::Open(twin);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  // And the data is still there.
  ASSERT_TRUE(testing_support::WaitFor([&] { return (*running)->Info().ready; }));
  EXPECT_EQ(*(*running)->db().Get("k"), "v");
}

TEST(OpenErrorsTest, AForeignDirectoryIsRefusedUntouched) {
  const std::string dir = TempPath("foreign");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/notes.txt") << "someone else's";
  ExpectRefused(SingleNode(dir), absl::StatusCode::kFailedPrecondition,
                "holds files but no mvkv node identity");
}

TEST(OpenErrorsTest, ATakenRaftAddressLeavesAFreshDirectoryAsItWas) {
  replication::NodeOptions first = SingleNode(TempPath("first"));
  auto node = replication::Node::Open(first);
  ASSERT_TRUE(node.ok()) << node.status();
  replication::NodeOptions clash = SingleNode(TempPath("clash"));
  clash.raft_address = first.raft_address;
  clash.bootstrap = {{1, clash.raft_address, clash.client_address}};
  ExpectRefused(clash, absl::StatusCode::kUnavailable, first.raft_address);
  EXPECT_FALSE(std::filesystem::exists(clash.data_dir));
}

TEST(OpenErrorsTest, AnInMemoryNodeRemovesItsDirectory) {
  const std::string tmp = TempPath("tmpdir");
  std::filesystem::create_directories(tmp);
  ::setenv("TMPDIR", tmp.c_str(), 1);
  {
    auto node = replication::Node::Open(SingleNode(""));
    ASSERT_TRUE(node.ok()) << node.status();
    ASSERT_TRUE(testing_support::WaitFor([&] { return (*node)->Info().ready; }));
    ASSERT_TRUE((*node)->db().Put("k", "v").ok());
    EXPECT_FALSE(std::filesystem::is_empty(tmp)) << "the node's private directory";
  }
  EXPECT_TRUE(std::filesystem::is_empty(tmp)) << "left behind in " << tmp;
}

}  // namespace
}  // namespace mvkv
