// The single writer's side of replication (mvcc/replica.h): installing
// replicated commits at the timestamps they carry, restoring a snapshot,
// accepting or refusing local commits, and taking back out the local
// commits of a batch that did not commit. Runs in the fused pipeline stage,
// which holds the writer role for each ring batch.
//
// Why taking a batch back is safe: its versions are newer than visible_ts,
// so no reader has returned them (invariant 1 of engine.h) and no prune has
// dropped one (invariant 2); each is the newest of its chain, because the
// local commits of a ring batch are the last ones installed (a replicated
// commit installs only after discarding them). Unlinking the newest version
// leaves its `older` link alone, so a reader standing on it walks on.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "mvcc/internal/engine.h"

namespace mvkv::mvcc_internal {
namespace {

uint64_t NewestTs(const Record* r) {
  const Version* v = r->newest.load(std::memory_order_relaxed);
  return v == nullptr ? 0 : v->commit_ts;
}

bool Live(const Version* v) { return v != nullptr && !v->tombstone(); }

absl::Status Divergence(std::string what) {
  return absl::DataLossError(
      absl::StrCat("replica diverged from its log: ", what));
}

}  // namespace

void Engine::InstallReplicaOp(PendingCommit& request) {
  ReplicaOp& op = *request.replica;
  switch (op.kind) {
    case ReplicaOp::Kind::kApply:
      request.status = ApplyReplicated(op.commits);
      if (request.status.ok()) request.commit_ts = op.commits.back().commit_ts;
      return;
    case ReplicaOp::Kind::kRestore:
      request.status = RestoreSnapshot(op.snapshot_ts, *op.next);
      if (request.status.ok()) request.commit_ts = op.snapshot_ts;
      return;
    case ReplicaOp::Kind::kAccept:
      accepting_ = true;
      refusal_ = absl::OkStatus();
      op.last_ts = last_ts_;
      return;
    case ReplicaOp::Kind::kRefuse:
      accepting_ = false;
      refusal_ = op.refusal;
      return;
  }
}

absl::Status Engine::ApplyReplicated(absl::Span<const DurableCommit> commits) {
  // Local commits installed earlier in this ring batch were never
  // replicated and now never will be: the log moved on without them.
  DiscardLocal(absl::UnavailableError(
      "not committed: the replicated log moved on before this commit was "
      "replicated"));
  uint64_t prev = last_ts_;
  for (const DurableCommit& c : commits) {
    if (c.commit_ts <= prev) {
      return Divergence(absl::StrCat("replicated commit at ", c.commit_ts,
                                     " does not follow ", prev));
    }
    prev = c.commit_ts;
  }
  for (const DurableCommit& c : commits) {
    for (const DurableWrite& w : c.writes) {
      InstallKey(w.key, w.value, w.tombstone, c.commit_ts);
    }
  }
  last_ts_ = prev;
  return absl::OkStatus();
}

absl::Status Engine::RestoreSnapshot(
    uint64_t ts, absl::FunctionRef<bool(SnapshotEntry*)> next) {
  DiscardLocal(absl::UnavailableError(
      "not committed: the replica was replaced by a snapshot before this "
      "commit was replicated"));
  if (ts < last_ts_) {
    return Divergence(absl::StrCat("snapshot at ", ts,
                                   " is older than the last commit ", last_ts_));
  }
  RevokeSnapshotsBefore(ts);
  absl::Status s = MergeSnapshot(ts, next);
  // Everything installed is newer than visible_ts: the whole restore shows
  // at once when the complete step advances visible_ts to `ts`.
  last_ts_ = ts;
  return s;
}

void Engine::RevokeSnapshotsBefore(uint64_t ts) {
  registry_.ForEach([&](SnapshotRegistry::Slot& slot, uint64_t at) {
    if (at >= ts) return;
    SnapshotRegistry::Revoke(slot);
    aborts_too_old_.fetch_add(1, std::memory_order_relaxed);
  });
  registry_.Collect(visible_ts_, &view_);
}

// Walks the ordered index and the snapshot (ascending keys) together. A key
// only the snapshot has, or whose snapshot version is newer, gets that
// version at its timestamp; a live key the snapshot lacks was deleted by
// `ts` and gets a tombstone at `ts`. Every version installed is newer than
// anything committed here (all of that is at or below last_ts_ <= ts and
// older than a newer snapshot version of its key).
absl::Status Engine::MergeSnapshot(
    uint64_t ts, absl::FunctionRef<bool(SnapshotEntry*)> next) {
  Record* r = ordered_.SeekForWriter("");
  SnapshotEntry e;
  bool have = next(&e);
  std::string prev_key;
  bool first = true;
  // Bound: each round consumes a record or a snapshot entry.
  while (have || r != nullptr) {
    if (have && (e.commit_ts == 0 || e.commit_ts > ts ||
                 (!first && e.key <= prev_key))) {
      return Divergence(absl::StrCat(
          "snapshot entry ", QuoteKey(e.key), " at ", e.commit_ts,
          " is out of order or not at or below the snapshot's ", ts));
    }
    if (r != nullptr && (!have || r->key() < e.key)) {
      Record* following = OrderedIndex::NextForWriter(r);
      if (Live(r->newest.load(std::memory_order_relaxed))) {
        if (NewestTs(r) >= ts) {
          return Divergence(absl::StrCat("key ", QuoteKey(r->key()),
                                         " written at ", NewestTs(r),
                                         " is missing from the snapshot"));
        }
        InstallKey(r->key(), "", /*tombstone=*/true, ts);
      }
      r = following;
      continue;
    }
    if (r != nullptr && r->key() == e.key) {
      const uint64_t head = NewestTs(r);
      if (e.commit_ts < head ||
          (e.commit_ts == head &&
           !Live(r->newest.load(std::memory_order_relaxed)))) {
        return Divergence(absl::StrCat("key ", QuoteKey(e.key), " is at ",
                                       head, " here, at ", e.commit_ts,
                                       " in the snapshot"));
      }
      r = OrderedIndex::NextForWriter(r);
      if (e.commit_ts > head) InstallKey(e.key, e.value, false, e.commit_ts);
    } else {
      InstallKey(e.key, e.value, false, e.commit_ts);  // before r
    }
    prev_key.assign(e.key);
    first = false;
    have = next(&e);
  }
  return absl::OkStatus();
}

// ---- Taking a batch back. ----

void Engine::DiscardLocal(const absl::Status& why) {
  if (batch_commits_.empty()) return;
  // Newest first: a key written twice in the batch unwinds in order.
  for (auto it = batch_commits_.rbegin(); it != batch_commits_.rend(); ++it) {
    UninstallCommit(**it);
    (*it)->status = why;
  }
  last_ts_ = batch_commits_.front()->commit_ts - 1;
  batch_.clear();
  batch_commits_.clear();
}

void Engine::UninstallCommit(const PendingCommit& request) {
  const uint64_t ts = request.commit_ts;
  for (const DurableWrite& w : request.durable) {
    Record* r = hash_.FindForWriter(w.key, HashIndex::Hash(w.key));
    // A delete of a key nobody could see installed nothing.
    if (r != nullptr && NewestTs(r) == ts) UnlinkNewest(r);
  }
  if (request.txn == nullptr) return;
  for (const TVarWrite& w : request.txn->tvar_writes) {
    if (NewestTs(w.record.get()) == ts) UnlinkNewest(w.record.get());
  }
}

void Engine::UnlinkNewest(Record* r) {
  Version* head = r->newest.load(std::memory_order_relaxed);
  Version* older = head->older.load(std::memory_order_relaxed);
  const bool key = r->height > 0;
  if (key && Live(head) != Live(older)) {
    if (Live(head)) {
      live_keys_.fetch_sub(1, std::memory_order_relaxed);
    } else {
      live_keys_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  head_bytes_.fetch_sub(head->footprint(), std::memory_order_relaxed);
  if (older != nullptr) {
    head_bytes_.fetch_add(older->footprint(), std::memory_order_relaxed);
  } else {
    chains_.fetch_sub(1, std::memory_order_relaxed);
  }
  // Release: as in Prune; `head` keeps its own `older` (version.h, 3).
  r->newest.store(older, std::memory_order_release);
  --r->chain_length;
  RetireVersion(head);
  if (older == nullptr && key) {
    // The commit created this record: nothing is left of it.
    hash_.Remove(r);
    ordered_.Remove(r);
    r->in_index = false;
    ReclaimDomain::Default().Retire(r, &DeleteRecord, RecordFootprint(r));
  }
}

}  // namespace mvkv::mvcc_internal
