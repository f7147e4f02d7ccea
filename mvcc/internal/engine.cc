#include "mvcc/internal/engine.h"

#include <pthread.h>

#include <algorithm>
#include <bit>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mvcc/internal/completion.h"
#include "mvcc/internal/watch_hub.h"

namespace mvkv::mvcc_internal {
namespace {

// True while this thread holds writer_mu_ (the fused stage for a batch, or
// an inline commit). An async commit made from a callback running under the
// role must not take it again (std::mutex is not recursive): it publishes.
thread_local bool holds_writer_role = false;

}  // namespace

// A pipeline stage: adapts the Disruptor's handler interface to the engine.
struct Engine::Stage {
  // kFused runs install, persist and complete in order on one thread: each
  // request is installed as it arrives, and at the end of the ring batch the
  // batch is persisted once (group commit) and its committers completed.
  enum class Kind { kInstall, kPersist, kComplete, kFused };
  Engine* engine;
  Kind kind;
  std::vector<PendingCommit*> pending;  // kFused: the batch so far
  bool holds_writer = false;            // kFused: writer_mu_ held for this batch

  // On the stage's thread, first: names it (/proc/PID/task/TID/comm, at
  // most 15 characters) so tools and load tests can tell it apart.
  void OnStart() {
    static constexpr const char* kNames[] = {"mvkv-install", "mvkv-persist",
                                             "mvkv-complete", "mvkv-commit"};
    pthread_setname_np(pthread_self(), kNames[static_cast<int>(kind)]);
  }

  void OnEvent(PendingCommit*& slot, int64_t /*sequence*/, bool end_of_batch) {
    PendingCommit& request = *slot;
    if (kind == Kind::kFused && engine->caller_runs_ && !holds_writer) {
      // Waits at most for one inline commit (TryCommitInline).
      engine->writer_mu_.lock();
      holds_writer = true;
      holds_writer_role = true;
    }
    switch (kind) {
      case Kind::kInstall:
        engine->Install(request);
        break;
      case Kind::kPersist:
        engine->Persist(request, end_of_batch);
        break;
      case Kind::kComplete:
        engine->Complete(request);
        break;
      case Kind::kFused:
        engine->Install(request);
        if (engine->options_.durability == nullptr) {
          engine->Complete(request);  // nothing to wait for
          break;
        }
        engine->Persist(request, end_of_batch);
        pending.push_back(&request);
        if (end_of_batch) {
          for (PendingCommit* r : pending) engine->Complete(*r);
          pending.clear();
        }
        break;
    }
    if (end_of_batch &&
        (kind == Kind::kInstall || kind == Kind::kFused)) {
      engine->EndInstallBatch();
    }
    if (end_of_batch && holds_writer) {
      holds_writer = false;
      holds_writer_role = false;
      engine->writer_mu_.unlock();
    }
  }
};

TxnState::~TxnState() {
  for (TVarWrite& w : tvar_writes) {
    if (w.version != nullptr) DeleteVersion(w.version);
  }
  if (slot != nullptr) engine->ReleaseSnapshot(this);
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(const Options& options) {
  if (options.limits.max_key_bytes == 0) {
    return absl::InvalidArgumentError("max_key_bytes must be at least 1");
  }
  if (options.commit_ring_size == 0 ||
      options.commit_ring_size > (std::size_t{1} << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit_ring_size must be in [1, 16777216], got ",
                     options.commit_ring_size));
  }
  if (options.watch_buffer_bytes != 0 &&
      options.watch_buffer_bytes < ChangeBuffer::kMinBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "watch_buffer_bytes must be 0 (no watches) or at least ",
        ChangeBuffer::kMinBytes, ", got ", options.watch_buffer_bytes));
  }
  if (options.max_watches == 0) {
    return absl::InvalidArgumentError("max_watches must be at least 1");
  }
  std::unique_ptr<Engine> engine(new Engine(options));
  if (options.durability != nullptr) {
    if (absl::Status s = engine->LoadDurableState(); !s.ok()) return s;
  }
  if (options.watch_buffer_bytes != 0) {
    engine->watches_ = std::make_shared<WatchHub>(options, engine->last_ts_);
  }
  engine->StartPipeline();
  return engine;
}

Engine::Engine(const Options& options)
    : options_(options),
      caller_runs_(!options.staged_pipeline && options.durability == nullptr) {}

