#include "common/retry.h"

#include <algorithm>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mvkv::common {

absl::Status Validate(const RetryPolicy& policy) {
  if (policy.max_attempts < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_attempts must be at least 1, got ", policy.max_attempts));
  }
  if (policy.initial_backoff < absl::ZeroDuration() ||
      policy.max_backoff < policy.initial_backoff) {
    return absl::InvalidArgumentError(absl::StrCat(
        "back-off must satisfy 0 <= initial_backoff <= max_backoff, got ",
        absl::FormatDuration(policy.initial_backoff), " and ",
        absl::FormatDuration(policy.max_backoff)));
  }
  return absl::OkStatus();
}

bool IsSnapshotTooOld(const absl::Status& status) {
  return status.code() == absl::StatusCode::kOutOfRange &&
         absl::StartsWith(status.message(),
                          absl::string_view(kSnapshotTooOldPrefix.data(),
                                            kSnapshotTooOldPrefix.size()));
}

bool IsRetryable(const absl::Status& status) {
  return absl::IsAborted(status) || IsSnapshotTooOld(status);
}

absl::Status SnapshotTooOldError(std::string_view why) {
  return absl::OutOfRangeError(absl::StrCat(
      absl::string_view(kSnapshotTooOldPrefix.data(),
                        kSnapshotTooOldPrefix.size()),
      ": ", absl::string_view(why.data(), why.size())));
}

absl::Duration Backoff(const RetryPolicy& policy, int attempt) {
  // Not absl::BitGen: Debian's Abseil seeds it from a pool behind spin locks
  // that TSan cannot see through.
  thread_local std::minstd_rand rng(std::random_device{}());
  const int doublings = std::clamp(attempt - 1, 0, 30);
  const absl::Duration cap =
      std::min(policy.max_backoff, policy.initial_backoff * (1 << doublings));
  const int64_t cap_ns = absl::ToInt64Nanoseconds(cap);
  if (cap_ns <= 0) return absl::ZeroDuration();
  std::uniform_int_distribution<int64_t> jitter(0, cap_ns - 1);
  return absl::Nanoseconds(jitter(rng));
}

absl::Status GaveUp(const RetryPolicy& policy, const absl::Status& last) {
  return absl::Status(last.code(),
                      absl::StrCat("gave up after ", policy.max_attempts,
                                   " attempts: ", last.message()));
}

}  // namespace mvkv::common
