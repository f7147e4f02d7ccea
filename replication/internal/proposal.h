// Proposal: one commit-pipeline ring batch on its way through Raft. The
// pipeline's persist step (RaftDurability::PersistBatch) makes it on its own
// stack, posts it to the loop thread and waits; the loop thread finishes it
// exactly once: OK once the entry is committed by a quorum and applied
// here, BatchNotCommittedError otherwise.
//
// Thread safety: Finish from the loop thread, Wait from the persist step.
// After Finish returns the proposal may be gone: the loop thread must not
// touch it again.
#ifndef MVKV_REPLICATION_INTERNAL_PROPOSAL_H_
#define MVKV_REPLICATION_INTERNAL_PROPOSAL_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "absl/status/status.h"
#include "replication/internal/libraft.h"

namespace mvkv::replication_internal {

struct Proposal {
  raft_buffer entry{};  // raft_malloc'd; raft owns it once raft_apply took it
  uint64_t first_ts = 0;
  uint64_t last_ts = 0;

  void Finish(absl::Status s) {
    // Notify under the lock: the waiter cannot return (and destroy this)
    // before the unlock, and nothing touches the proposal after it.
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(s);
    done_ = true;
    cv_.notify_one();
  }
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return std::move(status_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  absl::Status status_;
};

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_PROPOSAL_H_
