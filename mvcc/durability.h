// The persistence interface of the commit pipeline.
//
// mvcc/ declares it; storage/ implements it (RocksDB). The engine calls it
// from the commit pipeline's persist step only, so an implementation is called
// (PersistBatch, and Load before serving) by one thread at a time. A version becomes
// visible to readers only after PersistBatch() returned OK for its batch.
//
// Two kinds of PersistBatch failure: a storage failure (any error) stops all
// commits for good; a batch that was not committed but leaves the layer able
// to go on (BatchNotCommittedError, e.g. a replicated layer whose node lost
// its leadership) fails only that batch's commits, and the engine takes its
// versions back out.
#ifndef MVKV_MVCC_DURABILITY_H_
#define MVKV_MVCC_DURABILITY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace mvkv {

// One key written by a committed transaction.
struct DurableWrite {
  std::string_view key;
  std::string_view value;  // empty for a tombstone
  bool tombstone = false;
};

// One committed transaction. TVars are in-memory only and never appear here.
struct DurableCommit {
  uint64_t commit_ts = 0;
  absl::Span<const DurableWrite> writes;
};

// One live key of a state snapshot: what Durability::Load hands the engine,
// and what a replica streams to and from a snapshot (mvcc/replica.h).
struct SnapshotEntry {
  std::string_view key;
  std::string_view value;
  uint64_t commit_ts = 0;
};

// The status PersistBatch returns for a batch that was not made durable while
// the layer itself is still sound (a replicated layer: the node lost its
// leadership, or never had it, while the batch was on its way to a quorum;
// the batch may still commit through the new leader, so its outcome is
// unknown to the client). Unavailable, with a payload that tells it from a
// storage failure.
inline constexpr char kBatchNotCommittedPayload[] =
    "type.mvkv.dev/batch-not-committed";
inline absl::Status BatchNotCommittedError(std::string_view why) {
  absl::Status s(absl::StatusCode::kUnavailable,
                 absl::string_view(why.data(), why.size()));
  s.SetPayload(kBatchNotCommittedPayload, absl::Cord("1"));
  return s;
}
inline bool IsBatchNotCommitted(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable &&
         status.GetPayload(kBatchNotCommittedPayload).has_value();
}

class Durability {
 public:
  virtual ~Durability() = default;

  // Makes one group of commits (in commit-timestamp order) durable in the
  // implementation's mode, atomically: after a crash either all of the batch
  // is recovered or none of it. OK means durable. BatchNotCommittedError:
  // this batch is not durable (its committers get Unavailable, its versions
  // are unlinked and the commit timestamps reused) and commits go on; the
  // engine's default (fused) pipeline layout only: the staged layout treats
  // it as any other error. Any other error makes the engine stop accepting
  // commits (the batch's committers and every later one get Unavailable with
  // the cause); reads go on serving the last durable state.
  virtual absl::Status PersistBatch(absl::Span<const DurableCommit> batch) = 0;

  // Called once by Database::Open before it serves: calls `sink` for every
  // stored live key (tombstones are not stored) with its value and the
  // commit timestamp of that value, in any order, and returns the last
  // persisted commit timestamp (0 for an empty store). The engine resumes
  // timestamps after it.
  virtual absl::StatusOr<uint64_t> Load(
      const std::function<void(std::string_view key, std::string_view value,
                               uint64_t commit_ts)>& sink) = 0;

  // Writes a consistent, openable copy of the durable state to `dir` (which
  // must not exist). Called from any thread, concurrently with PersistBatch;
  // the implementation synchronises as it needs. Unimplemented by default.
  virtual absl::Status Checkpoint(const std::string& dir) {
    return absl::UnimplementedError("this durability layer has no checkpoints");
  }
};

}  // namespace mvkv

#endif  // MVKV_MVCC_DURABILITY_H_
