// The one retry policy for transactions, shared by the engine
// (Database::Transact), the server (CompareAndCommit's internal retries) and
// the client library (Client::Transact).
//
// A transaction is retried from scratch, as a new transaction with a fresh
// snapshot, when it failed with a status that says a new attempt may
// succeed (IsRetryable):
//   * ABORTED: a conflict with another commit;
//   * snapshot too old: OUT_OF_RANGE whose message starts with
//     kSnapshotTooOldPrefix (the engine released the snapshot; a new one is
//     fine). Every layer spells the error that way, so the rule reads the
//     same in process and across the wire.
// Any other status ends the loop at once. Between attempts the caller waits
// Backoff(): "full jitter" exponential back-off, uniform in
// [0, min(max_backoff, initial_backoff * 2^(attempt - 1))) after failed
// attempt number `attempt` (1-based), which spreads rivals that conflicted
// with each other. After max_attempts failed attempts the result is the
// last error, with its code, and a message saying how many attempts were
// made.
//
// Thread safety: everything here is thread-safe; Retry() and Backoff() use a
// thread-local random source.
#ifndef MVKV_COMMON_RETRY_H_
#define MVKV_COMMON_RETRY_H_

#include <cstdint>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mvkv::common {

inline constexpr std::string_view kSnapshotTooOldPrefix = "snapshot too old";

struct RetryPolicy {
  // Attempts in all, >= 1 (1 = no retry).
  int max_attempts = 16;
  // Bounds of the back-off before the second attempt and of every later one.
  absl::Duration initial_backoff = absl::Microseconds(20);
  absl::Duration max_backoff = absl::Milliseconds(10);
};

// InvalidArgument (saying which field) for max_attempts < 1, a negative
// back-off, or initial_backoff > max_backoff.
absl::Status Validate(const RetryPolicy& policy);

// True for the statuses a new attempt may cure (see the file comment).
bool IsRetryable(const absl::Status& status);

// The snapshot-too-old error: OUT_OF_RANGE, "snapshot too old: <why>".
absl::Status SnapshotTooOldError(std::string_view why);
bool IsSnapshotTooOld(const absl::Status& status);

// The wait after failed attempt `attempt` (1-based); see the file comment.
absl::Duration Backoff(const RetryPolicy& policy, int attempt);

// `last` (the final attempt's error) with the attempt count prepended to its
// message, code unchanged: "gave up after N attempts: <message>".
absl::Status GaveUp(const RetryPolicy& policy, const absl::Status& last);

// Helpers of Retry: the status of an attempt's result.
inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <class T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Runs `attempt()` (returning absl::Status or absl::StatusOr<T>) until it
// succeeds, fails with a status that is not retryable, or max_attempts
// attempts have failed, sleeping Backoff() between attempts. REQUIRES:
// Validate(policy) is OK. Blocking (it sleeps); an asynchronous caller uses
// IsRetryable and Backoff with its own timer instead.
template <class Attempt>
auto Retry(const RetryPolicy& policy, Attempt attempt) -> decltype(attempt()) {
  for (int n = 1;; ++n) {
    auto result = attempt();
    const absl::Status& status = StatusOf(result);
    if (status.ok() || !IsRetryable(status)) return result;
    if (n >= policy.max_attempts) return GaveUp(policy, status);
    absl::SleepFor(Backoff(policy, n));
  }
}

}  // namespace mvkv::common

#endif  // MVKV_COMMON_RETRY_H_
