// mvkv_server's refusals of a bad cluster configuration: each start below
// must exit with code 2 (documented in --help), say on stderr what was
// wrong, and write nothing (a data directory is byte-for-byte unchanged; a
// missing one is not created).
#include <signal.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"

namespace mvkv::testing {
namespace {

// Every file under `dir` with its size and contents.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    out[e.path().string()] = e.is_regular_file() ? ReadAll(e.path()) : "<dir>";
  }
  return out;
}

ProcessResult Server(std::vector<std::string> args) {
  args.insert(args.begin(), Runfile("server/mvkv_server"));
  return RunProcess(args);
}

TEST(BadFlagsTest, RefusedAtStartWithExitCode2) {
  const std::string raft = absl::StrCat("127.0.0.1:", FreePort());
  const int client_port = FreePort();
  const std::string listen = absl::StrCat("--listen=127.0.0.1:", client_port);
  const std::string self =
      absl::StrCat("1=", raft, "/127.0.0.1:", client_port);
  const std::string missing_dir = NewTempDir("never") + "/node";
  struct Case {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{listen, "--node_id=1", "--raft_listen=" + raft, "--peers=garbage"},
       "--peers"},
      {{listen, "--node_id=1", "--raft_listen=" + raft,
        "--peers=" + self + ",1=127.0.0.1:1/127.0.0.1:2"},
       "duplicate node id 1"},
      {{listen, "--node_id=4", "--raft_listen=" + raft, "--peers=" + self},
       "--node_id 4 is not in --peers"},
      {{listen, "--node_id=1", "--raft_listen=127.0.0.1:1", "--peers=" + self},
       "but --raft_listen is"},
      {{"--listen=127.0.0.1:1", "--node_id=1", "--raft_listen=" + raft,
        "--peers=" + self},
       "but --listen is"},
      {{listen, "--node_id=1", "--raft_listen=" + raft, "--peers=" + self,
        "--join"},
       "exclusive"},
      {{listen, "--node_id=1", "--raft_listen=" + raft}, "needs --peers"},
      {{listen, "--node_id=1", "--raft_listen=not-an-ip:9", "--peers=" + self},
       "--raft_listen"},
      {{listen, "--peers=" + self}, "need --node_id"},
      {{listen, "--node_id=1", "--raft_listen=" + raft, "--peers=" + self,
        "--data_dir=" + missing_dir},
       "missing_dir"},
  };
  for (const Case& c : cases) {
    ProcessResult r = Server(c.args);
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    if (c.says == "missing_dir") {
      // Not a flag error: a mistyped directory without --create (exit 1,
      // as for a single server), and nothing is created.
      EXPECT_NE(r.exit_code, 0) << r.err;
      EXPECT_FALSE(std::filesystem::exists(missing_dir));
      continue;
    }
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  }
}

// A data directory written by node 1 of cluster "mvkv" is refused to node 2
// and to another cluster, and is left exactly as it was.
TEST(BadFlagsTest, DataDirOfAnotherNodeOrClusterIsRefused) {
  const int client_port = FreePort();
  const int raft_port = FreePort();
  const std::string dir = NewTempDir("owned") + "/node";
  const std::string raft = absl::StrCat("127.0.0.1:", raft_port);
  const std::string client = absl::StrCat("127.0.0.1:", client_port);
  {
    auto node = ServerProcess::Start(
        {"--node_id=1", "--raft_listen=" + raft,
         absl::StrCat("--peers=1=", raft, "/", client), "--data_dir=" + dir,
         "--create"},
        client::ClientOptions(), client_port);
    ASSERT_TRUE(node.ok()) << node.status();
    EXPECT_EQ((*node)->Stop(SIGTERM), 0);
  }
  const auto before = Snapshot(dir);
  ASSERT_FALSE(before.empty());
  ProcessResult other_node = Server(
      {"--listen=" + client, "--node_id=2", "--raft_listen=" + raft,
       absl::StrCat("--peers=2=", raft, "/", client), "--data_dir=" + dir});
  EXPECT_EQ(other_node.exit_code, 2) << other_node.err;
  EXPECT_NE(other_node.err.find("node"), std::string::npos) << other_node.err;
  ProcessResult other_cluster = Server(
      {"--listen=" + client, "--node_id=1", "--raft_listen=" + raft,
       absl::StrCat("--peers=1=", raft, "/", client), "--data_dir=" + dir,
       "--cluster_id=other"});
  EXPECT_EQ(other_cluster.exit_code, 2) << other_cluster.err;
  EXPECT_NE(other_cluster.err.find("other"), std::string::npos)
      << other_cluster.err;
  EXPECT_EQ(Snapshot(dir), before);
}

// A Raft address another process listens on: exit 1 (--help: "address in
// use") with a message naming the address and the reason, not libraft's
// bare "I/O error".
TEST(BadFlagsTest, RaftAddressInUseIsNamed) {
  const int client_port = FreePort();
  const int raft_port = FreePort();
  const std::string raft = absl::StrCat("127.0.0.1:", raft_port);
  const std::string client = absl::StrCat("127.0.0.1:", client_port);
  // The first node holds the Raft port.
  auto holder = ServerProcess::Start(
      {"--node_id=1", "--raft_listen=" + raft,
       absl::StrCat("--peers=1=", raft, "/", client)},
      client::ClientOptions(), client_port);
  ASSERT_TRUE(holder.ok()) << holder.status();
  const int other_client = FreePort();
  ProcessResult r = Server(
      {absl::StrCat("--listen=127.0.0.1:", other_client), "--node_id=1",
       "--raft_listen=" + raft,
       absl::StrCat("--peers=1=", raft, "/127.0.0.1:", other_client)});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot listen on " + raft + ": Address already in use"),
            std::string::npos)
      << r.err;
  EXPECT_EQ((*holder)->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace mvkv::testing