absl::Status Engine::LoadDurableState() {
  uint64_t newest = 0;
  absl::StatusOr<uint64_t> last = options_.durability->Load(
      [&](std::string_view key, std::string_view value, uint64_t commit_ts) {
        InstallKey(key, value, /*tombstone=*/false, commit_ts);
        newest = std::max(newest, commit_ts);
      });
  if (!last.ok()) return last.status();
  if (newest > *last) {
    return absl::DataLossError(absl::StrCat(
        "durable state has a key committed at ", newest,
        " after the last persisted commit timestamp ", *last));
  }
  last_ts_ = *last;
  visible_ts_.store(last_ts_, std::memory_order_release);
  return absl::OkStatus();
}

void Engine::StartPipeline() {
  const std::size_t ring = std::bit_ceil(options_.commit_ring_size);
  // Consumers spin briefly, then yield, then park: a lone client keeps the
  // stage hot without a futex wake per commit, and idle stages cost nothing.
  pipeline_ = std::make_unique<disruptor::Disruptor<PendingCommit*>>(
      ring, disruptor::ProducerType::kMulti,
      disruptor::PhasedBackoffWaitStrategy(absl::Microseconds(2),
                                           absl::Milliseconds(2)));
  auto stage = [this](Stage::Kind kind) {
    stages_.push_back(std::make_unique<Stage>(Stage{this, kind}));
    return stages_.back().get();
  };
  if (!options_.staged_pipeline) {
    pipeline_->HandleEventsWith(*stage(Stage::Kind::kFused));
  } else {
    Stage* install = stage(Stage::Kind::kInstall);
    Stage* persist = stage(Stage::Kind::kPersist);
    Stage* complete = stage(Stage::Kind::kComplete);
    pipeline_->HandleEventsWith(*install).Then(*persist).Then(*complete);
  }
  pipeline_->Start();
  const absl::Duration tick = options_.maintenance_interval;
  if (tick > absl::ZeroDuration() && tick != absl::InfiniteDuration()) {
    maintenance_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "mvkv-maint");
      MaintenanceLoop();
    });
  }
}

void Engine::MaintenanceLoop() {
  const auto tick = absl::ToChronoNanoseconds(options_.maintenance_interval);
  std::unique_lock<std::mutex> lock(maintenance_mu_);
  while (!maintenance_cv_.wait_for(lock, tick,
                                   [this] { return maintenance_stop_; })) {
    lock.unlock();
    PendingCommit request;
    request.kind = PendingCommit::Kind::kMaintenance;
    Commit(request).IgnoreError();  // only fails on shutdown or a full ring
    lock.lock();
  }
}

void Engine::StopMaintenance() {
  {
    std::lock_guard<std::mutex> lock(maintenance_mu_);
    maintenance_stop_ = true;
  }
  maintenance_cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
}

void Engine::Close() {
  if (closed_) return;
  closed_ = true;
  StopMaintenance();
  // Drain: every commit published before this point completes (with its
  // real outcome) before the indexes go away. A completion callback may
  // publish another commit while the drain runs; whatever the stopped
  // pipeline did not reach gets Unavailable, so no callback is dropped.
  pipeline_->Shutdown();
  FailUnprocessed();
  // Nothing completes after the drain: watches return what is buffered.
  if (watches_ != nullptr) watches_->Close();
}

Engine::~Engine() {
  Close();
  pipeline_.reset();
  // No reader or writer is left: free the chains and records directly.
  std::vector<Record*> records;
  for (Record* r = ordered_.SeekForWriter(""); r != nullptr;
       r = OrderedIndex::NextForWriter(r)) {
    records.push_back(r);
  }
  for (Record* r : records) {
    Version* v = r->newest.load(std::memory_order_relaxed);
    while (v != nullptr) {
      Version* older = v->older.load(std::memory_order_relaxed);
      DeleteVersion(v);
      v = older;
    }
    DeleteRecord(r);
  }
}

// ---- Readers. ----

