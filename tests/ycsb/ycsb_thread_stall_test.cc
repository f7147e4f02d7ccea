// The ycsb harness's thread: stall against real processes: load goes to an
// mvkv_server the harness starts, the freeze to tests/ycsb/counter_threads
// (--server_pid), whose counters show which threads run. Properties
// checked: the chosen thread is frozen for its window only, and a harness
// killed mid-stall by SIGTERM or SIGKILL leaves no thread of the target
// stopped (/proc/PID/task/*/stat) and no server it started running. Not
// under the sanitizers: gRPC is not instrumented (like tests/server).
#include "tests/ycsb/counters.h"

namespace mvkv::ycsb {
namespace {

using mvkv::testing::NewTempDir;
using mvkv::testing::Runfile;
using testing_counters::Counters;
using testing_counters::ReadFile;
using testing_counters::StateOf;
using testing_counters::StoppedThreads;
using testing_counters::WaitFor;

struct Harness {
  pid_t pid = -1;
  std::string out;
  std::string Err() const { return ReadFile(out + ".err"); }
};

// Starts ycsb with its own mvkv_server for load, freezing threads of `c`.
Harness StartYcsb(const Counters& c, const std::string& stall, const std::string& seconds) {
  Harness h;
  h.out = NewTempDir("ycsb") + "/stdout";
  h.pid = testing::SpawnProcess(
      {Runfile("bench/ycsb/ycsb"), "--workload=c",
       "--start_server=" + Runfile("server/mvkv_server"), "--records=200",
       "--threads=1", "--rate=500", "--seconds=" + seconds,
       absl::StrCat("--server_pid=", c.pid()), "--stall=" + stall},
      h.out);
  return h;
}

// Waits (bounded) for `pid` to exit; its wait status, or -1 (then SIGKILLs).
int WaitExit(pid_t pid, absl::Duration timeout = absl::Seconds(60)) {
  int status = 0;
  if (WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout)) return status;
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

// Children of `parent` (from /proc/*/stat's ppid).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    const std::string s = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    const size_t close = s.rfind(')');
    int ppid = 0;
    if (close != std::string::npos &&
        absl::SimpleAtoi(std::string(s.substr(close + 4, s.find(' ', close + 4) - close - 4)),
                         &ppid) &&
        ppid == parent) {
      out.push_back(pid);
    }
  }
  closedir(d);
  return out;
}

bool GoneOrZombie(pid_t pid) {
  const std::string s = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t close = s.rfind(')');
  return s.empty() || (close != std::string::npos && s[close + 2] == 'Z');
}

TEST(YcsbThreadStallTest, HarnessFreezesTheChosenThreadForItsWindow) {
  Counters c(3);
  Harness h = StartYcsb(c, "thread:1@0.3s+1.5s:name=counter-1", "4");
  ASSERT_TRUE(WaitFor([&] { return StateOf(c.pid(), c.tid(1)) == 't'; }, absl::Seconds(60)))
      << h.Err();
  const uint64_t at_freeze = c.count(1);
  ASSERT_TRUE(c.OthersAdvance(1, 300));
  EXPECT_EQ(c.count(1), at_freeze);
  EXPECT_EQ(StoppedThreads(c.pid()), std::vector<pid_t>{c.tid(1)});
  // Released at T+D, while the run goes on.
  EXPECT_TRUE(WaitFor([&] { return c.count(1) > at_freeze + 100; }));
  EXPECT_TRUE(StoppedThreads(c.pid()).empty());
  const int status = WaitExit(h.pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << h.Err();
  const std::string out = ReadFile(h.out);
  EXPECT_TRUE(absl::StrContains(out, absl::StrCat(c.tid(1), ":counter-1"))) << out;
  EXPECT_TRUE(absl::StrContains(out, "[STALL], Seconds, 1.")) << out;
}

class KilledMidStallTest : public ::testing::TestWithParam<int> {};

TEST_P(KilledMidStallTest, LeavesNoStoppedThreadAndNoServerBehind) {
  const int sig = GetParam();
  Counters c(3);
  Harness h = StartYcsb(c, "thread:2@0.2s:name=counter-[12]", "120");
  ASSERT_TRUE(WaitFor([&] { return StoppedThreads(c.pid()).size() == 2; }, absl::Seconds(60)))
      << h.Err();
  const std::vector<pid_t> servers = ChildrenOf(h.pid);
  ASSERT_EQ(servers.size(), 1u) << "the mvkv_server ycsb started";
  const uint64_t at_kill = c.count(2);
  ASSERT_EQ(kill(h.pid, sig), 0);
  const int status = WaitExit(h.pid);
  if (sig == SIGTERM) {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM) << status;
    EXPECT_TRUE(absl::StrContains(h.Err(), "resuming frozen threads")) << h.Err();
  } else {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  }
  EXPECT_TRUE(WaitFor([&] { return StoppedThreads(c.pid()).empty(); }, absl::Seconds(5)))
      << "threads left stopped";
  EXPECT_TRUE(WaitFor([&] { return c.count(2) > at_kill + 100; }));
  EXPECT_TRUE(WaitFor([&] { return GoneOrZombie(servers[0]); }, absl::Seconds(20)))
      << "mvkv_server " << servers[0] << " still running";
}

INSTANTIATE_TEST_SUITE_P(Signals, KilledMidStallTest, ::testing::Values(SIGTERM, SIGKILL),
                         [](const auto& info) { return std::string(strsignal(info.param)); });

}  // namespace
}  // namespace mvkv::ycsb
