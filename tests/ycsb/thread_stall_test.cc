// FrozenThreads and the thread selectors against a real multi-threaded
// process (tests/ycsb/counter_threads). Properties checked: freezing a
// chosen thread stops that thread only (its counter stops, the others' go
// on) and releasing — explicitly, by destruction, or by the tracer thread's
// end, as when the harness is SIGKILLed — resumes it; the selectors pick
// what they say. Random selection logs its seed (printed below). Tagged
// concurrent: ASan and TSan in CI (no gRPC here).
#include <thread>

#include "bench/ycsb/thread_freezer.h"
#include "tests/ycsb/counters.h"

namespace mvkv::ycsb {
namespace {

using testing_counters::Counters;
using testing_counters::StateOf;
using testing_counters::StoppedThreads;
using testing_counters::WaitFor;

TEST(ThreadFreezerTest, FreezesOnlyTheChosenThreadAndReleaseResumesIt) {
  Counters c(3);
  absl::StatusOr<std::unique_ptr<FrozenThreads>> frozen =
      FrozenThreads::Freeze(c.pid(), {c.tid(1)});
  ASSERT_TRUE(frozen.ok()) << frozen.status();
  EXPECT_EQ((*frozen)->stopped(), std::vector<pid_t>{c.tid(1)});
  EXPECT_EQ(StateOf(c.pid(), c.tid(1)), 't');
  const uint64_t at_freeze = c.count(1);
  ASSERT_TRUE(c.OthersAdvance(1, 500));  // the others run on
  EXPECT_EQ(c.count(1), at_freeze);      // the frozen one does not
  EXPECT_EQ(StoppedThreads(c.pid()), std::vector<pid_t>{c.tid(1)});

  EXPECT_TRUE((*frozen)->Release().empty());
  EXPECT_TRUE(WaitFor([&] { return c.count(1) > at_freeze + 100; }));
  EXPECT_TRUE(StoppedThreads(c.pid()).empty());
}

TEST(ThreadFreezerTest, DestroyingTheFreezeReleasesToo) {
  Counters c(2);
  uint64_t at_freeze = 0;
  {
    auto frozen = FrozenThreads::Freeze(c.pid(), {c.tid(0), c.tid(1)}).value();
    at_freeze = c.count(0);
    EXPECT_EQ(StoppedThreads(c.pid()).size(), 2u);
  }
  EXPECT_TRUE(WaitFor([&] { return c.count(0) > at_freeze + 100; }));
  EXPECT_TRUE(StoppedThreads(c.pid()).empty());
}

// Kept reachable (no leak report) and never destroyed: see below.
FrozenThreads* never_released = nullptr;

TEST(ThreadFreezerTest, TracerThreadEndingResumesTheFrozenThread) {
  // What a harness killed with SIGKILL leaves: the kernel detaches a dead
  // tracer's tracees. Here the tracer is a thread that ends holding the
  // freeze (its FrozenThreads is never released nor destroyed).
  Counters c(2);
  uint64_t at_freeze = 0;
  std::thread([&] {
    auto frozen = FrozenThreads::Freeze(c.pid(), {c.tid(1)}).value();
    at_freeze = c.count(1);
    EXPECT_EQ(StateOf(c.pid(), c.tid(1)), 't');
    never_released = frozen.release();
  }).join();
  EXPECT_TRUE(WaitFor([&] { return c.count(1) > at_freeze + 100; }));
  EXPECT_TRUE(StoppedThreads(c.pid()).empty());
}

TEST(ThreadFreezerTest, PtraceChecksNameTheProblem) {
  EXPECT_EQ(CheckPtrace(getpid()).code(), absl::StatusCode::kFailedPrecondition);
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  EXPECT_EQ(CheckPtrace(gone).code(), absl::StatusCode::kNotFound);
  Counters c(1);
  EXPECT_TRUE(CheckPtrace(c.pid()).ok());
  EXPECT_TRUE(StoppedThreads(c.pid()).empty());  // the probe stops nothing
  // A thread someone else traces cannot be frozen, and the error says why.
  auto first = FrozenThreads::Freeze(c.pid(), {c.tid(0)}).value();
  std::thread([&] {
    absl::StatusOr<std::unique_ptr<FrozenThreads>> second =
        FrozenThreads::Freeze(c.pid(), {c.tid(0)});
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_TRUE(absl::StrContains(second.status().message(), "already traced"))
        << second.status();
  }).join();
  EXPECT_NE(PtraceDiagnosis(c.pid(), c.tid(0), EPERM).find("ptrace"), std::string::npos);
}

TEST(ProcTasksTest, SelectorsPickWhatTheySay) {
  Counters c(3, /*hot=*/2);
  const std::vector<TaskInfo> before = ListTasks(c.pid()).value();
  ASSERT_GE(before.size(), 4u);  // main + 3 counters (+ a sanitizer's own)
  // Wait for CPU time to show (clock ticks are 10 ms).
  ASSERT_TRUE(WaitFor([&] {
    return ReadTask(c.pid(), c.tid(2)).value().cpu_ticks >=
           CpuTicks(before).at(c.tid(2)) + 20;
  }));
  const std::vector<TaskInfo> now = ListTasks(c.pid()).value();
  ThreadSelector busy;
  auto b = SelectThreads(now, busy, 1, CpuTicks(before), 0).value();
  EXPECT_EQ(b[0].comm, "counter-2");

  ThreadSelector name{ThreadSelector::kName, "counter-[01]"};
  auto n = SelectThreads(now, name, 2, {}, 0).value();
  EXPECT_EQ(DescribeTasks(n), absl::StrCat(c.tid(0), ":counter-0,", c.tid(1), ":counter-1"));
  absl::StatusOr<std::vector<TaskInfo>> too_many = SelectThreads(now, name, 3, {}, 0);
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(too_many.status().message(), "2 of them named like"))
      << too_many.status();

  ThreadSelector random{ThreadSelector::kRandom};
  const uint64_t seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  std::printf("random selection seed=%llu\n", static_cast<unsigned long long>(seed));
  const std::string once = DescribeTasks(SelectThreads(now, random, 2, {}, seed).value());
  EXPECT_EQ(DescribeTasks(SelectThreads(now, random, 2, {}, seed).value()), once);
  EXPECT_EQ(SelectThreads(now, random, now.size() + 1, {}, seed).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mvkv::ycsb
