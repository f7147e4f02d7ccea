#include "mvcc/db.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mvcc/internal/engine.h"

namespace mvkv {

using mvcc_internal::BufferedWrite;
using mvcc_internal::PendingCommit;
using mvcc_internal::Engine;
using mvcc_internal::ReclaimDomain;
using mvcc_internal::Record;
using mvcc_internal::SnapshotRegistry;
using mvcc_internal::TxnPhase;
using mvcc_internal::TxnState;
using mvcc_internal::Version;

namespace {

absl::Status NotFound(std::string_view key) {
  return absl::NotFoundError(
      absl::StrCat("key ", mvcc_internal::QuoteKey(key), " not found"));
}

using BatchResults = std::vector<absl::StatusOr<ReadResult>>;

// The keys of one MultiGet the engine reads, and where each one's result
// goes.
struct BatchReads {
  std::vector<std::string_view> keys;
  std::vector<std::size_t> positions;
};

// Reads `to_read` at `snapshot` (Engine::MultiRead) into `out`: the result
// of to_read[j] goes to out[positions[j]] (to out[j] if `positions` is
// empty); `keys` are the caller's, for the messages.
void ReadBatch(const Engine& engine, absl::Span<const std::string_view> keys,
               absl::Span<const std::string_view> to_read,
               absl::Span<const std::size_t> positions, uint64_t snapshot,
               BatchResults& out) {
  engine.MultiRead(to_read, snapshot, [&](std::size_t j, const Version* v) {
    const std::size_t i = positions.empty() ? j : positions[j];
    if (v == nullptr || v->tombstone()) {
      out[i] = NotFound(keys[i]);
    } else {
      out[i] = ReadResult{std::string(v->bytes()), v->commit_ts};
    }
  });
}

}  // namespace


// ---- Txn. ----

namespace {

// (1) acquire pairs with the completion thread's release store (2): after
// an async commit's end, everything it wrote to the state is visible.
absl::Status CheckOpen(const TxnState& txn) {
  switch (txn.phase.load(std::memory_order_acquire)) {
    case TxnPhase::kOpen:
      return absl::OkStatus();
    case TxnPhase::kCommitting:
      return absl::FailedPreconditionError(
          absl::StrCat("transaction ", txn.id, ": commit in progress"));
    case TxnPhase::kCommitted:
      return absl::FailedPreconditionError(
          absl::StrCat("transaction ", txn.id, " already committed"));
    case TxnPhase::kRolledBack:
      break;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("transaction ", txn.id, " already rolled back"));
}

// After a read: if the engine released this snapshot meanwhile, the read may
// have missed a pruned version, so it must not be returned.
absl::Status CheckSnapshot(TxnState& txn) {
  if (txn.slot == nullptr || !txn.slot->revoked()) {
    return absl::OkStatus();
  }
  return common::SnapshotTooOldError(absl::StrCat(
      "transaction ", txn.id, " held snapshot ", txn.snapshot_ts,
      " past the engine's limits and it was released"));
}

}  // namespace

Txn::Txn(std::shared_ptr<TxnState> state) : state_(std::move(state)) {}

Txn::~Txn() {
  // kCommitting: the async commit owns the state now; just let go of it.
  if (state_->phase.load(std::memory_order_acquire) == TxnPhase::kOpen) {
    Rollback().IgnoreError();
  }
}

absl::StatusOr<std::string> Txn::Get(std::string_view key) {
  absl::StatusOr<ReadResult> r = GetWithTimestamp(key);
  if (!r.ok()) return r.status();
  return std::move(r->value);
}

absl::StatusOr<ReadResult> Txn::GetWithTimestamp(std::string_view key) {
  TxnState& txn = *state_;
  if (absl::Status s = CheckOpen(txn); !s.ok()) return s;
  if (absl::Status s = ValidateKey(key, txn.engine->limits()); !s.ok()) {
    return s;
  }
  if (auto it = txn.writes.find(key); it != txn.writes.end()) {
    if (it->second.tombstone) return NotFound(key);
    return ReadResult{it->second.value, 0};
  }
  if (txn.traits->records_reads) txn.read_keys.emplace_back(key);
  std::optional<ReadResult> result;
  {
    ReclaimDomain::Guard guard(ReclaimDomain::Default());
    const Record* r = txn.engine->Find(guard, key);
    const Version* v = nullptr;
    if (r != nullptr) {
      v = txn.traits->reads_latest ? txn.engine->ReadLatest(guard, r)
                                   : Engine::ReadAt(guard, r, txn.snapshot_ts);
    }
    if (v != nullptr && !v->tombstone()) {
      result.emplace(ReadResult{std::string(v->bytes()), v->commit_ts});
    }
  }
  if (absl::Status s = CheckSnapshot(txn); !s.ok()) return s;
  if (!result.has_value()) return NotFound(key);
  return std::move(*result);
}

absl::StatusOr<BatchResults> Txn::MultiGet(
    absl::Span<const std::string_view> keys) {
  TxnState& txn = *state_;
  if (absl::Status s = CheckOpen(txn); !s.ok()) return s;
  BatchResults out(keys.size());  // each element set below
  BatchReads reads;
  reads.keys.reserve(keys.size());
  reads.positions.reserve(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string_view key = keys[i];
    if (absl::Status s = ValidateKey(key, txn.engine->limits()); !s.ok()) {
      out[i] = std::move(s);
      continue;
    }
    if (auto it = txn.writes.find(key); it != txn.writes.end()) {
      if (it->second.tombstone) {
        out[i] = NotFound(key);
      } else {
        out[i] = ReadResult{it->second.value, 0};
      }
      continue;
    }
    if (txn.traits->records_reads) txn.read_keys.emplace_back(key);
    reads.keys.push_back(key);
    reads.positions.push_back(i);
  }
  ReadBatch(*txn.engine, keys, reads.keys, reads.positions,
            txn.traits->reads_latest ? Engine::kLatest : txn.snapshot_ts, out);
  if (absl::Status s = CheckSnapshot(txn); !s.ok()) return s;
  return out;
}

absl::Status Txn::Put(std::string_view key, std::string_view value) {
  TxnState& txn = *state_;
  if (absl::Status s = CheckOpen(txn); !s.ok()) return s;
  const Limits& limits = txn.engine->limits();
  if (absl::Status s = ValidateKey(key, limits); !s.ok()) return s;
  if (absl::Status s = ValidateValue(value, limits); !s.ok()) return s;
  BufferedWrite& w = txn.writes[std::string(key)];
  w.tombstone = false;
  w.value.assign(value);
  return absl::OkStatus();
}

absl::Status Txn::Delete(std::string_view key) {
  TxnState& txn = *state_;
  if (absl::Status s = CheckOpen(txn); !s.ok()) return s;
  if (absl::Status s = ValidateKey(key, txn.engine->limits()); !s.ok()) {
    return s;
  }
  BufferedWrite& w = txn.writes[std::string(key)];
  w.tombstone = true;
  w.value.clear();
  return absl::OkStatus();
}

namespace {

// The committed pairs at one snapshot merged with a transaction's own
// writes, one live pair at a time in key order. The committed side is read
// in chunks, so a page never copies more than it returns (plus one chunk).
class MergedScan {
 public:
  MergedScan(const Engine& engine, uint64_t snapshot, const TxnState& txn,
             std::string_view start, std::string_view end, std::size_t chunk)
      : engine_(engine),
        snapshot_(snapshot),
        end_(end),
        chunk_(chunk),
        from_(start),
        own_(txn.writes.lower_bound(start)),
        own_end_(end.empty() ? txn.writes.end() : txn.writes.lower_bound(end)) {}

