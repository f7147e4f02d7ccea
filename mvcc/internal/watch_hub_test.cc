// WatchHub: Reset, the entry point a replica's snapshot restore uses (every
// open watch — one blocked in Next included — ends as fallen behind, a
// start before the restored timestamp is "compacted", and commits after it
// flow to new watches); and a Next blocked (the test waits until it is
// registered as a sleeper) wakes for Cancel, RequestProgress and an append:
// woken by the appender when it waits alone, by the notifier when several do;
// the same for a WaitAny over several watches.
#include "mvcc/internal/watch_hub.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mvcc/internal/watch_core.h"

namespace mvkv::mvcc_internal {
namespace {

TEST(WatchHubTest, ResetEndsEveryWatchAndMovesTheOldestStart) {
  Options options;
  auto hub = std::make_shared<WatchHub>(options, /*last_ts=*/0);
  const DurableWrite w[] = {{"k", "v", false}};
  hub->Append(1, w);
  auto open = [&](uint64_t start_ts, uint64_t visible) {
    return WatchCore::Open(hub, WatchRange::Key("k"), start_ts, WatchOptions(),
                           1, visible);
  };
  auto current = open(kWatchFromNow, 1);
  ASSERT_TRUE(current.ok()) << current.status();
  auto behind = open(1, 1);
  ASSERT_TRUE(behind.ok()) << behind.status();
  absl::StatusOr<WatchEvent> blocked_result;
  std::thread blocked([&] {
    blocked_result = (*current)->Next(absl::Now() + absl::Seconds(30));
  });
  hub->Reset(100);  // the restored state is at 100
  blocked.join();
  EXPECT_TRUE(absl::IsResourceExhausted(blocked_result.status()))
      << blocked_result.status();
  EXPECT_EQ(WatchRestartTs(blocked_result.status()), 2u);
  EXPECT_TRUE(absl::IsResourceExhausted(
      (*behind)->Next(absl::InfinitePast()).status()));
  auto old = open(50, 100);
  ASSERT_TRUE(absl::IsOutOfRange(old.status())) << old.status();
  EXPECT_EQ(WatchRestartTs(old.status()), 101u);
  auto fresh = open(101, 100);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  hub->Append(101, w);
  absl::StatusOr<WatchEvent> e = (*fresh)->Next(absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->commit_ts, 101u);
  // A restore to the timestamp the buffer is already at still ends a
  // blocked watch (covered_ts does not move: only Reset's own wake-up).
  std::thread again([&] {
    blocked_result = (*fresh)->Next(absl::Now() + absl::Seconds(30));
  });
  while (!hub->events().HasWaiters()) std::this_thread::yield();
  hub->Reset(101);
  again.join();
  EXPECT_TRUE(absl::IsResourceExhausted(blocked_result.status()))
      << blocked_result.status();
  hub->Close();
}

// True if thread `tid` of this process is asleep (state S in /proc).
bool ThreadAsleep(pid_t tid) {
  std::ifstream stat(absl::StrCat("/proc/self/task/", tid, "/stat"));
  std::string line;
  std::getline(stat, line);
  const std::size_t paren = line.rfind(')');  // the name may hold spaces
  return paren != std::string::npos && paren + 2 < line.size() &&
         line[paren + 2] == 'S';
}

// A thread running one call that is expected to block (Next, WaitAny): its
// kernel tid, for Asleep(), and when the call returned.
class Sleeper {
 public:
  template <class Call>
  explicit Sleeper(Call call)
      : thread_([this, call = std::move(call)]() mutable {
          tid_.store(static_cast<pid_t>(syscall(SYS_gettid)));
          call();
          returned_ = absl::Now();
        }) {}
  ~Sleeper() {
    if (thread_.joinable()) thread_.join();
  }
  Sleeper(const Sleeper&) = delete;
  Sleeper& operator=(const Sleeper&) = delete;

  bool Asleep() const {
    const pid_t tid = tid_.load();
    return tid != 0 && ThreadAsleep(tid);
  }
  // Waits for the call to return; when it did.
  absl::Time Join() {
    thread_.join();
    return returned_;
  }

 private:
  std::atomic<pid_t> tid_{0};
  absl::Time returned_;  // written by thread_, read after the join
  std::thread thread_;   // last: it starts once the fields above exist
};

// True once `asleep()` held, trying for up to 30 s. Seen asleep once is
// enough: a spurious wake-up (the notifier's first pass wakes every sleeper)
// may take a sleeper out again before the poke, and then it re-checks and
// sleeps once more.
template <class Pred>
bool SeenAsleep(Pred asleep) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  bool slept = false;
  while (!(slept = asleep()) && absl::Now() < give_up) {
    std::this_thread::yield();
  }
  return slept;
}

// Runs `poke` once `watch` is asleep in Next (registered as a sleeper and
// in the kernel: so the poke must really wake it), returns what Next
// returned.
template <class Poke>
absl::StatusOr<WatchEvent> NextWokenBy(WatchHub& hub, WatchCore& watch,
                                       Poke poke) {
  absl::StatusOr<WatchEvent> result;
  // Woken, not timed out: Next would also return the event after the
  // deadline's wake-up, so the test checks it returned well before.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  Sleeper blocked([&] { result = watch.Next(deadline); });
  EXPECT_TRUE(SeenAsleep([&] {
    return hub.events().HasWaiters() && blocked.Asleep();
  })) << "Next never blocked";
  poke();
  EXPECT_LT(blocked.Join(), deadline) << "Next was not woken";
  return result;
}

TEST(WatchHubTest, ABlockedNextWakesForCancelProgressAndAppends) {
  auto hub = std::make_shared<WatchHub>(Options(), /*last_ts=*/0);
  uint64_t visible = 0;  // what the engine would pass: the last commit
  auto open = [&] {
    auto w = WatchCore::Open(hub, WatchRange::Key("k"), kWatchFromNow,
                             WatchOptions(), 1, visible);
    EXPECT_TRUE(w.ok()) << w.status();
    return std::move(*w);
  };
  auto w = open();
  const DurableWrite k[] = {{"k", "v", false}};
  auto e = NextWokenBy(*hub, *w, [&] { hub->Append(++visible, k); });
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->commit_ts, 1u);
  e = NextWokenBy(*hub, *w, [&] { w->RequestProgress(); });
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->type, WatchEvent::Type::kProgress);
  e = NextWokenBy(*hub, *w, [&] { w->Cancel(); });
  EXPECT_TRUE(absl::IsCancelled(e.status())) << e.status();
  auto closing = open();
  e = NextWokenBy(*hub, *closing, [&] { hub->Close(); });
  EXPECT_TRUE(absl::IsUnavailable(e.status())) << e.status();
}

