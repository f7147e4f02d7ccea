// A follower stalled (its loop thread blocked, its sockets open, as under
// SIGSTOP) while the leader keeps committing large values: the leader's
// in-memory log stays within its byte budget, the follower catches up by a
// snapshot when it resumes, and ends identical to the leader. libraft's heap
// (all three nodes) is sampled and logged; phase 2 measures the bound with
// real processes and SIGSTOP.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "replication/node.h"
#include "tests/replication/cluster.h"

extern "C" {
#include <raft.h>
}

namespace mvkv {
namespace {

using testing_support::Cluster;
using testing_support::ClusterOptions;
using testing_support::FullState;

// libraft's heap, counted (bytes as malloc_usable_size reports them).
std::atomic<int64_t> raft_heap_bytes{0};

void Count(void* p, int sign) {
  if (p != nullptr) raft_heap_bytes.fetch_add(sign * int64_t(malloc_usable_size(p)));
}
void* CountedMalloc(void*, size_t n) {
  void* p = std::malloc(n);
  Count(p, 1);
  return p;
}
void CountedFree(void*, void* p) {
  Count(p, -1);
  std::free(p);
}
void* CountedCalloc(void*, size_t n, size_t size) {
  void* p = std::calloc(n, size);
  Count(p, 1);
  return p;
}
void* CountedRealloc(void*, void* p, size_t n) {
  Count(p, -1);
  void* q = std::realloc(p, n);
  Count(q != nullptr ? q : p, 1);
  return q;
}
void* CountedAlignedAlloc(void*, size_t alignment, size_t n) {
  void* p = std::aligned_alloc(alignment, (n + alignment - 1) / alignment * alignment);
  Count(p, 1);
  return p;
}
void CountedAlignedFree(void*, size_t, void* p) {
  Count(p, -1);
  std::free(p);
}
raft_heap counted_heap{nullptr,       CountedMalloc,       CountedFree,
                       CountedCalloc, CountedRealloc,      CountedAlignedAlloc,
                       CountedAlignedFree};

TEST(StallTest, AStalledFollowerCatchesUpBySnapshotAndTheLeaderStaysBounded) {
  raft_heap_set(&counted_heap);  // before any node allocates
  ClusterOptions options;
  options.snapshot_threshold = 64;
  options.snapshot_trailing = 8;
  options.max_log_bytes = 2 << 20;
  options.peer_send_timeout = absl::Seconds(1);
  // By hand, to see what the timeout buys: MVKV_STALL_PEER_TIMEOUT_MS=25000.
  if (const char* ms = std::getenv("MVKV_STALL_PEER_TIMEOUT_MS")) {
    options.peer_send_timeout = absl::Milliseconds(std::atoi(ms));
  }
  Cluster cluster(options);
  absl::StatusOr<uint64_t> elected = cluster.StartAndElect();
  ASSERT_TRUE(elected.ok()) << elected.status();
  const uint64_t leader = *elected;
  const uint64_t stalled = cluster.Follower(leader);
  Database& ldb = cluster.node(leader)->db();
  const std::string value(64 << 10, 'v');
  constexpr absl::Duration kStall = absl::Seconds(8);
  cluster.node(stalled)->StallForTesting(kStall);
  const absl::Time stall_end = absl::Now() + kStall;
  std::atomic<int> commits{0};
  std::thread writer([&] {
    // Bound: the stall's end.
    for (int i = 0; absl::Now() < stall_end - absl::Milliseconds(500); ++i) {
      if (ldb.Put(absl::StrCat("key", i % 64), value).ok()) ++commits;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  uint64_t max_log_bytes = 0;
  int64_t max_heap = 0;
  while (absl::Now() < stall_end) {
    const replication::ClusterInfo info = cluster.node(leader)->Info();
    max_log_bytes = std::max(max_log_bytes, info.log_bytes);
    max_heap = std::max(max_heap, raft_heap_bytes.load());
    std::printf("t-%5.1fs commits=%d leader log: %llu entries %llu bytes; "
                "raft heap (3 nodes) %lld KiB\n",
                absl::ToDoubleSeconds(stall_end - absl::Now()), commits.load(),
                static_cast<unsigned long long>(info.log_entries),
                static_cast<unsigned long long>(info.log_bytes),
                static_cast<long long>(raft_heap_bytes.load() >> 10));
    absl::SleepFor(absl::Milliseconds(500));
  }
  writer.join();
  const uint64_t last = ldb.GetStats().visible_ts;
  std::printf("commits=%d (%d MiB); peak leader log %llu KiB; peak raft heap "
              "%lld MiB\n",
              commits.load(), static_cast<int>((int64_t(commits) * value.size()) >> 20),
              static_cast<unsigned long long>(max_log_bytes >> 10),
              static_cast<long long>(max_heap >> 20));
  ASSERT_GT(commits.load(), 64);
  // The byte budget: a snapshot once max_log_bytes were applied since the
  // last, a quarter of that kept after it; the log grows on while the
  // snapshot is streamed and written (a few milliseconds here), so allow
  // twice the budget.
  EXPECT_LE(max_log_bytes, 2 * options.max_log_bytes);
  ASSERT_TRUE(cluster.WaitForVisible(last, absl::Seconds(120)));
  EXPECT_EQ(FullState(cluster.node(stalled)->db()), FullState(ldb));
  EXPECT_GE(cluster.node(stalled)->Info().snapshots_installed, 1u);
}

}  // namespace
}  // namespace mvkv