  // The next live pair, or nullopt past the end of the range.
  std::optional<KeyValue> Next() {
    while (true) {
      if (next_ == base_.size() && !base_done_) Refill();
      const bool has_base = next_ < base_.size();
      if (!has_base && own_ == own_end_) return std::nullopt;
      if (own_ != own_end_ && (!has_base || own_->first <= base_[next_].key)) {
        if (has_base && base_[next_].key == own_->first) ++next_;  // shadowed
        auto w = own_++;
        if (!w->second.tombstone) return KeyValue{w->first, w->second.value, 0};
        continue;  // an own delete hides the committed pair
      }
      return std::move(base_[next_++]);
    }
  }

 private:
  void Refill() {
    base_ = engine_.ScanAt(from_, end_, chunk_, snapshot_);
    next_ = 0;
    base_done_ = base_.size() < chunk_;
    if (!base_.empty()) from_ = SingleKeyEnd(base_.back().key);
  }

  const Engine& engine_;
  const uint64_t snapshot_;
  const std::string_view end_;
  const std::size_t chunk_;
  std::string from_;  // where the next committed chunk starts
  std::vector<KeyValue> base_;
  std::size_t next_ = 0;
  bool base_done_ = false;
  std::map<std::string, BufferedWrite, std::less<>>::const_iterator own_;
  const std::map<std::string, BufferedWrite, std::less<>>::const_iterator
      own_end_;
};

}  // namespace

absl::StatusOr<std::vector<KeyValue>> Txn::Scan(std::string_view start,
                                                std::string_view end,
                                                std::size_t limit) {
  absl::StatusOr<ScanPage> page = Scan(start, end, ScanLimits{.max_pairs = limit});
  if (!page.ok()) return page.status();
  return std::move(page->kvs);
}

absl::StatusOr<ScanPage> Txn::Scan(std::string_view start, std::string_view end,
                                   const ScanLimits& limits) {
  TxnState& txn = *state_;
  if (absl::Status s = CheckOpen(txn); !s.ok()) return s;
  if (absl::Status s = ValidateRange(start, end, txn.engine->limits());
      !s.ok()) {
    return s;
  }
  // Read committed: each scan is one snapshot of its own.
  SnapshotRegistry::Slot* slot = nullptr;
  uint64_t snapshot = txn.snapshot_ts;
  if (!txn.traits->has_snapshot) slot = txn.engine->AcquireSnapshot(&snapshot);
  const std::size_t chunk =
      std::clamp<std::size_t>(limits.max_pairs + 1, 16, 1024);
  MergedScan scan(*txn.engine, snapshot, txn, start, end,
                  limits.max_pairs == 0 ? 256 : chunk);
  ScanPage page;
  std::size_t bytes = 0;
  while (std::optional<KeyValue> kv = scan.Next()) {
    const bool full =
        (limits.max_pairs != 0 && page.kvs.size() >= limits.max_pairs) ||
        (limits.max_bytes != 0 && bytes >= limits.max_bytes);
    if (full) {
      page.more = true;
      page.resume_key = std::move(kv->key);
      break;
    }
    bytes += kv->key.size() + kv->value.size();
    page.kvs.push_back(*std::move(kv));
  }
  if (slot != nullptr) {
    const bool revoked = slot->revoked();
    txn.engine->ReleaseSnapshot(slot);
    if (revoked) {
      return common::SnapshotTooOldError(
          "a read-committed scan outlived the engine's snapshot limits");
    }
  }
  if (absl::Status s = CheckSnapshot(txn); !s.ok()) return s;
  if (txn.traits->records_reads) {
    // A page cut short depends only on the keys up to its last pair.
    txn.ranges.push_back(
        {std::string(start), page.more ? SingleKeyEnd(page.kvs.back().key)
                                       : std::string(end)});
  }
  return page;
}

absl::Status Txn::ReadTyped(const std::shared_ptr<Record>& record,
                            void (*copy)(const void* payload, void* out),
                            void* out) {
  TxnState& txn = *state_;
  if (absl::Status s = CheckOpen(txn); !s.ok()) return s;
  for (const mvcc_internal::TVarWrite& w : txn.tvar_writes) {
    if (w.record == record) {
      copy(w.version->payload(), out);
      return absl::OkStatus();
    }
  }
  if (txn.traits->records_reads) txn.tvar_reads.push_back(record);
  {
    ReclaimDomain::Guard guard(ReclaimDomain::Default());
    const Version* v = txn.traits->reads_latest
                           ? txn.engine->ReadLatest(guard, record.get())
                           : Engine::ReadAt(guard, record.get(), txn.snapshot_ts);
    // A TVar's first version is at timestamp 0, so v is never null.
    copy(v->payload(), out);
  }
  return CheckSnapshot(txn);
}

absl::Status Txn::WriteTyped(const std::shared_ptr<Record>& record,
                             Version* version) {
  TxnState& txn = *state_;
  if (absl::Status s = CheckOpen(txn); !s.ok()) {
    mvcc_internal::DeleteVersion(version);
    return s;
  }
  for (mvcc_internal::TVarWrite& w : txn.tvar_writes) {
    if (w.record == record) {
      mvcc_internal::DeleteVersion(w.version);
      w.version = version;
      return absl::OkStatus();
    }
  }
  txn.tvar_writes.push_back({record, version});
  return absl::OkStatus();
}

namespace {

// The part of a commit before the pipeline: a final status if the commit
// ends here (finished transaction, released snapshot, read-only), else
// nullopt and the transaction must go through the pipeline.
std::optional<absl::Status> PrepareCommit(Txn& handle, TxnState& txn) {
  if (absl::Status s = CheckOpen(txn); !s.ok()) return s;
  if (absl::Status s = CheckSnapshot(txn); !s.ok()) {
    handle.Rollback().IgnoreError();
    return s;
  }
  if (txn.writes.empty() && txn.tvar_writes.empty()) {
    // Read-only: every read was already at one snapshot; nothing to order.
    txn.engine->ReleaseSnapshot(&txn);
    txn.phase.store(TxnPhase::kCommitted, std::memory_order_release);
    return absl::OkStatus();
  }
  return std::nullopt;
}

// The part after the pipeline: releases the snapshot and ends the phase.
void CompleteTxn(TxnState& txn, const absl::Status& status,
                  uint64_t commit_ts) {
  txn.engine->ReleaseSnapshot(&txn);
  if (status.ok()) txn.commit_ts = commit_ts;
  // (2) release pairs with CheckOpen's acquire (1) and Txn::commit_ts().
  txn.phase.store(status.ok() ? TxnPhase::kCommitted : TxnPhase::kRolledBack,
                  std::memory_order_release);
}

// An async commit: owns what the pipeline reads (the transaction's state,
// or copies of an autocommit key and value) and the callback.
struct AsyncCommit final : PendingCommit {
  std::shared_ptr<TxnState> txn_state;  // null for autocommit writes
  std::string key_copy;
  std::string value_copy;
  CommitCallback done;