// Property: with more consumers blocked in Next than the appender wakes
// itself (kDirectWakes), an append still wakes every one of them (the
// notifier's fan-out, which H1 keeps awake while they wait).
TEST(WatchHubTest, SeveralBlockedNextsAllWakeForOneAppend) {
  auto hub = std::make_shared<WatchHub>(Options(), /*last_ts=*/0);
  constexpr int kConsumers = WatchHub::kDirectWakes + 3;
  std::vector<std::unique_ptr<WatchCore>> watches;
  for (int i = 0; i < kConsumers; ++i) {
    auto w = WatchCore::Open(hub, WatchRange::Key("k"), kWatchFromNow,
                             WatchOptions(), 1, /*visible_ts=*/0);
    ASSERT_TRUE(w.ok()) << w.status();
    watches.push_back(std::move(*w));
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::vector<absl::StatusOr<WatchEvent>> results(kConsumers);
  std::vector<std::unique_ptr<Sleeper>> sleepers;
  for (int i = 0; i < kConsumers; ++i) {
    sleepers.push_back(std::make_unique<Sleeper>(
        [&, i] { results[i] = watches[i]->Next(deadline); }));
  }
  EXPECT_TRUE(SeenAsleep([&] {
    if (hub->events().Waiters() != kConsumers) return false;
    for (const auto& sleeper : sleepers) {
      if (!sleeper->Asleep()) return false;
    }
    return true;
  })) << "not every Next blocked";
  const DurableWrite k[] = {{"k", "v", false}};
  hub->Append(1, k);
  std::vector<absl::Time> returned;
  for (auto& sleeper : sleepers) returned.push_back(sleeper->Join());
  for (int i = 0; i < kConsumers; ++i) {
    ASSERT_TRUE(results[i].ok())
        << "consumer " << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->commit_ts, 1u) << "consumer " << i;
    EXPECT_LT(returned[i], deadline) << "consumer " << i << " was not woken";
  }
  hub->Close();
}

// Property: a WaitAny asleep over several watches is woken by an append to
// one of them alone (by the appender: it is the only sleeper) and names just
// that one; beside a Next also asleep (more sleepers than kDirectWakes: the
// notifier's fan-out wakes them) it wakes just the same.
TEST(WatchHubTest, ABlockedWaitAnyWakesForAnAppendToOneOfItsWatches) {
  auto hub = std::make_shared<WatchHub>(Options(), /*last_ts=*/0);
  std::vector<std::unique_ptr<WatchCore>> watches;
  std::vector<WatchCore*> cores;
  for (const char* key : {"a", "b", "c", "d"}) {
    auto w = WatchCore::Open(hub, WatchRange::Key(key), kWatchFromNow,
                             WatchOptions(), 1, /*visible_ts=*/0);
    ASSERT_TRUE(w.ok()) << w.status();
    watches.push_back(std::move(*w));
    cores.push_back(watches.back().get());
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  // Sleepers: WaitAny over a..c, and (second round) a Next on d.
  auto run = [&](bool with_next, const DurableWrite& write, uint64_t ts) {
    std::vector<std::size_t> ready;
    absl::Status status;
    absl::StatusOr<WatchEvent> next_result;
    Sleeper waiter([&] {
      status = WatchCore::WaitAny(absl::MakeConstSpan(cores).subspan(0, 3),
                                  deadline, &ready);
    });
    std::unique_ptr<Sleeper> next;
    if (with_next) {
      next = std::make_unique<Sleeper>(
          [&] { next_result = cores[3]->Next(deadline); });
    }
    const uint32_t sleepers = with_next ? 2 : 1;
    EXPECT_TRUE(SeenAsleep([&] {
      return hub->events().Waiters() == sleepers && waiter.Asleep() &&
             (next == nullptr || next->Asleep());
    })) << "WaitAny (or Next) never blocked";
    const DurableWrite w[] = {write};
    hub->Append(ts, w);
    EXPECT_LT(waiter.Join(), deadline) << "WaitAny was not woken";
    EXPECT_TRUE(status.ok()) << status;
    if (next != nullptr) {
      // The append was not to d: d's Next sleeps on; end it.
      const DurableWrite d[] = {{"d", "v", false}};
      hub->Append(ts + 1, d);
      EXPECT_LT(next->Join(), deadline) << "Next was not woken";
      EXPECT_TRUE(next_result.ok()) << next_result.status();
    }
    return ready;
  };
  EXPECT_EQ(run(false, {"b", "v", false}, 1), std::vector<std::size_t>({1}));
  ASSERT_TRUE(cores[1]->Next(absl::InfinitePast()).ok());
  EXPECT_EQ(run(true, {"c", "v", false}, 2), std::vector<std::size_t>({2}));
  hub->Close();
}

}  // namespace
}  // namespace mvkv::mvcc_internal