const Version* Engine::ReadAt(ReclaimDomain::Guard& guard, const Record* r,
                              uint64_t snapshot) {
  int slot = kVersionSlotA;
  // Acquire (via Protect) pairs with the writer's release stores in
  // InstallVersion and Prune: a reached version is fully built.
  // `r` and each version are protected (or kept alive) by the caller and
  // the previous step: they are the parents of the links read.
  for (const Version* v = guard.Protect(r->newest, slot, r); v != nullptr;) {
    if (v->commit_ts <= snapshot) return v;
    if (v->in_record) break;  // the oldest (version.h, Invariant 4)
    slot = slot == kVersionSlotA ? kVersionSlotB : kVersionSlotA;
    v = guard.Protect(v->older, slot, v);
  }
  return nullptr;
}

void Engine::MultiRead(
    absl::Span<const std::string_view> keys, uint64_t snapshot,
    absl::FunctionRef<void(std::size_t, const Version*)> visit) const {
  uint64_t hashes[kMultiReadGroup];
  for (std::size_t first = 0; first < keys.size(); first += kMultiReadGroup) {
    const std::size_t n = std::min(kMultiReadGroup, keys.size() - first);
    const std::string_view* group = keys.data() + first;
    // One short guard per group. The first three passes only prefetch; each
    // pass's loads hit what the previous one fetched.
    ReclaimDomain::Guard guard(ReclaimDomain::Default());
    for (std::size_t i = 0; i < n; ++i) {
      hashes[i] = HashIndex::Hash(group[i]);
      hash_.PrefetchSlot(guard, hashes[i]);
    }
    for (std::size_t i = 0; i < n; ++i) hash_.PrefetchRecord(guard, hashes[i]);
    for (std::size_t i = 0; i < n; ++i) {
      // Find protects the record while its `newest` is read; the version's
      // address is only prefetched (the last pass protects it).
      const Record* r = hash_.Find(guard, group[i], hashes[i]);
      if (r == nullptr) continue;
      // Relaxed: an address to prefetch, never dereferenced here.
      const Version* v = r->newest.load(std::memory_order_relaxed);
      if (v != nullptr && v != r->in_record_version()) {
        const char* bytes = reinterpret_cast<const char*>(v);
        __builtin_prefetch(bytes);
        __builtin_prefetch(bytes + Version::kPayloadOffset);
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      // Find again (a few instructions on cached lines): a record found in
      // the previous pass is no longer protected (kRecordSlot was reused).
      const Record* r = hash_.Find(guard, group[i], hashes[i]);
      const Version* v = nullptr;
      if (r != nullptr) {
        v = snapshot == kLatest ? ReadLatest(guard, r) : ReadAt(guard, r, snapshot);
      }
      visit(first + i, v);
    }
  }
}

std::vector<KeyValue> Engine::ScanAt(std::string_view start,
                                     std::string_view end, std::size_t limit,
                                     uint64_t snapshot) const {
  std::vector<KeyValue> out;
  ReclaimDomain::Guard guard(ReclaimDomain::Default());
  OrderedIndex::Cursor cursor(ordered_, guard);
  for (cursor.Seek(start); cursor.Valid(); cursor.Next()) {
    const Record* r = cursor.record();
    if (!end.empty() && r->key() >= end) break;
    const Version* v = ReadAt(guard, r, snapshot);
    if (v == nullptr || v->tombstone()) continue;
    out.push_back({std::string(r->key()), std::string(v->bytes()),
                   v->commit_ts});
    if (limit != 0 && out.size() >= limit) break;
  }
  return out;
}

// ---- Snapshots. ----

std::shared_ptr<TxnState> Engine::NewTxn(IsolationLevel isolation,
                                         uint64_t id) {
  auto txn = std::make_shared<TxnState>();
  txn->engine = this;
  txn->id = id != 0 ? id : NextTxnId();
  txn->isolation = isolation;
  txn->traits = &Traits(isolation);
  if (txn->traits->has_snapshot) {
    txn->slot = registry_.Acquire(txn->id, visible_ts_, &txn->snapshot_ts);
  }
  return txn;
}

void Engine::ReleaseSnapshot(TxnState* txn) {
  if (txn->slot == nullptr) return;
  registry_.Release(txn->slot);
  txn->slot = nullptr;
}

// ---- Commit. ----

absl::Status Engine::Publish(PendingCommit& request, bool wait_for_room) {
  if (failed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError(
        absl::StrCat("commits are stopped after a durability failure: ",
                     failure_.ToString()));
  }
  disruptor::Sequencer& sequencer = pipeline_->sequencer();
  // A claim on a halted ring with room would succeed and never be consumed
  // (a completion callback run by FailUnprocessed may try one).
  if (sequencer.IsHalted()) {
    return absl::UnavailableError("the database is shutting down");
  }
  absl::StatusOr<int64_t> seq =
      wait_for_room ? sequencer.NextFor(1, options_.commit_queue_timeout)
                    : sequencer.TryNext(1);
  if (!seq.ok()) {
    if (absl::IsCancelled(seq.status())) {
      return absl::UnavailableError("the database is shutting down");
    }
    if (!wait_for_room) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "commit pipeline is full (", pipeline_->ring().size(),
          " commits in flight)"));
    }
    return absl::ResourceExhaustedError(
        absl::StrCat("commit pipeline stayed full for ",
                     absl::FormatDuration(options_.commit_queue_timeout)));
  }
  pipeline_->ring()[*seq] = &request;
  sequencer.Publish(*seq);
  return absl::OkStatus();
}