  // PendingCommit::on_complete: ends the transaction, frees the request,
  // then runs the callback (which may free the Txn).
  static void Complete(PendingCommit& request) {
    std::unique_ptr<AsyncCommit> self(static_cast<AsyncCommit*>(&request));
    if (self->txn_state != nullptr) {
      CompleteTxn(*self->txn_state, self->status, self->commit_ts);
    }
    absl::Status status = std::move(self->status);
    CommitCallback done = std::move(self->done);
    self.reset();
    std::move(done)(std::move(status));
  }
};

}  // namespace

absl::Status Txn::Commit() {
  TxnState& txn = *state_;
  if (std::optional<absl::Status> s = PrepareCommit(*this, txn)) return *s;
  PendingCommit request;
  request.txn = &txn;
  absl::Status s = txn.engine->Commit(request);
  CompleteTxn(txn, s, request.commit_ts);
  return s;
}

void Txn::CommitAsync(CommitCallback done) {
  TxnState& txn = *state_;
  if (std::optional<absl::Status> s = PrepareCommit(*this, txn)) {
    std::move(done)(*std::move(s));
    return;
  }
  auto request = std::make_unique<AsyncCommit>();
  request->txn = &txn;
  request->txn_state = state_;
  request->done = std::move(done);
  request->on_complete = &AsyncCommit::Complete;
  // Relaxed: the publication in CommitAsync (release) orders it for the
  // pipeline, and this thread reads its own store.
  txn.phase.store(TxnPhase::kCommitting, std::memory_order_relaxed);
  Engine* engine = txn.engine;
  // From here `this` may be destroyed at any moment (by `done`, or by the
  // caller on another path): touch only the request's own state.
  engine->CommitAsync(*request.release());
}

absl::Status Txn::Rollback() {
  TxnState& txn = *state_;
  const TxnPhase phase = txn.phase.load(std::memory_order_acquire);
  if (phase == TxnPhase::kCommitted || phase == TxnPhase::kCommitting) {
    return CheckOpen(txn);
  }
  txn.writes.clear();
  for (mvcc_internal::TVarWrite& w : txn.tvar_writes) {
    mvcc_internal::DeleteVersion(w.version);
  }
  txn.tvar_writes.clear();
  txn.engine->ReleaseSnapshot(&txn);
  txn.phase.store(TxnPhase::kRolledBack, std::memory_order_relaxed);
  return absl::OkStatus();
}

uint64_t Txn::snapshot_ts() const { return state_->snapshot_ts; }
uint64_t Txn::commit_ts() const {
  // Acquire pairs with CompleteTxn's release (2): commit_ts is final.
  return state_->phase.load(std::memory_order_acquire) == TxnPhase::kCommitted
             ? state_->commit_ts
             : 0;
}
uint64_t Txn::id() const { return state_->id; }
IsolationLevel Txn::isolation() const { return state_->isolation; }

// ---- Database. ----

absl::StatusOr<std::unique_ptr<Database>> Database::Open(
    const Options& options) {
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(options);
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<Database>(new Database(std::move(*engine)));
}

Database::Database(std::unique_ptr<Engine> engine)
    : engine_(std::move(engine)) {}

// Drains while the Database is whole: a completion callback run by the drain
// may still call into it (e.g. PutAsync, which then fails Unavailable).
Database::~Database() { engine_->Close(); }

absl::StatusOr<ReadResult> Database::GetWithTimestamp(std::string_view key) {
  if (absl::Status s = ValidateKey(key, limits()); !s.ok()) return s;
  ReclaimDomain::Guard guard(ReclaimDomain::Default());
  const Version* v = engine_->FindLatest(guard, key);
  if (v == nullptr) return NotFound(key);
  return ReadResult{std::string(v->bytes()), v->commit_ts};
}

// Get reads as GetWithTimestamp does, without building a ReadResult to move
// the value out of (every autocommit read comes here).
absl::StatusOr<std::string> Database::Get(std::string_view key) {
  if (absl::Status s = ValidateKey(key, limits()); !s.ok()) return s;
  ReclaimDomain::Guard guard(ReclaimDomain::Default());
  const Version* v = engine_->FindLatest(guard, key);
  if (v == nullptr) return NotFound(key);
  return std::string(v->bytes());
}

absl::StatusOr<bool> Database::GetIfPresent(std::string_view key, std::string* value) {
  if (absl::Status s = ValidateKey(key, limits()); !s.ok()) return s;
  ReclaimDomain::Guard guard(ReclaimDomain::Default());
  const Version* v = engine_->FindLatest(guard, key);
  if (v == nullptr) return false;
  value->assign(v->bytes());
  return true;
}

BatchResults Database::MultiGet(absl::Span<const std::string_view> keys) {
  BatchResults out(keys.size());  // each element set below
  bool all_valid = true;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (absl::Status s = ValidateKey(keys[i], limits()); !s.ok()) {
      out[i] = std::move(s);
      all_valid = false;
    }
  }
  if (all_valid) {  // the common case reads `keys` as they are
    ReadBatch(*engine_, keys, keys, {}, Engine::kLatest, out);
    return out;
  }
  BatchReads reads;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (absl::IsInvalidArgument(out[i].status())) continue;
    reads.keys.push_back(keys[i]);
    reads.positions.push_back(i);
  }
  ReadBatch(*engine_, keys, reads.keys, reads.positions, Engine::kLatest, out);
  return out;
}

