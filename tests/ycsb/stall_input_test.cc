// Bad --stall input makes the ycsb harness fail before the run starts —
// exit code 2, a message on stderr that says what is wrong, nothing loaded
// into the target — for malformed specs, a --server_pid that does not
// exist, K larger than the threads there are, a target with no process to
// freeze, an --ops run with no +D, a thread someone else already traces,
// and server-reclaim against a server without --allow_fault_injection.
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/ycsb/thread_freezer.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"

namespace mvkv::ycsb {
namespace {

using mvkv::testing::Runfile;
using mvkv::testing::ServerProcess;

// Runs ycsb (a short read-only run) with `args`; expects exit code 2 before
// the run, with `error` in stderr.
void ExpectRefused(const std::vector<std::string>& args, const std::string& error) {
  std::vector<std::string> argv = {Runfile("bench/ycsb/ycsb"), "--workload=c", "--records=50",
                                   "--seconds=1"};
  argv.insert(argv.end(), args.begin(), args.end());
  const testing::ProcessResult r = testing::RunProcess(argv);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, error)) << "want '" << error << "' in: " << r.err;
  EXPECT_FALSE(absl::StrContains(r.out, "[OVERALL]")) << r.out;
}

TEST(StallInputTest, MalformedSpecsAreRefused) {
  for (const char* bad : {"forever", "thread:0@1s", "thread:x@1s", "thread:1@soon",
                          "thread:1@1s+", "thread:1@1s+0", "thread:1@1s+-2s",
                          "thread:1@1s:name=", "thread:1@1s:fastest", "thread:1@1s:random=x",
                          "reclaim:1@1s:busy", "server-reclaim:1@1s:name=x", "txn:-1@1"}) {
    SCOPED_TRACE(bad);
    ExpectRefused({"--target=embedded", std::string("--stall=") + bad}, "bad --stall");
  }
}

TEST(StallInputTest, AProcessThatDoesNotExistIsRefused) {
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  ExpectRefused({"--target=grpc://127.0.0.1:1", absl::StrCat("--server_pid=", gone),
                 "--stall=thread:1@1s"},
                absl::StrCat("--server_pid=", gone, ": no such process"));
}

TEST(StallInputTest, ThreadStallsThatCannotWorkAreRefusedAndLoadNothing) {
  auto server = ServerProcess::Start({}).value();
  const std::string grpc = "--target=grpc://" + server->address();
  const std::string pid = absl::StrCat("--server_pid=", server->pid());
  ExpectRefused({grpc, pid, "--stall=thread:500@1s"}, "cannot freeze 500 threads: the process has");
  ExpectRefused({grpc, pid, "--stall=thread:1@1s:name=nosuch*"}, "0 of them named like 'nosuch*'");
  ExpectRefused({grpc, "--stall=thread:1@1s"}, "needs the target's process");
  ExpectRefused({"--target=embedded", "--stall=thread:1@1s"}, "runs inside the harness");
  ExpectRefused({grpc, pid, "--ops=100", "--stall=thread:1@1s"}, "needs +D");
  // A thread another tracer holds: ptrace's own error, with the reason.
  auto held = FrozenThreads::Freeze(server->pid(), {server->pid()}).value();
  ExpectRefused({grpc, pid, "--stall=thread:1@1s+1s"}, "already traced by pid");
  held.reset();
  EXPECT_EQ(server->NewClient()->GetStats()->Number("commits"), 0u) << "a refused run loaded records";
}

TEST(StallInputTest, ServerReclaimNeedsAServerThatAllowsIt) {
  auto plain = ServerProcess::Start({}).value();
  ExpectRefused({"--target=grpc://" + plain->address(), "--stall=server-reclaim:1@1s"},
                "does not allow fault injection: start it with --allow_fault_injection");
  ExpectRefused({"--target=embedded", "--stall=server-reclaim:1@1s"}, "need mvkv_server");
  auto allowed = ServerProcess::Start({"--allow_fault_injection"}).value();
  ExpectRefused({"--target=grpc://" + allowed->address(),
                 "--stall=server-reclaim:1@1s,server-reclaim:1@2s"},
                "one server-reclaim stall per run");
  EXPECT_EQ(plain->NewClient()->GetStats()->Number("commits"), 0u);
  EXPECT_EQ(allowed->NewClient()->GetStats()->Number("commits"), 0u);
}

}  // namespace
}  // namespace mvkv::ycsb
