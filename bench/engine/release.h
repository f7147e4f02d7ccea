// bench/engine/release.h — engine_bench's `release` scenario: commit latency
// while the engine releases snapshots that outlive Options::max_snapshot_age,
// against the same load without releases, in the same process.
//
// Each variant opens a fresh database with max_snapshot_age set, loads
// `keys` keys, and runs for `seconds`:
//   - one committer: autocommit Put of 8-byte values on uniformly random
//     keys (std::mt19937_64 seeded 11) at `rate` Puts per second, open loop:
//     each Put's latency runs from when it was due, so a writer stall counts
//     once for every Put it delays (no coordinated omission);
//   - one holder: every `period` it opens a snapshot transaction, reads one
//     key (registering the snapshot) and holds it, then reads again and
//     drops it. With releases it holds 2 x max_age, so the writer releases
//     it (the second read fails); without, max_age / 2, so nothing is
//     released and the registry sees the same churn.
// Variants alternate (without, with, without, ...) `rounds` times each.
//
// Thread safety: RunRelease is called from one thread; it starts its own.
#ifndef MVKV_BENCH_ENGINE_RELEASE_H_
#define MVKV_BENCH_ENGINE_RELEASE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mvkv::bench {

struct ReleaseOptions {
  int64_t keys = 1000000;
  double seconds = 5;
  double rate = 20000;  // Puts per second, below the engine's rate either way
  absl::Duration max_age = absl::Milliseconds(50);
  absl::Duration period = absl::Seconds(1);
  int rounds = 2;
};

struct ReleaseRun {
  bool releasing = false;  // the variant whose snapshots outlive max_age
  int64_t commits = 0;
  double seconds = 0;
  int64_t releases = 0;  // Stats::aborts_snapshot_too_old at the end
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;  // per Put, from when due
};

// Runs the variants (see the file comment). InvalidArgument for keys < 1,
// seconds <= 0, rate <= 0, rounds < 1 or a non-positive duration.
absl::StatusOr<std::vector<ReleaseRun>> RunRelease(const ReleaseOptions& options);

}  // namespace mvkv::bench

#endif  // MVKV_BENCH_ENGINE_RELEASE_H_
