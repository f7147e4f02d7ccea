// Crash safety of `mvkv_server --create`.
//
// Property: SIGKILL at any moment while `mvkv_server --data_dir=D --create
// --durability=sync` creates D never leaves a D that no later start accepts.
// After each kill, a plain start either serves (the creation had completed)
// or refuses with a message that says D holds no database yet or an
// incomplete creation, naming --create; then a --create start always serves,
// and keeps what it was given.
//
// Each trial kills a fresh creation after a random delay drawn from [0, T],
// T being the measured time from spawn to the "serving" log line of a
// --create start (so the delays cover process start-up, RocksDB's creation
// and mvkv's metadata). Seed: random unless MVKV_CRASH_SEED is set; logged
// (a failure names its trial and delay). The counts of what the plain starts
// found (complete / incomplete / no database) are logged too.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

constexpr int kTrials = 50;

uint64_t Seed() {
  if (const char* env = std::getenv("MVKV_CRASH_SEED")) {
    return std::strtoull(env, nullptr, 10);
  }
  return std::random_device()();
}

std::vector<std::string> CreateArgs(const std::string& dir) {
  return {testing::Runfile("server/mvkv_server"), "--listen=127.0.0.1:0",
          absl::StrCat("--data_dir=", dir), "--create", "--durability=sync"};
}

// Spawns a --create start of `dir` and SIGKILLs it after `delay`, or once it
// logs "serving" when delay is infinite. Returns the time from spawn to
// "serving", or to the kill.
absl::Duration CreateAndKill(const std::string& dir, absl::Duration delay) {
  const std::string out = testing::NewTempDir("create-log") + "/out";
  const absl::Time start = absl::Now();
  const pid_t pid = testing::SpawnProcess(CreateArgs(dir), out);
  EXPECT_GT(pid, 0);
  if (pid <= 0) return absl::ZeroDuration();
  absl::Duration took = delay;
  if (delay == absl::InfiniteDuration()) {
    const absl::Time deadline = start + absl::Seconds(60);
    while (!absl::StrContains(testing::ReadAll(out + ".err"), "\"serving\"") &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    took = absl::Now() - start;
  } else {
    absl::SleepFor(delay);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return took;
}

// A plain start refused `dir` for a reason that --create resolves, and said
// so.
bool IsCreatableRefusal(const std::string& log) {
  const bool names_create = absl::StrContains(log, "--create");
  return names_create && (absl::StrContains(log, "does not exist") ||
                          absl::StrContains(log, "holds no database") ||
                          absl::StrContains(log, "incomplete"));
}

TEST(CreateCrashTest, KilledCreationIsFinishedByTheNextCreate) {
  const uint64_t seed = Seed();
  std::printf("seed=%llu (set MVKV_CRASH_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const std::string base = testing::NewTempDir("create-crash");

  // T: spawn to "serving" of a --create start, the slower of two.
  absl::Duration window = absl::ZeroDuration();
  for (int i = 0; i < 2; ++i) {
    window = std::max(window, CreateAndKill(absl::StrCat(base, "/calibrate", i),
                                            absl::InfiniteDuration()));
  }
  std::printf("creation window T=%s\n", absl::FormatDuration(window).c_str());
  std::uniform_int_distribution<int64_t> delay_us(
      0, absl::ToInt64Microseconds(window));

  std::map<std::string, int> outcomes;  // what the plain start found
  for (int trial = 0; trial < kTrials; ++trial) {
    const std::string dir = absl::StrCat(base, "/trial", trial, "/db");
    ASSERT_EQ(mkdir(absl::StrCat(base, "/trial", trial).c_str(), 0755), 0);
    const absl::Duration delay = absl::Microseconds(delay_us(rng));
    CreateAndKill(dir, delay);
    SCOPED_TRACE(absl::StrCat("trial ", trial, ", killed after ",
                              absl::FormatDuration(delay)));

    auto plain = testing::ServerProcess::Start(
        {absl::StrCat("--data_dir=", dir), "--durability=sync"});
    if (plain.ok()) {
      ++outcomes["complete"];
      EXPECT_EQ((*plain)->Stop(SIGTERM), 0);
    } else {
      const std::string log(plain.status().message());
      EXPECT_TRUE(IsCreatableRefusal(log)) << log;
      ++outcomes[absl::StrContains(log, "incomplete") ? "incomplete"
                                                      : "no database"];
    }

    auto created = testing::ServerProcess::Start(
        {absl::StrCat("--data_dir=", dir), "--create", "--durability=sync"});
    if (!created.ok()) {
      ADD_FAILURE() << "--create after the kill: " << created.status();
      ++outcomes["refused by --create"];
      continue;
    }
    ASSERT_TRUE((*created)->NewClient()->Put("k", "v").ok());
    EXPECT_EQ((*created)->Stop(SIGTERM), 0);
    auto reopened = testing::ServerProcess::Start(
        {absl::StrCat("--data_dir=", dir), "--durability=sync"});
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    auto kv = (*reopened)->NewClient()->Get("k");
    ASSERT_TRUE(kv.ok()) << kv.status();
    EXPECT_EQ(kv->value, "v");
    EXPECT_EQ((*reopened)->Stop(SIGTERM), 0);
  }
  for (const auto& [outcome, count] : outcomes) {
    std::printf("killed creations found %s: %d\n", outcome.c_str(), count);
  }
}

}  // namespace
}  // namespace mvkv