absl::Status Database::Put(std::string_view key, std::string_view value) {
  if (absl::Status s = ValidateKey(key, limits()); !s.ok()) return s;
  if (absl::Status s = ValidateValue(value, limits()); !s.ok()) return s;
  PendingCommit request;
  request.key = key;
  request.value = value;
  return engine_->Commit(request);
}

absl::Status Database::Delete(std::string_view key) {
  if (absl::Status s = ValidateKey(key, limits()); !s.ok()) return s;
  PendingCommit request;
  request.key = key;
  request.tombstone = true;
  return engine_->Commit(request);
}

void Database::PutAsync(std::string_view key, std::string_view value,
                        CommitCallback done) {
  if (absl::Status s = ValidateKey(key, limits()); !s.ok()) {
    return std::move(done)(std::move(s));
  }
  if (absl::Status s = ValidateValue(value, limits()); !s.ok()) {
    return std::move(done)(std::move(s));
  }
  auto request = std::make_unique<AsyncCommit>();
  request->key_copy.assign(key);
  request->value_copy.assign(value);
  request->key = request->key_copy;
  request->value = request->value_copy;
  request->done = std::move(done);
  request->on_complete = &AsyncCommit::Complete;
  engine_->CommitAsync(*request.release());
}

void Database::DeleteAsync(std::string_view key, CommitCallback done) {
  if (absl::Status s = ValidateKey(key, limits()); !s.ok()) {
    return std::move(done)(std::move(s));
  }
  auto request = std::make_unique<AsyncCommit>();
  request->key_copy.assign(key);
  request->key = request->key_copy;
  request->tombstone = true;
  request->done = std::move(done);
  request->on_complete = &AsyncCommit::Complete;
  engine_->CommitAsync(*request.release());
}

