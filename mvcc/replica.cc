#include "mvcc/replica.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/retry.h"
#include "mvcc/internal/engine.h"

namespace mvkv {

using mvcc_internal::Engine;
using mvcc_internal::PendingCommit;
using mvcc_internal::ReplicaOp;
using mvcc_internal::SnapshotRegistry;

namespace {

// Runs `op` in the writer and waits for it.
absl::Status RunInWriter(Engine& engine, ReplicaOp& op) {
  PendingCommit request;
  request.kind = PendingCommit::Kind::kReplica;
  request.replica = &op;
  return engine.Commit(request);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Replica>> Replica::Attach(Database& db,
                                                         absl::Status refusal) {
  Engine* engine = db.engine_.get();
  if (engine->options().durability == nullptr) {
    return absl::InvalidArgumentError(
        "a replica needs a Database opened with a Durability (the "
        "replication layer's)");
  }
  if (engine->options().staged_pipeline) {
    return absl::InvalidArgumentError(
        "a replica needs the fused commit pipeline (staged_pipeline = false)");
  }
  std::unique_ptr<Replica> replica(new Replica(engine));
  if (absl::Status s = replica->RefuseLocalCommits(std::move(refusal));
      !s.ok()) {
    return s;
  }
  return replica;
}

absl::Status Replica::Apply(absl::Span<const DurableCommit> commits) {
  if (commits.empty()) return absl::OkStatus();
  ReplicaOp op;
  op.kind = ReplicaOp::Kind::kApply;
  op.commits = commits;
  return RunInWriter(*engine_, op);
}

absl::StatusOr<uint64_t> Replica::AcceptLocalCommits() {
  ReplicaOp op;
  op.kind = ReplicaOp::Kind::kAccept;
  if (absl::Status s = RunInWriter(*engine_, op); !s.ok()) return s;
  return op.last_ts;
}

absl::Status Replica::RefuseLocalCommits(absl::Status refusal) {
  if (refusal.ok()) {
    return absl::InvalidArgumentError("a refusal must not be OK");
  }
  ReplicaOp op;
  op.kind = ReplicaOp::Kind::kRefuse;
  op.refusal = std::move(refusal);
  return RunInWriter(*engine_, op);
}

Replica::SnapshotPin::SnapshotPin(SnapshotPin&& other) noexcept
    : engine_(std::exchange(other.engine_, nullptr)),
      slot_(std::exchange(other.slot_, nullptr)),
      ts_(other.ts_) {}

Replica::SnapshotPin& Replica::SnapshotPin::operator=(
    SnapshotPin&& other) noexcept {
  if (this != &other) {
    this->~SnapshotPin();
    engine_ = std::exchange(other.engine_, nullptr);
    slot_ = std::exchange(other.slot_, nullptr);
    ts_ = other.ts_;
  }
  return *this;
}

Replica::SnapshotPin::~SnapshotPin() {
  if (slot_ != nullptr) {
    engine_->ReleaseSnapshot(static_cast<SnapshotRegistry::Slot*>(slot_));
  }
}

absl::StatusOr<Replica::SnapshotPin> Replica::PinSnapshot(uint64_t ts) {
  SnapshotRegistry::Slot* slot = engine_->PinAt(ts);
  if (slot == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot pin a snapshot at ", ts,
        ": the engine may have pruned versions it needs"));
  }
  return SnapshotPin(engine_, slot, ts);
}

absl::Status Replica::WaitVisible(uint64_t ts, absl::Duration timeout,
                                  const std::atomic<bool>* cancel) const {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Microseconds(20);
  // Bound: the deadline.
  while (engine_->visible_ts() < ts) {
    if (cancel != nullptr && cancel->load(std::memory_order_acquire)) {
      return absl::CancelledError("cancelled waiting for visibility");
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("commit ", ts, " not visible after ",
                       absl::FormatDuration(timeout), " (visible: ",
                       engine_->visible_ts(), ")"));
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(1));
  }
  return absl::OkStatus();
}

absl::Status Replica::ReadSnapshot(
    const SnapshotPin& pin, absl::FunctionRef<void(const SnapshotEntry&)> sink,
    std::size_t chunk) const {
  const auto* slot = static_cast<const SnapshotRegistry::Slot*>(pin.slot_);
  std::string start;
  // Bound: each round reads `chunk` more keys, or ends.
  while (true) {
    std::vector<KeyValue> part =
        engine_->ScanAt(start, "", std::max<std::size_t>(chunk, 1), pin.ts());
    if (slot->revoked()) {
      return common::SnapshotTooOldError(absl::StrCat(
          "the snapshot pinned at ", pin.ts(), " was released while read"));
    }
    for (const KeyValue& kv : part) {
      sink(SnapshotEntry{kv.key, kv.value, kv.commit_ts});
    }
    if (part.size() < std::max<std::size_t>(chunk, 1)) return absl::OkStatus();
    start = SingleKeyEnd(part.back().key);
  }
}

absl::Status Replica::Restore(uint64_t snapshot_ts,
                              absl::FunctionRef<bool(SnapshotEntry*)> next) {
  ReplicaOp op;
  op.kind = ReplicaOp::Kind::kRestore;
  op.snapshot_ts = snapshot_ts;
  op.next = &next;
  return RunInWriter(*engine_, op);
}

uint64_t Replica::visible_ts() const { return engine_->visible_ts(); }

}  // namespace mvkv
