// Core: the raft_fsm libraft drives on the loop thread. Apply recognises
// this node's own proposal by its raft index (the engine has it installed
// already; applying it just releases the waiting persist step) and queues
// every other batch for the applier. Snapshots are the engine's state at
// the last applied commit timestamp: pinned on the loop thread, streamed on
// libuv's worker thread with no lock (FSM version 3, snapshot_async).
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "replication/codec.h"
#include "replication/internal/core.h"

namespace mvkv::replication_internal {

namespace {

constexpr std::size_t kSnapshotChunkBytes = 1 << 20;
// How long the worker waits for the engine to show the pinned commit (the
// applier behind the log, or the leader's own last batch completing).
constexpr absl::Duration kSnapshotWaitVisible = absl::Seconds(60);

}  // namespace

int Core::FsmApply(raft_fsm* fsm, const raft_buffer* buf, void** result) {
  *result = nullptr;
  return static_cast<Core*>(fsm->data)->Apply(*buf);
}

int Core::FsmSnapshot(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n) {
  *bufs = nullptr;
  *n = 0;
  return static_cast<Core*>(fsm->data)->TakeSnapshot();
}

int Core::FsmSnapshotAsync(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n) {
  return static_cast<Core*>(fsm->data)->StreamSnapshot(bufs, n);
}

int Core::FsmSnapshotFinalize(raft_fsm* fsm, raft_buffer* bufs[],
                              unsigned* n) {
  static_cast<Core*>(fsm->data)->FinalizeSnapshot(bufs, n);
  return 0;
}

int Core::FsmRestore(raft_fsm* fsm, raft_buffer* buf) {
  return static_cast<Core*>(fsm->data)->Restore(buf);
}

int Core::Apply(const raft_buffer& buf) {
  if (!failure_.ok()) return RAFT_SHUTDOWN;  // stopped: apply nothing more
  // libraft applies in order and bumps last_applied after each entry.
  const raft_index index = raft_last_applied(&raft_) + 1;
  if (budget_.Applied(buf.len)) raft_set_snapshot_threshold(&raft_, 1);
  if (inflight_ != nullptr && inflight_->req.index == index) {
    // Invariant 2: our own batch, committed. The engine installed it; the
    // persist step completes it (visible, acknowledged) when released.
    applied_ts_ = inflight_->last_ts;
    FinishProposal(absl::OkStatus());
    return 0;
  }
  return ApplyForeign(
      std::string_view(static_cast<const char*>(buf.base), buf.len));
}

int Core::ApplyForeign(std::string_view entry) {
  absl::StatusOr<replication::RecordType> type = replication::CheckRecord(entry);
  if (!type.ok()) {
    Fatal(absl::DataLossError(
        absl::StrCat("undecodable log entry: ", type.status().message())));
    return RAFT_MALFORMED;
  }
  if (*type == replication::RecordType::kMember) {
    absl::StatusOr<replication::MemberRecord> m = replication::DecodeMember(entry);
    if (!m.ok() || m->cluster_id != options_.cluster_id) {
      Fatal(absl::FailedPreconditionError(absl::StrCat(
          "the log holds a member record of cluster \"",
          m.ok() ? m->cluster_id : "?", "\"; this node belongs to \"",
          options_.cluster_id, "\"")));
      return RAFT_MALFORMED;
    }
    client_addresses_[m->node_id] = m->client_address;
    return 0;
  }
  if (*type != replication::RecordType::kBatch) {
    Fatal(absl::DataLossError("a snapshot record in the log"));
    return RAFT_MALFORMED;
  }
  absl::StatusOr<replication::DecodedBatch> batch = replication::DecodeBatch(entry);
  if (!batch.ok()) {
    Fatal(absl::DataLossError(
        absl::StrCat("undecodable batch entry: ", batch.status().message())));
    return RAFT_MALFORMED;
  }
  // Another node's batch. A leader applies those only from earlier terms,
  // before its election barrier; anything else means we lost the lead
  // inside this libraft callback: the engine must refuse local commits
  // before it installs this.
  CheckLostLeadership();
  if (batch->first_ts() <= applied_ts_) {
    Fatal(absl::DataLossError(absl::StrCat(
        "log diverged: a batch at commit ", batch->first_ts(),
        " follows the applied commit ", applied_ts_)));
    return RAFT_MALFORMED;
  }
  FinishProposal(BatchNotCommittedError(
      "not committed: the log moved on before this batch"));
  applied_ts_ = batch->last_ts();
  applier_->Push(ApplierItem{.kind = ApplierItem::Kind::kApply,
                             .batch = std::move(*batch)});
  return 0;
}

int Core::TakeSnapshot() {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  if (snapshot_job_ != nullptr) return RAFT_BUSY;
  // The commit of the last applied batch, which the engine may not show
  // yet; the pin keeps every version it needs from now on.
  absl::StatusOr<Replica::SnapshotPin> pin = replica_->PinSnapshot(applied_ts_);
  if (!pin.ok()) {
    snapshot_failures_.fetch_add(1, std::memory_order_relaxed);
    return RAFT_BUSY;  // libraft tries again after a later apply
  }
  auto job = std::make_unique<SnapshotJob>(SnapshotJob{std::move(*pin), {}});
  job->header.cluster_id = options_.cluster_id;
  job->header.snapshot_ts = applied_ts_;
  for (const auto& [id, address] : client_addresses_) {
    job->header.members.emplace_back(id, address);
  }
  snapshot_job_ = std::move(job);
  raft_set_snapshot_trailing(&raft_, budget_.SnapshotTaken());
  raft_set_snapshot_threshold(&raft_, options_.snapshot_threshold);
  return 0;
}

int Core::StreamSnapshot(raft_buffer* bufs[], unsigned* n) {
  SnapshotJob* job;
  {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    job = snapshot_job_.get();
  }
  auto fail = [&](std::vector<raft_buffer>* chunks) {
    for (raft_buffer& b : *chunks) raft_free(b.base);
    snapshot_failures_.fetch_add(1, std::memory_order_relaxed);
    return RAFT_CANCELED;
  };
  std::vector<raft_buffer> chunks;
  if (job == nullptr) return fail(&chunks);
  if (!replica_->WaitVisible(job->header.snapshot_ts, kSnapshotWaitVisible,
                             &stopping_)
           .ok()) {
    return fail(&chunks);
  }
  bool oom = false;
  replication::SnapshotWriter writer(
      job->header, kSnapshotChunkBytes, [&](std::string&& chunk) {
        raft_buffer b{raft_malloc(chunk.size()), chunk.size()};
        if (b.base == nullptr) {
          oom = true;
          return;
        }
        std::memcpy(b.base, chunk.data(), chunk.size());
        chunks.push_back(b);
      });
  absl::Status s = replica_->ReadSnapshot(
      job->pin, [&](const SnapshotEntry& e) { writer.Add(e); });
  if (!s.ok() || oom) return fail(&chunks);
  writer.Finish();
  *bufs = static_cast<raft_buffer*>(raft_malloc(chunks.size() * sizeof(raft_buffer)));
  if (*bufs == nullptr || oom) return fail(&chunks);
  std::memcpy(*bufs, chunks.data(), chunks.size() * sizeof(raft_buffer));
  *n = static_cast<unsigned>(chunks.size());
  snapshots_taken_.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

void Core::FinalizeSnapshot(raft_buffer* bufs[], unsigned* n) {
  if (*bufs != nullptr) {
    for (unsigned i = 0; i < *n; ++i) raft_free((*bufs)[i].base);
    raft_free(*bufs);
  }
  *bufs = nullptr;
  *n = 0;
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  snapshot_job_.reset();  // releases the pin
}

int Core::Restore(raft_buffer* buf) {
  const std::string_view data(static_cast<const char*>(buf->base), buf->len);
  absl::StatusOr<replication::SnapshotReader> reader =
      replication::SnapshotReader::Open(data);
  absl::Status refused;
  if (!reader.ok()) {
    refused = absl::DataLossError(
        absl::StrCat("invalid snapshot: ", reader.status().message()));
  } else if (reader->header().cluster_id != options_.cluster_id) {
    refused = absl::FailedPreconditionError(absl::StrCat(
        "the snapshot is of cluster \"", reader->header().cluster_id,
        "\"; this node belongs to \"", options_.cluster_id, "\""));
  } else if (reader->header().snapshot_ts < applied_ts_) {
    refused = absl::DataLossError(absl::StrCat(
        "log diverged: a snapshot at commit ", reader->header().snapshot_ts,
        " is older than the applied commit ", applied_ts_));
  }
  if (!refused.ok()) {
    Fatal(std::move(refused));
    return RAFT_MALFORMED;  // libraft frees the buffer
  }
  FinishProposal(BatchNotCommittedError(
      "not committed: this node was replaced by a snapshot"));
  client_addresses_.clear();
  for (const auto& [id, address] : reader->header().members) {
    client_addresses_[id] = address;
  }
  applied_ts_ = reader->header().snapshot_ts;
  budget_.Reset();
  if (running_) snapshots_installed_.fetch_add(1, std::memory_order_relaxed);
  // The buffer is ours now (libraft's contract for restore).
  applier_->Push(ApplierItem{.kind = ApplierItem::Kind::kRestore,
                             .snapshot = RaftBytes(static_cast<char*>(buf->base)),
                             .snapshot_size = buf->len});
  RefreshInfo();
  return 0;
}

}  // namespace mvkv::replication_internal
