#include "common/retry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mvkv::common {
namespace {

using ::testing::HasSubstr;

TEST(RetryTest, RetriesConflictsAndSnapshotTooOldOnly) {
  EXPECT_TRUE(IsRetryable(absl::AbortedError("conflict")));
  EXPECT_TRUE(IsRetryable(SnapshotTooOldError("released")));
  EXPECT_TRUE(IsSnapshotTooOld(SnapshotTooOldError("released")));
  // OUT_OF_RANGE for other reasons (a snapshot_ts the server cannot serve).
  EXPECT_FALSE(IsRetryable(absl::OutOfRangeError("snapshot_ts 5 cannot")));
  EXPECT_FALSE(IsRetryable(absl::InvalidArgumentError("bad key")));
  EXPECT_FALSE(IsRetryable(absl::UnavailableError("down")));
  EXPECT_FALSE(IsRetryable(absl::OkStatus()));
}

TEST(RetryTest, RefusesAPolicyThatCannotRun) {
  EXPECT_THAT(Validate({.max_attempts = 0}).message(),
              HasSubstr("max_attempts must be at least 1, got 0"));
  EXPECT_EQ(Validate({.max_attempts = 1,
                      .initial_backoff = absl::Milliseconds(2),
                      .max_backoff = absl::Milliseconds(1)})
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Validate(RetryPolicy()).ok());
}

TEST(RetryTest, BackoffIsFullJitterUnderADoublingCap) {
  const RetryPolicy policy{.max_attempts = 10,
                           .initial_backoff = absl::Microseconds(100),
                           .max_backoff = absl::Microseconds(350)};
  for (int attempt = 1; attempt <= 6; ++attempt) {
    const absl::Duration cap = std::min(
        absl::Microseconds(100) * (1 << (attempt - 1)), absl::Microseconds(350));
    absl::Duration longest = absl::ZeroDuration();
    for (int i = 0; i < 200; ++i) {
      const absl::Duration d = Backoff(policy, attempt);
      EXPECT_GE(d, absl::ZeroDuration());
      EXPECT_LT(d, cap) << "attempt " << attempt;
      longest = std::max(longest, d);
    }
    // Jitter spreads over the whole interval, not just its bottom.
    EXPECT_GT(longest, cap / 2) << "attempt " << attempt;
  }
}

TEST(RetryTest, RunsUntilSuccessOrANonRetryableErrorOrTheLimit) {
  const RetryPolicy policy{.max_attempts = 4,
                           .initial_backoff = absl::ZeroDuration(),
                           .max_backoff = absl::ZeroDuration()};
  int calls = 0;
  absl::Status s = Retry(policy, [&] {
    return ++calls < 3 ? absl::AbortedError("conflict") : absl::OkStatus();
  });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(calls, 3);

  calls = 0;
  s = Retry(policy, [&] {
    ++calls;
    return absl::InvalidArgumentError("bad");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);

  calls = 0;
  absl::StatusOr<int> r = Retry(policy, [&]() -> absl::StatusOr<int> {
    ++calls;
    return absl::AbortedError("conflict on key \"k\"");
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(r.status().message(),
              HasSubstr("gave up after 4 attempts: conflict on key"));
  EXPECT_EQ(calls, 4);
}

}  // namespace
}  // namespace mvkv::common
