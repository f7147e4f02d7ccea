// ReadLease: the arithmetic and the invalidation of the leader's read lease
// (read_lease.h). Deterministic: times are given, not read.
//   * a committed entry stamped at s makes the lease hold exactly until
//     s + T * kMargin (T_min, not the randomized timeout);
//   * an older stamp never shortens it; a newer one extends it;
//   * Invalidate ends it at once, and entries stamped before it (e.g. before
//     a raft_transfer or a membership change) never extend it again;
//   * a disabled lease (read_lease false, or no data dir) never holds.
#include "replication/internal/read_lease.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace mvkv::replication_internal {
namespace {

constexpr int64_t kMs = 1000 * 1000;

ReadLease::Stamp At(const ReadLease& lease, int64_t start_ns) {
  ReadLease::Stamp s = lease.Take(/*term=*/7);
  s.start_ns = start_ns;
  return s;
}

TEST(ReadLeaseTest, HoldsUntilTheStampPlusHalfTheElectionTimeout) {
  ReadLease lease(absl::Seconds(1), /*enabled=*/true);
  EXPECT_EQ(lease.duration_ns(), 500 * kMs);
  EXPECT_FALSE(lease.Holds(0));
  const int64_t s = 10'000 * kMs;
  lease.Committed(At(lease, s));
  EXPECT_TRUE(lease.Holds(s));
  EXPECT_TRUE(lease.Holds(s + 500 * kMs - 1));
  EXPECT_FALSE(lease.Holds(s + 500 * kMs));
  EXPECT_EQ(lease.Remaining(s + 100 * kMs), 400 * kMs);
}

TEST(ReadLeaseTest, AnOlderStampNeverShortensIt) {
  ReadLease lease(absl::Seconds(1), true);
  const int64_t s = 10'000 * kMs;
  const ReadLease::Stamp early = At(lease, s);
  const ReadLease::Stamp late = At(lease, s + 300 * kMs);
  lease.Committed(late);
  lease.Committed(early);  // committed after the later one: no effect
  EXPECT_TRUE(lease.Holds(s + 799 * kMs));
  EXPECT_FALSE(lease.Holds(s + 800 * kMs));
}

TEST(ReadLeaseTest, InvalidateEndsItAndStaleStampsCannotRevive) {
  ReadLease lease(absl::Seconds(1), true);
  const int64_t s = 10'000 * kMs;
  // Stamped before a transfer (or a membership change) began...
  const ReadLease::Stamp before = At(lease, s);
  lease.Committed(before);
  ASSERT_TRUE(lease.Holds(s + kMs));
  lease.Invalidate();  // ... raft_transfer follows
  EXPECT_FALSE(lease.Holds(s + kMs));
  // ... committed after it: the target may lead already.
  lease.Committed(before);
  EXPECT_FALSE(lease.Holds(s + kMs));
  // An entry stamped after the invalidation extends it again.
  lease.Committed(At(lease, s + 2 * kMs));
  EXPECT_TRUE(lease.Holds(s + 3 * kMs));
}

TEST(ReadLeaseTest, DisabledNeverHolds) {
  ReadLease lease(absl::Seconds(1), /*enabled=*/false);
  EXPECT_FALSE(lease.enabled());
  lease.Committed(At(lease, 0));
  EXPECT_FALSE(lease.Holds(0));
}

TEST(ReadLeaseTest, StampsReadTheMonotonicClock) {
  ReadLease lease(absl::Seconds(1), true);
  const int64_t before = ReadLease::Now();
  const ReadLease::Stamp s = lease.Take(3);
  EXPECT_GE(s.start_ns, before);
  EXPECT_LE(s.start_ns, ReadLease::Now());
  EXPECT_EQ(s.term, 3u);
}

}  // namespace
}  // namespace mvkv::replication_internal