absl::StatusOr<std::vector<KeyValue>> Database::Scan(std::string_view start,
                                                     std::string_view end,
                                                     std::size_t limit) {
  if (absl::Status s = ValidateRange(start, end, limits()); !s.ok()) return s;
  uint64_t ts = 0;
  auto* slot = engine_->AcquireSnapshot(&ts);
  std::vector<KeyValue> out = engine_->ScanAt(start, end, limit, ts);
  const bool revoked = slot->revoked();
  engine_->ReleaseSnapshot(slot);
  if (revoked) {
    return common::SnapshotTooOldError(
        "the scan outlived the engine's snapshot limits");
  }
  return out;
}

std::unique_ptr<Txn> Database::Begin(IsolationLevel isolation) {
  return Begin(TxnOptions{.isolation = isolation});
}

std::unique_ptr<Txn> Database::Begin(const TxnOptions& options) {
  return std::unique_ptr<Txn>(
      new Txn(engine_->NewTxn(options.isolation, options.id)));
}

absl::Status Database::Transact(const std::function<absl::Status(Txn&)>& fn,
                                const TransactOptions& options) {
  if (absl::Status s = common::Validate(options.retry); !s.ok()) return s;
  return common::Retry(options.retry, [&] {
    std::unique_ptr<Txn> txn = Begin(options.isolation);
    absl::Status s = fn(*txn);
    return s.ok() ? txn->Commit() : s;  // ~Txn rolls back
  });
}

absl::Status Database::Sweep() { return engine_->Sweep(); }

absl::Status Database::Checkpoint(const std::string& dir) {
  return engine_->Checkpoint(dir);
}

std::shared_ptr<Record> Database::NewTVarRecord(Version* initial) {
  return engine_->NewTVarRecord(initial);
}

Stats Database::GetStats() const { return engine_->GetStats(); }

const Limits& Database::limits() const { return engine_->limits(); }

}  // namespace mvkv
