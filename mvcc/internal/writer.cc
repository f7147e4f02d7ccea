// The steps of a commit: install, persist and complete. They run on the
// pipeline's threads, and install and complete also on a committer's own
// thread when it takes the writer role for an inline commit
// (Engine::TryCommitInline). Everything that mutates indexes or chains runs
// in install, i.e. in the single writer.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mvcc/internal/engine.h"

namespace mvkv::mvcc_internal {
namespace {

// Chains the background pass prunes per maintenance tick.
constexpr int kBackgroundSweepRecords = 4096;
// Chains a release pass prunes per install batch (on top of the ticks'):
// a few microseconds, so no commit waits behind an O(keys) sweep.
constexpr uint64_t kReleasePassPerBatch = 64;

uint64_t NewestTs(const Record* r) {
  const Version* v = r->newest.load(std::memory_order_relaxed);
  return v == nullptr ? 0 : v->commit_ts;
}

}  // namespace

// ---- Validation (writer only; sees every installed version). ----

absl::Status Engine::Validate(const TxnState& txn) {
  if (txn.traits->validates_writes) {
    if (absl::Status s = ValidateWrites(txn); !s.ok()) return s;
  }
  if (txn.traits->validates_reads) return ValidateReads(txn);
  return absl::OkStatus();  // neither: the last writer wins
}

absl::Status Engine::ValidateWrites(const TxnState& txn) {
  // First committer wins: nobody committed a write to our keys after our
  // snapshot (installed-but-not-yet-visible commits count: they are earlier
  // in commit order).
  for (const auto& [key, write] : txn.writes) {
    Record* r = hash_.FindForWriter(key, HashIndex::Hash(key));
    if (r != nullptr && NewestTs(r) > txn.snapshot_ts) {
      aborts_write_.fetch_add(1, std::memory_order_relaxed);
      return absl::AbortedError(
          absl::StrCat("write-write conflict on key ", QuoteKey(key),
                       ": committed by another transaction after this "
                       "transaction's snapshot"));
    }
  }
  for (const TVarWrite& w : txn.tvar_writes) {
    if (NewestTs(w.record.get()) > txn.snapshot_ts) {
      aborts_write_.fetch_add(1, std::memory_order_relaxed);
      return absl::AbortedError(
          "write-write conflict on a TVar written by another transaction "
          "after this transaction's snapshot");
    }
  }
  return absl::OkStatus();
}

absl::Status Engine::ValidateReads(const TxnState& txn) {
  auto conflict = [this](std::string what) {
    aborts_read_.fetch_add(1, std::memory_order_relaxed);
    return absl::AbortedError(
        absl::StrCat("serialization conflict: ", what,
                     " changed after this transaction's snapshot"));
  };
  for (const std::string& key : txn.read_keys) {
    Record* r = hash_.FindForWriter(key, HashIndex::Hash(key));
    if (r != nullptr && NewestTs(r) > txn.snapshot_ts) {
      return conflict(absl::StrCat("key ", QuoteKey(key), " (point read)"));
    }
  }
  for (const auto& r : txn.tvar_reads) {
    if (NewestTs(r.get()) > txn.snapshot_ts) return conflict("a TVar read");
  }
  // Scanned ranges: any key in the range written after the snapshot, an
  // insert or a delete (a phantom), breaks the scan's result.
  for (const ScannedRange& range : txn.ranges) {
    for (Record* r = ordered_.SeekForWriter(range.start); r != nullptr;
         r = OrderedIndex::NextForWriter(r)) {
      if (!range.end.empty() && r->key() >= range.end) break;
      if (NewestTs(r) > txn.snapshot_ts) {
        return conflict(absl::StrCat(
            "key ", QuoteKey(r->key()), " in the range scanned from ",
            QuoteKey(range.start), " to ",
            range.end.empty() ? std::string("the last key")
                              : QuoteKey(range.end)));
      }
    }
  }
  return absl::OkStatus();
}

// ---- Install. ----

void Engine::RefreshView() {
  registry_.Collect(visible_ts_, &view_);
  view_fresh_ = true;
  EnforceLimits();
}

void Engine::EnforceLimits() {
  if (options_.max_snapshot_age != absl::InfiniteDuration()) {
    const int64_t now = absl::GetCurrentTimeNanos();
    const int64_t max_age = absl::ToInt64Nanoseconds(options_.max_snapshot_age);
    bool any = false;
    registry_.ForEach([&](SnapshotRegistry::Slot& slot, uint64_t) {
      if (now - slot.start_unix_ns.load(std::memory_order_relaxed) > max_age) {
        SnapshotRegistry::Revoke(slot);
        aborts_too_old_.fetch_add(1, std::memory_order_relaxed);
        any = true;
      }
    });
    if (any) StartReleasePass();
  }
  // One release per pass: until the last release's pass has pruned every
  // chain, RetainedBytes still counts what it freed, and releasing more
  // on that count would release snapshots the budget does not require.
  if (release_pass_left_ == 0 && OverBudget()) {
    if (ReleaseOldest()) StartReleasePass();
  }
  if (release_pass_left_ > 0) ContinueReleasePass(kReleasePassPerBatch);
}

void Engine::EnforceLimitsNow() {
  // Bound: each round releases one snapshot, and there are finitely many.
  while (true) {
    SweepAll();
    release_pass_left_ = 0;
    if (!OverBudget() || !ReleaseOldest()) return;
    registry_.Collect(visible_ts_, &view_);
  }
}

bool Engine::OverBudget() const {
  return options_.max_retained_bytes != 0 &&
         RetainedBytes() > options_.max_retained_bytes;
}

bool Engine::ReleaseOldest() {
  SnapshotRegistry::Slot* oldest = nullptr;
  uint64_t oldest_ts = 0;
  registry_.ForEach([&](SnapshotRegistry::Slot& slot, uint64_t ts) {
    if (oldest == nullptr || ts < oldest_ts) {
      oldest = &slot;
      oldest_ts = ts;
    }
  });
  if (oldest == nullptr) return false;  // nothing to release: the rest is in flight
  SnapshotRegistry::Revoke(*oldest);
  aborts_too_old_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Engine::StartReleasePass() {
  // The released snapshots leave the view at once, so from here on every
  // Prune (a commit's own chains, the pass, the background pass) drops what
  // only they needed. The pass is one lap over the chains from wherever the
  // background cursor is; a release during a pass starts a new lap there.
  registry_.Collect(visible_ts_, &view_);
  release_pass_left_ = chains_.load(std::memory_order_relaxed);
}

void Engine::ContinueReleasePass(uint64_t n) {
  const uint64_t step = std::min(n, release_pass_left_);
  const uint64_t visited = SweepSome(static_cast<int>(step));
  // Fewer than asked: the call wrapped around and reached its own start,
  // so it visited every chain; the lap is over.
  release_pass_left_ = visited < step ? 0 : release_pass_left_ - visited;
}

void Engine::Install(PendingCommit& request) {
  if (!view_fresh_) RefreshView();
  if (failed_.load(std::memory_order_acquire)) {
    request.status = absl::UnavailableError(absl::StrCat(
        "commits are stopped after a durability failure: ",
        failure_.ToString()));
    return;
  }
  if (request.kind == PendingCommit::Kind::kReplica) {
    InstallReplicaOp(request);
    return;
  }
  if (request.kind == PendingCommit::Kind::kSweep) {
    EnforceLimitsNow();
    return;
  }
  if (request.kind == PendingCommit::Kind::kMaintenance) {
    // The tick may land mid-batch: check the limits on a fresh view. Its
    // slice of the background pass counts toward a release pass.
    RefreshView();
    const uint64_t visited = SweepSome(kBackgroundSweepRecords);
    release_pass_left_ -= std::min(visited, release_pass_left_);
    return;
  }
  if (!accepting_) {
    request.status = refusal_;
    return;
  }
  TxnState* txn = request.txn;
  if (txn != nullptr) {
    request.status = Validate(*txn);
    if (!request.status.ok()) return;
  }
  const uint64_t ts = ++last_ts_;
  request.commit_ts = ts;
  const bool persist = options_.durability != nullptr;
  request.durable.clear();
  if (txn == nullptr) {
    InstallKey(request.key, request.value, request.tombstone, ts);
    if (persist) {
      request.durable.push_back({request.key, request.value, request.tombstone});
    }
    return;
  }
  for (const auto& [key, write] : txn->writes) {
    InstallKey(key, write.value, write.tombstone, ts);
    if (persist) request.durable.push_back({key, write.value, write.tombstone});
  }
  for (TVarWrite& w : txn->tvar_writes) {
    InstallVersion(w.record.get(), w.version, ts);
    w.version = nullptr;  // owned by the chain now
  }
}

void Engine::InstallKey(std::string_view key, std::string_view value,
                        bool tombstone, uint64_t ts) {
  const uint64_t hash = HashIndex::Hash(key);
  Record* r = hash_.FindForWriter(key, hash);
  if (r == nullptr) {
    if (tombstone) return;  // deleting a key nobody can see: nothing to do
    const int height = ordered_.RandomHeight();
    if (value.size() <= kMaxInRecordValueBytes) {
      r = NewRecordWithValue(key, hash, height, value);
      InstallVersion(r, r->in_record_version(), ts);
    } else {
      r = NewRecord(key, hash, height);
      InstallVersion(r, NewBytesVersion(value, false), ts);
    }
    hash_.Insert(r);
    ordered_.Insert(r);
    r->in_index = true;
    live_keys_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const Version* before = r->newest.load(std::memory_order_relaxed);
  const bool was_live = before != nullptr && !before->tombstone();
  InstallVersion(r, NewBytesVersion(value, tombstone), ts);
  if (was_live && tombstone) live_keys_.fetch_sub(1, std::memory_order_relaxed);
  if (!was_live && !tombstone) live_keys_.fetch_add(1, std::memory_order_relaxed);
  Prune(r);
}

void Engine::InstallVersion(Record* r, Version* v, uint64_t ts) {
  v->commit_ts = ts;
  Version* head = r->newest.load(std::memory_order_relaxed);
  v->older.store(head, std::memory_order_relaxed);
  if (head == nullptr) {
    chains_.fetch_add(1, std::memory_order_relaxed);
  } else {
    head_bytes_.fetch_sub(head->footprint(), std::memory_order_relaxed);
  }
  head_bytes_.fetch_add(v->footprint(), std::memory_order_relaxed);
  // Release: the version is complete before readers can reach it (pairs
  // with the acquire Protect in ReadAt/ReadLatest). It stays invisible until
  // visible_ts reaches ts (invariant 1 of engine.h).
  r->newest.store(v, std::memory_order_release);
  ++r->chain_length;
  versions_.fetch_add(1, std::memory_order_relaxed);
  version_bytes_.fetch_add(v->footprint(), std::memory_order_relaxed);
  if (r->height == 0) Prune(r);  // TVars prune on every write too
}

// Interval pruning (Böttcher et al., PVLDB 2019): a version survives only if
// it is newer than the horizon, the newest at or below the horizon, or the
// newest at or below some registered snapshot.
void Engine::Prune(Record* r) {
  const std::vector<uint64_t>& snaps = view_.snapshots;
  const uint64_t horizon = view_.horizon;
  Version* kept = nullptr;  // last version kept, walking newest to oldest
  uint64_t newer_ts = ~uint64_t{0};
  Version* v = r->newest.load(std::memory_order_relaxed);
  while (v != nullptr) {
    Version* older = v->older.load(std::memory_order_relaxed);
    const uint64_t ts = v->commit_ts;
    bool needed = ts > horizon || newer_ts > horizon;
    if (!needed) {
      auto it = std::lower_bound(snaps.begin(), snaps.end(), ts);
      needed = it != snaps.end() && *it < newer_ts;
    }
    if (needed) {
      kept = v;
    } else {
      // Release: a reader that sees the new link sees a complete chain.
      // The removed version keeps its own `older` (invariant 3 of version.h).
      if (kept == nullptr) {
        r->newest.store(older, std::memory_order_release);
      } else {
        kept->older.store(older, std::memory_order_release);
      }
      --r->chain_length;
      RetireVersion(v);
    }
    newer_ts = ts;
    v = older;
  }
  // A key whose only version is a tombstone every snapshot sees leaves the
  // indexes: nobody can tell it from a key that never existed.
  Version* newest = r->newest.load(std::memory_order_relaxed);
  if (r->in_index && newest != nullptr && newest->tombstone() &&
      newest->older.load(std::memory_order_relaxed) == nullptr &&
      newest->commit_ts <= horizon &&
      (snaps.empty() || newest->commit_ts <= snaps.front())) {
    RemoveRecord(r);
  }
}

void Engine::SweepAll() {
  Record* r = ordered_.SeekForWriter("");
  while (r != nullptr) {
    // Read the successor first: Prune may retire r.
    Record* next = OrderedIndex::NextForWriter(r);
    Prune(r);
    r = next;
  }
}

uint64_t Engine::SweepSome(int n) {
  Record* r = ordered_.SeekForWriter(sweep_cursor_);
  uint64_t visited = 0;
  bool wrapped = false;
  // Bound: n chains and one wrap-around to the first key.
  while (visited < static_cast<uint64_t>(n)) {
    if (r == nullptr) {
      if (wrapped) break;
      wrapped = true;
      r = ordered_.SeekForWriter("");
      continue;
    }
    Record* next = OrderedIndex::NextForWriter(r);  // before Prune may retire r
    Prune(r);
    ++visited;
    r = next;
  }
  sweep_cursor_ = r == nullptr ? std::string() : std::string(r->key());
  return visited;
}

void Engine::RetireVersion(Version* v) {
  versions_.fetch_sub(1, std::memory_order_relaxed);
  version_bytes_.fetch_sub(v->footprint(), std::memory_order_relaxed);
  // An in-record version is freed with its record (version.h, Invariant 4).
  if (v->in_record) return;
  ReclaimDomain::Default().Retire(v, &DeleteVersion, v->footprint());
}

void Engine::RemoveRecord(Record* r) {
  hash_.Remove(r);
  ordered_.Remove(r);
  r->in_index = false;
  Version* tombstone = r->newest.load(std::memory_order_relaxed);
  chains_.fetch_sub(1, std::memory_order_relaxed);
  head_bytes_.fetch_sub(tombstone->footprint(), std::memory_order_relaxed);
  RetireVersion(tombstone);
  ReclaimDomain::Default().Retire(r, &DeleteRecord, RecordFootprint(r));
}

// ---- Persist: one group commit per ring batch. ----

void Engine::Persist(PendingCommit& request, bool end_of_batch) {
  // Replicated commits are durable already: only local ones persist.
  if (request.kind == PendingCommit::Kind::kWrite && request.status.ok() &&
      request.commit_ts != 0) {
    batch_.push_back({request.commit_ts, request.durable});
    batch_commits_.push_back(&request);
  }
  batch_requests_.push_back(&request);
  if (!end_of_batch) return;
  absl::Status s = absl::OkStatus();
  if (failed_.load(std::memory_order_acquire)) {
    s = absl::UnavailableError(absl::StrCat(
        "commits are stopped after a durability failure: ",
        failure_.ToString()));
  } else if (!batch_.empty() && options_.durability != nullptr) {
    // (The staged layout runs this step in memory mode too.)
    s = options_.durability->PersistBatch(batch_);
    if (IsBatchNotCommitted(s) && !options_.staged_pipeline) {
      // Only this batch failed, and the fused stage is the writer: take it
      // back out; the next commits reuse its timestamps.
      DiscardLocal(s);
      s = absl::OkStatus();
    } else if (!s.ok()) {
      failure_ = s;
      failed_.store(true, std::memory_order_release);
      s = absl::UnavailableError(absl::StrCat(
          "commit not durable, commits are stopped: ", s.ToString()));
    }
  }
  if (!s.ok()) {
    for (PendingCommit* r : batch_requests_) {
      if (r->status.ok()) r->status = s;
    }
  }
  batch_.clear();
  batch_commits_.clear();
  batch_requests_.clear();
}

// ---- Complete. ----

void Engine::AdvanceVisible(const PendingCommit& request) {
  if (request.status.ok() && request.commit_ts != 0) {
    // (1) release: every version of this commit (and of all earlier ones)
    // is installed and durable before any reader can pick a snapshot that
    // includes it. Stores are in commit order, so visible_ts only grows.
    // Release is enough also for the snapshot registry: its proof
    // (snapshot_registry.h) orders the readers' and the collect's seq_cst
    // operations on the slots and on collected_horizon, and uses of
    // visible_ts only that it grows.
    visible_ts_.store(request.commit_ts, std::memory_order_release);
    if (watches_ != nullptr) FeedWatches(request);  // engine_watch.cc
    const bool replicated = request.kind == PendingCommit::Kind::kReplica;
    commits_.fetch_add(replicated ? request.replica->commits.size() : 1,
                       std::memory_order_relaxed);
  }
}

void Engine::Complete(PendingCommit& request) {
  AdvanceVisible(request);
  // In commit order: an async committer's callback runs after visible_ts
  // covers its commit, so a reader it starts sees the write.
  NotifyCommitter(request);
}

void Engine::EndInstallBatch() {
  // The install stage collects the snapshot view once per batch.
  view_fresh_ = false;
  batches_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace mvkv::mvcc_internal