bool Engine::RingIdle() const {
  return pipeline_->stage(0).sequence().Get() == pipeline_->sequencer().Cursor();
}

bool Engine::TryCommitInline(PendingCommit& request) {
  // Only with nothing claimed and not yet processed: an inline commit never
  // overtakes one published before it, and the idle pipeline thread is not
  // woken at all.
  if (holds_writer_role || pipeline_->sequencer().IsHalted() || !RingIdle()) {
    return false;
  }
  // Another committer holding the role finishes within a microsecond or
  // so: retry briefly rather than hand this commit to the pipeline thread.
  // Bound: kInlineAttempts tries.
  constexpr int kInlineAttempts = 64;
  bool taken = writer_mu_.try_lock();
  for (int i = 1; i < kInlineAttempts && !taken; ++i) {
    CpuRelax();
    if (!RingIdle()) return false;
    taken = writer_mu_.try_lock();
  }
  if (!taken) return false;
  std::lock_guard<std::mutex> writer(writer_mu_, std::adopt_lock);
  holds_writer_role = true;
  // The whole fused stage for a batch of one: install (with the snapshot
  // view collected for this batch), then complete. visible_ts is stored
  // under the writer role, so it still only grows.
  Install(request);
  AdvanceVisible(request);
  EndInstallBatch();
  // An async commit's callback runs here, still under the role: every
  // earlier commit's callback ran before the role was released (the fused
  // stage completes its batch under it), and no later commit installs
  // until this one returns, so callbacks stay in commit order, each after
  // visible_ts covers its commit. The request may be gone after this.
  if (request.on_complete != nullptr) NotifyCommitter(request);
  holds_writer_role = false;
  return true;
}

absl::Status Engine::Commit(PendingCommit& request) {
  if (caller_runs_ && request.kind == PendingCommit::Kind::kWrite &&
      TryCommitInline(request)) {
    return request.status;
  }
  if (absl::Status s = Publish(request, /*wait_for_room=*/true); !s.ok()) {
    return s;
  }
  WaitComplete(request.completed);
  return request.status;
}

void Engine::CommitAsync(PendingCommit& request) {
  if (caller_runs_ && request.kind == PendingCommit::Kind::kWrite &&
      TryCommitInline(request)) {
    return;  // completed and called back on this thread
  }
  absl::Status s = Publish(request, /*wait_for_room=*/false);
  // After a successful publish the request belongs to the pipeline.
  if (s.ok()) return;
  request.status = std::move(s);
  request.on_complete(request);
}

void Engine::NotifyCommitter(PendingCommit& request) {
  if (request.on_complete != nullptr) {
    request.on_complete(request);  // owns the request from here on
  } else {
    SignalComplete(request.completed);  // the request may vanish at once
  }
}

void Engine::FailUnprocessed() {
  disruptor::Sequencer& sequencer = pipeline_->sequencer();
  // The last stage added is the leaf (complete, or the fused stage).
  const int64_t completed =
      pipeline_->stage(pipeline_->num_stages() - 1).sequence().Get();
  const int64_t published =
      sequencer.HighestPublished(completed + 1, sequencer.Cursor());
  for (int64_t seq = completed + 1; seq <= published; ++seq) {
    PendingCommit& request = *pipeline_->ring()[seq];
    // Never made visible (visible_ts is not advanced here), so reporting
    // failure acknowledges nothing that is not there.
    request.status = absl::UnavailableError(
        "the database closed before this commit was processed");
    NotifyCommitter(request);
  }
}

