// WatchHub::Reset, the entry point a replica's snapshot restore uses: every
// open watch — one blocked in Next included — ends as fallen behind, a
// start before the restored timestamp is "compacted", and commits after it
// flow to new watches.
#include "mvcc/internal/watch_hub.h"

#include <memory>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mvcc/internal/watch_core.h"

namespace mvkv::mvcc_internal {
namespace {

TEST(WatchHubTest, ResetEndsEveryWatchAndMovesTheOldestStart) {
  Options options;
  auto hub = std::make_shared<WatchHub>(options, /*last_ts=*/0);
  const DurableWrite w[] = {{"k", "v", false}};
  hub->buffer().Append(1, w);
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
  hub->buffer().Append(101, w);
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

}  // namespace
}  // namespace mvkv::mvcc_internal
