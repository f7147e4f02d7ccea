// A follower stopped with SIGSTOP while the leader takes a write load many
// times its log budget (--max_log_bytes), then resumed with SIGCONT.
//
// Properties checked:
//   * the leader's memory and its data directory stay bounded while
//     kWritten bytes are committed with the follower stopped: a stopped
//     peer's socket does not make the leader queue (or keep in its log) what
//     it cannot send. Baseline in the same run: the same load first with
//     every follower up (the leader's RSS grows by tens of MiB then: glibc
//     arenas, libraft's entry cache, the engine's versions), then the stall;
//     the RSS growth over the stall must stay under kMemoryBoundKb and the
//     directory under kDiskBound (64 and 40 MiB: half of the 128 MiB the
//     stall writes; growth seen 13-51 MiB with the bound, 120 MiB without
//     TCP_USER_TIMEOUT);
//   * the resumed follower catches up (by snapshot: its log tail was
//     compacted away) and its full scan then equals the leader's.
// Values are deterministic (key i, round r); no randomness to seed.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"

namespace mvkv::testing {
namespace {

constexpr int kValueBytes = 16 << 10;
constexpr int kKeys = 256;                        // 4 MiB live
constexpr uint64_t kWarmup = uint64_t{64} << 20;   // followers up
constexpr uint64_t kWritten = uint64_t{128} << 20;  // during the stall
constexpr long kMemoryBoundKb = 64 << 10;           // 64 MiB
constexpr uint64_t kDiskBound = uint64_t{40} << 20;

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

TEST(StallTest, StoppedFollowerDoesNotGrowTheLeader) {
  ProcessCluster cluster(3, /*persistent=*/true,
                         {"--max_log_bytes=4194304", "--snapshot_threshold=256"});
  ASSERT_TRUE(cluster.StartAll().ok());
  const int leader = cluster.WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % cluster.size();
  auto client = cluster.NodeClient(leader);
  auto put = [&](int i, int round) {
    std::string value(kValueBytes, static_cast<char>('a' + round % 26));
    absl::StrAppend(&value, round);
    return client->Put(absl::StrCat("big/", 1000 + i), value).status();
  };
  long rss_peak = 0;
  uint64_t disk_peak = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(300);
  auto load = [&](uint64_t bytes, int* round) {
    const uint64_t rounds = bytes / (uint64_t{kValueBytes} * kKeys);
    for (uint64_t r = 0; r < rounds; ++r, ++*round) {
      for (int i = 0; i < kKeys; ++i) {
        absl::Status s = put(i, *round);
        ASSERT_TRUE(s.ok()) << s;
      }
      rss_peak = std::max(rss_peak, cluster.process(leader)->RssKb());
      disk_peak = std::max(disk_peak, DirBytes(cluster.data_dir(leader)));
      ASSERT_LT(absl::Now(), deadline) << "load too slow";
    }
  };
  int round = 0;
  const long rss_start = cluster.process(leader)->RssKb();
  load(kWarmup, &round);
  if (HasFatalFailure()) return;
  const long rss_before = cluster.process(leader)->RssKb();
  std::fprintf(stderr, "baseline: %llu MiB with followers up: RSS %ld -> %ld "
               "KiB, data dir peak %llu KiB\n",
               static_cast<unsigned long long>(kWarmup >> 20), rss_start,
               rss_before, static_cast<unsigned long long>(disk_peak >> 10));
  rss_peak = rss_before;
  disk_peak = 0;
  ASSERT_EQ(kill(cluster.process(follower)->pid(), SIGSTOP), 0);
  load(kWritten, &round);
  if (HasFatalFailure()) return;
  std::fprintf(stderr,
               "written %llu MiB during the stall; leader RSS %ld -> peak %ld "
               "KiB (+%ld), data dir peak %llu KiB\n",
               static_cast<unsigned long long>(kWritten >> 20), rss_before,
               rss_peak, rss_peak - rss_before,
               static_cast<unsigned long long>(disk_peak >> 10));
  EXPECT_LT(rss_peak - rss_before, kMemoryBoundKb);
  EXPECT_LT(disk_peak, kDiskBound);

  ASSERT_EQ(kill(cluster.process(follower)->pid(), SIGCONT), 0);
  auto leader_scan = client->Scan("", "");
  ASSERT_TRUE(leader_scan.ok()) << leader_scan.status();
  auto follower_client = cluster.NodeClient(follower);
  const absl::Time caught_up_by = absl::Now() + absl::Seconds(60);
  // Bound: the deadline.
  while (true) {
    auto scan = follower_client->Scan("", "", 0, client::Consistency::kStale);
    if (scan.ok() && scan->snapshot_ts >= leader_scan->snapshot_ts) {
      ASSERT_EQ(scan->kvs.size(), leader_scan->kvs.size());
      for (std::size_t i = 0; i < scan->kvs.size(); ++i) {
        EXPECT_EQ(scan->kvs[i].key, leader_scan->kvs[i].key);
        EXPECT_EQ(scan->kvs[i].value, leader_scan->kvs[i].value);
        EXPECT_EQ(scan->kvs[i].commit_ts, leader_scan->kvs[i].commit_ts);
      }
      break;
    }
    ASSERT_LT(absl::Now(), caught_up_by) << "the follower never caught up";
    absl::SleepFor(absl::Milliseconds(50));
  }
}

}  // namespace
}  // namespace mvkv::testing
