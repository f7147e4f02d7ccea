// RaftDurability: the commit pipeline's persistence (mvcc/durability.h)
// when the Raft log is the write-ahead log. PersistBatch encodes the ring
// batch as one log entry (replication/codec.h), hands it to the loop thread
// (Core::Propose) and waits: OK once a quorum has it and it was applied
// here, BatchNotCommittedError when this node does not lead or lost the
// lead meanwhile (the engine then takes the batch back out). Load loads
// nothing: libraft restores the engine from its snapshot and log.
//
// Thread safety: as mvcc/durability.h requires (one persist step at a time).
#ifndef MVKV_REPLICATION_INTERNAL_RAFT_DURABILITY_H_
#define MVKV_REPLICATION_INTERNAL_RAFT_DURABILITY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>

#include "mvcc/durability.h"

namespace mvkv::replication_internal {

class Core;

class RaftDurability final : public Durability {
 public:
  // Before the first commit can reach PersistBatch.
  void SetCore(Core* core) { core_.store(core, std::memory_order_release); }

  absl::Status PersistBatch(absl::Span<const DurableCommit> batch) override;
  absl::StatusOr<uint64_t> Load(
      const std::function<void(std::string_view, std::string_view, uint64_t)>&)
      override {
    return 0;
  }

 private:
  // Release by SetCore, acquire by PersistBatch.
  std::atomic<Core*> core_{nullptr};
};

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_RAFT_DURABILITY_H_