absl::Status Engine::Checkpoint(const std::string& dir) {
  if (options_.durability == nullptr) {
    return absl::FailedPreconditionError(
        "checkpoints need durability: this database is in memory only");
  }
  return options_.durability->Checkpoint(dir);
}

absl::Status Engine::Sweep() {
  PendingCommit request;
  request.kind = PendingCommit::Kind::kSweep;
  return Commit(request);
}

std::shared_ptr<Record> Engine::NewTVarRecord(Version* initial) {
  Record* r = NewRecord("", 0, /*height=*/0);
  initial->commit_ts = 0;  // visible at every snapshot
  r->newest.store(initial, std::memory_order_release);
  r->chain_length = 1;
  versions_.fetch_add(1, std::memory_order_relaxed);
  version_bytes_.fetch_add(initial->footprint(), std::memory_order_relaxed);
  chains_.fetch_add(1, std::memory_order_relaxed);
  head_bytes_.fetch_add(initial->footprint(), std::memory_order_relaxed);
  // The last handle retires the record and its chain through reclaim/: a
  // reader may still be walking it.
  return std::shared_ptr<Record>(r, [this](Record* rec) {
    Version* v = rec->newest.load(std::memory_order_acquire);
    chains_.fetch_sub(1, std::memory_order_relaxed);
    head_bytes_.fetch_sub(v->footprint(), std::memory_order_relaxed);
    while (v != nullptr) {
      Version* older = v->older.load(std::memory_order_acquire);
      versions_.fetch_sub(1, std::memory_order_relaxed);
      version_bytes_.fetch_sub(v->footprint(), std::memory_order_relaxed);
      ReclaimDomain::Default().Retire(v, &DeleteVersion, v->footprint());
      v = older;
    }
    ReclaimDomain::Default().Retire(rec, &DeleteRecord, RecordFootprint(rec));
  });
}

Stats Engine::GetStats() const {
  Stats s;
  s.live_keys = live_keys_.load(std::memory_order_relaxed);
  s.index_keys = hash_.size();
  s.versions = versions_.load(std::memory_order_relaxed);
  s.version_bytes = version_bytes_.load(std::memory_order_relaxed);
  s.visible_ts = visible_ts();
  s.commits = commits_.load(std::memory_order_relaxed);
  s.aborts_write_conflict = aborts_write_.load(std::memory_order_relaxed);
  s.aborts_read_conflict = aborts_read_.load(std::memory_order_relaxed);
  s.aborts_snapshot_too_old = aborts_too_old_.load(std::memory_order_relaxed);
  s.pipeline_batches = batches_.load(std::memory_order_relaxed);
  const int64_t occupancy = pipeline_->Occupancy();
  s.pipeline_occupancy = occupancy > 0 ? static_cast<uint64_t>(occupancy) : 0;
  if (watches_ != nullptr) watches_->FillStats(&s);
  const reclaim::Counters c = ReclaimDomain::Default().GetCounters();
  s.reclaim_unreclaimed_objects = c.unreclaimed;
  s.reclaim_unreclaimed_bytes = c.unreclaimed_bytes;
  const uint64_t chains = chains_.load(std::memory_order_relaxed);
  s.retained_versions = s.versions > chains ? s.versions - chains : 0;
  s.retained_bytes = RetainedBytes();
  auto* self = const_cast<Engine*>(this);
  int64_t oldest_start = 0;
  self->registry_.ForEach([&](SnapshotRegistry::Slot& slot, uint64_t ts) {
    ++s.active_snapshots;
    if (s.oldest_snapshot_txn_id == 0 || ts < s.oldest_snapshot_ts) {
      s.oldest_snapshot_ts = ts;
      s.oldest_snapshot_txn_id = slot.txn_id.load(std::memory_order_relaxed);
      oldest_start = slot.start_unix_ns.load(std::memory_order_relaxed);
    }
  });
  if (s.oldest_snapshot_txn_id != 0) {
    s.oldest_snapshot_age = absl::Nanoseconds(
        std::max<int64_t>(0, absl::GetCurrentTimeNanos() - oldest_start));
  }
  return s;
}

}  // namespace mvkv::mvcc_internal
