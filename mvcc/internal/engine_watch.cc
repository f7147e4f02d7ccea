// The engine's side of watches: the complete step's append to the change
// buffer, and the reset a restored state needs.
#include "mvcc/internal/engine.h"
#include "mvcc/internal/watch_hub.h"

namespace mvkv::mvcc_internal {

void Engine::FeedWatches(const PendingCommit& request) {
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
  watches_->buffer().Append(request.commit_ts, writes);
}

void Engine::ResetWatches(uint64_t last_ts) {
  if (watches_ != nullptr) watches_->Reset(last_ts);
}

}  // namespace mvkv::mvcc_internal
