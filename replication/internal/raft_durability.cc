#include "replication/internal/raft_durability.h"

#include "replication/codec.h"
#include "replication/internal/core.h"
#include "replication/internal/libraft.h"
#include "replication/internal/proposal.h"

namespace mvkv::replication_internal {

absl::Status RaftDurability::PersistBatch(
    absl::Span<const DurableCommit> batch) {
  Core* core = core_.load(std::memory_order_acquire);
  if (core == nullptr) {
    return BatchNotCommittedError("not committed: replication is not running");
  }
  // Encoded here, on the pipeline's thread: the loop thread only appends.
  Proposal proposal;
  proposal.entry.len = replication::EncodedBatchSize(batch);
  proposal.entry.base = raft_malloc(proposal.entry.len);
  if (proposal.entry.base == nullptr) {
    return BatchNotCommittedError("not committed: out of memory for the entry");
  }
  replication::EncodeBatch(batch, static_cast<char*>(proposal.entry.base));
  proposal.first_ts = batch.front().commit_ts;
  proposal.last_ts = batch.back().commit_ts;
  Proposal* p = &proposal;
  core->Post([core, p](bool on_loop) {
    if (on_loop) return core->Propose(p);
    raft_free(p->entry.base);
    p->Finish(BatchNotCommittedError("not committed: replication is shut down"));
  });
  return proposal.Wait();
}

}  // namespace mvkv::replication_internal
