// The engine's side of watches: the complete step's append to the change
// buffer, and the reset a restored state needs.
#include "mvcc/internal/engine.h"
#include "mvcc/internal/watch_hub.h"

namespace mvkv::mvcc_internal {

void Engine::FeedWatches(const PendingCommit& request) {
  if (request.kind == PendingCommit::Kind::kReplica) {
    const ReplicaOp& op = *request.replica;
    if (op.kind == ReplicaOp::Kind::kApply) {
      // Replicated commits, in log order, each with its own timestamp.
      for (const DurableCommit& c : op.commits) {
        watches_->Append(c.commit_ts, c.writes);
      }
    } else if (op.kind == ReplicaOp::Kind::kRestore) {
      // A restored state has no per-commit history to stream.
      watches_->Reset(op.snapshot_ts);
    }
    return;
  }
  // The commit's key writes in key order: the persist step's list when it
  // made one, else the same list built here (TVar writes are not watched).
  absl::Span<const DurableWrite> writes = request.durable;
  if (writes.empty()) {
    watch_writes_.clear();
    if (request.txn == nullptr) {
      watch_writes_.push_back({request.key, request.value, request.tombstone});
    } else {
      for (const auto& [key, write] : request.txn->writes) {
        watch_writes_.push_back({key, write.value, write.tombstone});
      }
    }
    writes = watch_writes_;
  }
  watches_->Append(request.commit_ts, writes);
}

void Engine::ResetWatches(uint64_t last_ts) {
  if (watches_ != nullptr) watches_->Reset(last_ts);
}

}  // namespace mvkv::mvcc_internal
