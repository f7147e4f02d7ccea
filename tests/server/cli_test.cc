// The mvkv CLI against a real server: output and exit codes of each command
// (0 ok, 1 not found, 2 usage, 3 server error, 4 aborted, 5 unavailable).
#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

using testing::ProcessResult;

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ =
        testing::ServerProcess::Start({"--auth_token=tok"}).value().release();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(SIGTERM), 0);
    delete server_;
  }
  ProcessResult Mvkv(std::vector<std::string> args,
                     const std::string& in = "") {
    std::vector<std::string> argv = {testing::Runfile("client/mvkv"),
                                     "--server=" + server_->address(),
                                     "--token=tok"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunProcess(argv, in);
  }
  static testing::ServerProcess* server_;
};

testing::ServerProcess* CliTest::server_ = nullptr;

TEST_F(CliTest, PutGetDelPrintAndExitAsDocumented) {
  auto r = Mvkv({"put", "cli/a", "hello world"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("OK commit_ts=", 0), 0u) << r.out;
  r = Mvkv({"get", "cli/a"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "hello world\n");
  r = Mvkv({"--json", "get", "cli/a"});
  EXPECT_EQ(r.out.rfind("{\"key\":\"cli/a\",\"value\":\"hello world\"", 0), 0u)
      << r.out;
  r = Mvkv({"get", "cli/missing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("NOT_FOUND"), std::string::npos) << r.err;
  r = Mvkv({"del", "cli/a"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("deleted commit_ts=", 0), 0u);
  r = Mvkv({"del", "cli/a"});
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(CliTest, ScanPrintsTabSeparatedPairsOrJson) {
  ASSERT_EQ(Mvkv({"put", "cs/1", "a"}).exit_code, 0);
  ASSERT_EQ(Mvkv({"put", "cs/2", "b"}).exit_code, 0);
  ASSERT_EQ(Mvkv({"put", "cs/3", "c"}).exit_code, 0);
  auto r = Mvkv({"scan", "cs/", "cs0"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "cs/1\ta\ncs/2\tb\ncs/3\tc\n");
  r = Mvkv({"--limit=2", "--json", "scan", "cs/", "cs0"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("\"more\":true"), std::string::npos) << r.out;
  r = Mvkv({"scan", "z", "a"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("INVALID_ARGUMENT"), std::string::npos);
}

TEST_F(CliTest, TxnRunsAScriptFromStdinOrAFile) {
  auto r =
      Mvkv({"txn"}, "put tx/a 1\nget tx/a\nget tx/none\n# comment\ncommit\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1\n(not found)\ncommitted commit_ts="),
            std::string::npos)
      << r.out;
  const std::string file = testing::NewTempDir("script") + "/t.txt";
  std::ofstream(file) << "put tx/b 2\nscan tx/ tx0\n";
  r = Mvkv({"--json", "txn", file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"outcome\":\"rolled_back\""), std::string::npos)
      << r.out;
  EXPECT_EQ(Mvkv({"get", "tx/b"}).exit_code, 1);  // never committed
  r = Mvkv({"txn"}, "put tx/c 3\nfly away\n");
  EXPECT_EQ(r.exit_code, 2);
  r = Mvkv({"txn"}, "commit\nget tx/a\n");
  EXPECT_EQ(r.exit_code, 3);  // FAILED_PRECONDITION after commit
}

TEST_F(CliTest, TxnConflictExitsWithFour) {
  // The script reads for a while, then writes a key that another client
  // keeps overwriting: first committer wins, so the script's commit aborts.
  std::string script;
  for (int i = 0; i < 300; ++i) script += "get conflict/other\n";
  script += "put conflict/k mine\ncommit\n";
  client::ClientOptions options;
  options.token = "tok";
  auto writer = server_->NewClient(options);
  std::atomic<bool> stop{false};
  std::thread t([&] {
    for (int i = 0; !stop.load(); ++i) {
      ASSERT_TRUE(writer->Put("conflict/k", absl::StrCat(i)).ok());
    }
  });
  auto r = Mvkv({"txn"}, script);
  stop = true;
  t.join();
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("ABORTED"), std::string::npos) << r.err;
}

TEST_F(CliTest, StatsAndHealth) {
  auto r = Mvkv({"stats"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("live_keys: "), std::string::npos);
  EXPECT_NE(r.out.find("retained_bytes: "), std::string::npos);
  r = Mvkv({"--json", "stats"});
  EXPECT_EQ(r.out.rfind("{\"live_keys\":", 0), 0u) << r.out;
  r = Mvkv({"health"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "SERVING\n");
}

TEST_F(CliTest, UsageServerAndConnectionErrorsHaveTheirExitCodes) {
  EXPECT_EQ(Mvkv({}).exit_code, 2);
  EXPECT_EQ(Mvkv({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Mvkv({"get"}).exit_code, 2);
  EXPECT_EQ(Mvkv({"--bogus=1", "get", "k"}).exit_code, 2);
  auto r = Mvkv({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Exit codes:"), std::string::npos);
  r = Mvkv({"put", "", "v"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("key is empty"), std::string::npos);
  r = testing::RunProcess({testing::Runfile("client/mvkv"),
                           "--server=" + server_->address(), "get", "k"});
  EXPECT_EQ(r.exit_code, 3);  // no token
  EXPECT_NE(r.err.find("UNAUTHENTICATED"), std::string::npos);
  r = testing::RunProcess({testing::Runfile("client/mvkv"),
                           "--server=127.0.0.1:1", "--timeout=2", "health"});
  EXPECT_EQ(r.exit_code, 5);
}

// A server without replication does not serve mvkv.v1.Cluster: the CLI
// says so (exit 3), and `--help` lists the cluster commands.
TEST_F(CliTest, ClusterCommandsOnASingleServerSayItIsNotReplicated) {
  auto r = Mvkv({"cluster", "status"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("UNIMPLEMENTED"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a replication node"), std::string::npos) << r.err;
  EXPECT_EQ(Mvkv({"cluster", "remove", "2"}).exit_code, 3);
  EXPECT_EQ(Mvkv({"cluster"}).exit_code, 2);
  EXPECT_EQ(Mvkv({"cluster", "add", "1", "127.0.0.1:9"}).exit_code, 2);
  r = Mvkv({"--help"});
  EXPECT_NE(r.out.find("cluster"), std::string::npos);
}

}  // namespace
}  // namespace mvkv
