// KvHandler's one-shot calls: validation, autocommit Get/Put/Delete/Scan,
// CompareAndCommit and Stats. Open transactions (handles, sessions) are in
// kv_handler_txn.cc. See kv_handler.h.
#include "server/kv_handler.h"

#include <malloc.h>

#include <algorithm>
#include <memory>
#include <string>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/kv_handler_internal.h"

namespace mvkv::server {

using handler_internal::AwaitReply;
using handler_internal::CommitAndReply;
using handler_internal::ReadOne;

namespace {

constexpr uint32_t kDefaultChunk = 256;

absl::string_view AsAbsl(const std::string& s) {
  return absl::string_view(s.data(), s.size());
}

template <class T>
bool Holds(v1::Compare::Result result, const T& actual, const T& operand) {
  switch (result) {
    case v1::Compare::EQUAL:
      return actual == operand;
    case v1::Compare::NOT_EQUAL:
      return actual != operand;
    case v1::Compare::LESS:
      return actual < operand;
    case v1::Compare::GREATER:
      return actual > operand;
    default:
      return false;
  }
}

}  // namespace

namespace handler_internal {

std::string Quoted(const std::string& key) {
  return absl::StrCat("\"", absl::CHexEscape(AsAbsl(key.substr(0, 64))),
                      key.size() > 64 ? "...\"" : "\"");
}

absl::StatusOr<v1::KeyValue> ReadOne(Txn& txn, const std::string& key) {
  auto read = txn.GetWithTimestamp(key);
  if (!read.ok()) return read.status();
  v1::KeyValue kv;
  kv.set_key(key);
  kv.set_value(std::move(read->value));
  kv.set_commit_ts(read->commit_ts);
  return kv;
}

void AppendPage(ScanPage& page, uint64_t snapshot_ts,
                v1::ScanResponse* out) {
  for (KeyValue& pair : page.kvs) {
    v1::KeyValue* kv = out->add_kvs();
    kv->set_key(std::move(pair.key));
    kv->set_value(std::move(pair.value));
    kv->set_commit_ts(pair.commit_ts);
  }
  out->set_snapshot_ts(snapshot_ts);
  out->set_more(page.more);
  if (page.more) out->set_resume_key(std::move(page.resume_key));
}

}  // namespace handler_internal

absl::StatusOr<IsolationLevel> ToIsolation(int isolation) {
  // The wire's levels and the engine's, row for row.
  static constexpr std::pair<v1::Isolation, IsolationLevel> kLevels[] = {
      {v1::SNAPSHOT, IsolationLevel::kSnapshot},
      {v1::SERIALIZABLE, IsolationLevel::kSerializable},
      {v1::READ_COMMITTED, IsolationLevel::kReadCommitted},
  };
  for (const auto& [wire, engine] : kLevels) {
    if (wire == isolation) return engine;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown isolation level ", isolation));
}

KvHandler::KvHandler(Database* db, const HandlerOptions& options)
    : db_(db),
      options_(options),
      txns_(db, options.txns) {}

KvHandler::~KvHandler() = default;

// ---- Validation. ----

absl::Status KvHandler::ValidateOp(const v1::Op& op) const {
  switch (op.op_case()) {
    case v1::Op::kGet:
      if (op.get().snapshot_ts() != 0) {
        return absl::InvalidArgumentError(
            "snapshot_ts must be 0 in a CompareAndCommit op");
      }
      return ValidateKey(op.get().key());
    case v1::Op::kPut:
      if (absl::Status s = ValidateKey(op.put().key()); !s.ok()) return s;
      return ValidateValue(op.put().value());
    case v1::Op::kDelete:
      return ValidateKey(op.delete_().key());
    case v1::Op::kScan:
      if (op.scan().snapshot_ts() != 0) {
        return absl::InvalidArgumentError(
            "snapshot_ts must be 0 in a CompareAndCommit op");
      }
      return ValidateRange(op.scan().start(), op.scan().end());
    case v1::Op::OP_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("CompareAndCommit op with no operation set");
}

absl::Status KvHandler::ValidateCompare(const v1::Compare& c) const {
  if (absl::Status s = ValidateKey(c.key()); !s.ok()) return s;
  if (!v1::Compare::Target_IsValid(c.target()) ||
      !v1::Compare::Result_IsValid(c.result())) {
    return absl::InvalidArgumentError("compare with unknown target or result");
  }
  if (c.target() == v1::Compare::EXISTS && c.result() != v1::Compare::EQUAL &&
      c.result() != v1::Compare::NOT_EQUAL) {
    return absl::InvalidArgumentError(
        "an EXISTS compare allows only EQUAL and NOT_EQUAL");
  }
  if (c.target() == v1::Compare::VALUE) return ValidateValue(c.value());
  return absl::OkStatus();
}

// ---- Autocommit calls. ----

absl::StatusOr<v1::GetResponse> KvHandler::Get(const v1::GetRequest& request) {
  if (absl::Status s = ValidateKey(request.key()); !s.ok()) return s;
  if (!v1::Consistency_IsValid(request.consistency())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown consistency ", request.consistency()));
  }
  v1::GetResponse response;
  // A STALE read reports the state it read at: read through a snapshot.
  if (request.snapshot_ts() == 0 && request.consistency() != v1::STALE) {
    auto read = db_->GetWithTimestamp(request.key());
    if (!read.ok()) return read.status();
    response.mutable_kv()->set_key(request.key());
    response.mutable_kv()->set_value(std::move(read->value));
    response.mutable_kv()->set_commit_ts(read->commit_ts);
    return response;
  }
  std::unique_ptr<mvkv::Txn> txn = db_->Begin(IsolationLevel::kSnapshot);
  if (request.snapshot_ts() != 0 &&
      txn->snapshot_ts() != request.snapshot_ts()) {
    return absl::OutOfRangeError(absl::StrCat(
        "snapshot_ts ", request.snapshot_ts(),
        " cannot be served: outside a transaction only the latest state (",
        txn->snapshot_ts(),
        ") is readable; use a transaction to read at one "
        "snapshot"));
  }
  auto kv = ReadOne(*txn, request.key());
  if (!kv.ok()) return kv.status();
  *response.mutable_kv() = std::move(*kv);
  response.set_snapshot_ts(txn->snapshot_ts());
  return response;
}

absl::StatusOr<v1::PutResponse> KvHandler::Put(const v1::PutRequest& request) {
  return AwaitReply(this, &KvHandler::PutAsync, request);
}

void KvHandler::PutAsync(const v1::PutRequest& request,
                         Reply<v1::PutResponse> reply) {
  if (absl::Status s = ValidateKey(request.key()); !s.ok()) {
    return std::move(reply)(s);
  }
  if (absl::Status s = ValidateValue(request.value()); !s.ok()) {
    return std::move(reply)(s);
  }
  // Read committed: a blind write never conflicts (last writer wins), like
  // Database::Put, but the Txn tells the commit timestamp.
  std::unique_ptr<mvkv::Txn> txn = db_->Begin(IsolationLevel::kReadCommitted);
  if (absl::Status s = txn->Put(request.key(), request.value()); !s.ok()) {
    return std::move(reply)(s);
  }
  CommitAndReply(std::move(txn), v1::PutResponse(), std::move(reply),
                 [](v1::PutResponse& r, uint64_t ts) { r.set_commit_ts(ts); });
}

absl::StatusOr<v1::DeleteResponse> KvHandler::Delete(
    const v1::DeleteRequest& request) {
  return AwaitReply(this, &KvHandler::DeleteAsync, request);
}

void KvHandler::DeleteAsync(const v1::DeleteRequest& request,
                            Reply<v1::DeleteResponse> reply) {
  if (absl::Status s = ValidateKey(request.key()); !s.ok()) {
    return std::move(reply)(s);
  }
  std::unique_ptr<mvkv::Txn> txn = db_->Begin(IsolationLevel::kReadCommitted);
  absl::StatusOr<std::string> old = txn->Get(request.key());
  if (absl::IsNotFound(old.status())) {  // commits nothing
    return std::move(reply)(v1::DeleteResponse());
  }
  if (!old.ok()) return std::move(reply)(old.status());
  if (absl::Status s = txn->Delete(request.key()); !s.ok()) {
    return std::move(reply)(s);
  }
  v1::DeleteResponse response;
  response.set_existed(true);
  CommitAndReply(std::move(txn), std::move(response), std::move(reply),
                 [](v1::DeleteResponse& r, uint64_t ts) { r.set_commit_ts(ts); });
}

absl::StatusOr<std::unique_ptr<ScanStream>> KvHandler::OpenScan(
    const v1::ScanRequest& request) {
  if (absl::Status s = ValidateRange(request.start(), request.end()); !s.ok()) {
    return s;
  }
  if (!v1::Consistency_IsValid(request.consistency())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown consistency ", request.consistency()));
  }
  std::unique_ptr<mvkv::Txn> txn = db_->Begin(IsolationLevel::kSnapshot);
  if (request.snapshot_ts() != 0 &&
      request.snapshot_ts() != txn->snapshot_ts()) {
    return absl::OutOfRangeError(absl::StrCat(
        "snapshot_ts ", request.snapshot_ts(),
        " cannot be served: outside a transaction only the latest state (",
        txn->snapshot_ts(), ") is readable"));
  }
  const uint32_t chunk =
      request.chunk_size() == 0 ? kDefaultChunk : request.chunk_size();
  return std::make_unique<ScanStream>(std::move(txn), request, chunk,
                                      options_.max_response_bytes);
}

ScanStream::ScanStream(std::unique_ptr<mvkv::Txn> txn,
                       const v1::ScanRequest& request, uint32_t chunk_pairs,
                       std::size_t chunk_bytes)
    : txn_(std::move(txn)),
      next_start_(request.start()),
      end_(request.end()),
      limit_(request.limit()),
      chunk_pairs_(chunk_pairs),
      chunk_bytes_(chunk_bytes) {}

absl::StatusOr<v1::ScanResponse> ScanStream::Next(bool* last) {
  const uint32_t left = limit_ == 0 ? chunk_pairs_ : limit_ - returned_;
  auto page = txn_->Scan(
      next_start_, end_,
      ScanLimits{.max_pairs = std::min(left, chunk_pairs_),
                 .max_bytes = chunk_bytes_});
  if (!page.ok()) return page.status();
  returned_ += page->kvs.size();
  const bool limit_reached = limit_ != 0 && returned_ >= limit_;
  *last = !page->more || limit_reached;
  if (!*last) next_start_ = page->resume_key;
  // Only the last chunk reports `more`: the range goes on past the limit.
  if (!limit_reached) page->more = false;
  v1::ScanResponse chunk;
  handler_internal::AppendPage(*page, txn_->snapshot_ts(), &chunk);
  return chunk;
}

absl::StatusOr<std::vector<v1::ScanResponse>> KvHandler::Scan(
    const v1::ScanRequest& request) {
  auto stream = OpenScan(request);
  if (!stream.ok()) return stream.status();
  std::vector<v1::ScanResponse> chunks;
  for (bool last = false; !last;) {
    auto chunk = (*stream)->Next(&last);
    if (!chunk.ok()) return chunk.status();
    chunks.push_back(*std::move(chunk));
  }
  return chunks;
}

absl::StatusOr<v1::ScanResponse> KvHandler::ScanPage(
    mvkv::Txn& txn, const std::string& start, const std::string& end,
    uint32_t limit) const {
  auto page = txn.Scan(start, end,
                       ScanLimits{.max_pairs = limit,
                                  .max_bytes = options_.max_response_bytes});
  if (!page.ok()) return page.status();
  v1::ScanResponse response;
  handler_internal::AppendPage(*page, txn.snapshot_ts(), &response);
  return response;
}

absl::Status KvHandler::RunCompareAndCommit(
    const v1::CompareAndCommitRequest& request, mvkv::Txn& txn,
    v1::CompareAndCommitResponse* response) {
  bool all_hold = true;
  for (const v1::Compare& c : request.compares()) {
    auto kv = ReadOne(txn, c.key());
    if (!kv.ok() && !absl::IsNotFound(kv.status())) return kv.status();
    const bool exists = kv.ok();
    bool holds = false;
    switch (c.target()) {
      case v1::Compare::VALUE:
        holds = exists && Holds(c.result(), kv->value(), c.value());
        break;
      case v1::Compare::VERSION:
        holds = Holds(c.result(), exists ? kv->commit_ts() : uint64_t{0},
                      c.version());
        break;
      default:  // EXISTS
        holds = Holds(c.result(), exists, c.exists());
        break;
    }
    if (!holds) {
      all_hold = false;
      break;
    }
  }
  response->set_succeeded(all_hold);
  const auto& ops = all_hold ? request.success() : request.failure();
  for (const v1::Op& op : ops) {
    v1::OpResult* result = response->add_results();
    switch (op.op_case()) {
      case v1::Op::kGet: {
        auto kv = ReadOne(txn, op.get().key());
        if (absl::IsNotFound(kv.status())) {
          result->set_not_found(true);
        } else if (!kv.ok()) {
          return kv.status();
        } else {
          *result->mutable_get()->mutable_kv() = std::move(*kv);
          result->mutable_get()->set_snapshot_ts(txn.snapshot_ts());
        }
        break;
      }
      case v1::Op::kPut:
        if (absl::Status s = txn.Put(op.put().key(), op.put().value());
            !s.ok()) {
          return s;
        }
        result->mutable_put();
        break;
      case v1::Op::kDelete: {
        auto old = ReadOne(txn, op.delete_().key());
        if (!old.ok() && !absl::IsNotFound(old.status())) return old.status();
        result->mutable_delete_()->set_existed(old.ok());
        if (absl::Status s = txn.Delete(op.delete_().key()); !s.ok()) return s;
        break;
      }
      case v1::Op::kScan: {
        auto page = ScanPage(txn, op.scan().start(), op.scan().end(),
                             op.scan().limit());
        if (!page.ok()) return page.status();
        *result->mutable_scan() = *std::move(page);
        break;
      }
      case v1::Op::OP_NOT_SET:
        return absl::InvalidArgumentError(
            "CompareAndCommit op with no operation set");
    }
  }
  return absl::OkStatus();
}

absl::Status KvHandler::ValidateCompareAndCommit(
    const v1::CompareAndCommitRequest& request) const {
  if (request.compares_size() > options_.max_txn_ops ||
      request.success_size() > options_.max_txn_ops ||
      request.failure_size() > options_.max_txn_ops) {
    return absl::InvalidArgumentError(
        absl::StrCat("a CompareAndCommit allows at most ",
                     options_.max_txn_ops, " compares and ops per branch"));
  }
  for (const v1::Compare& c : request.compares()) {
    if (absl::Status s = ValidateCompare(c); !s.ok()) return s;
  }
  for (const auto* branch : {&request.success(), &request.failure()}) {
    for (const v1::Op& op : *branch) {
      if (absl::Status s = ValidateOp(op); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

void KvHandler::CompareAndCommitAttemptAsync(
    const v1::CompareAndCommitRequest& request,
    Reply<v1::CompareAndCommitResponse> reply) {
  v1::CompareAndCommitResponse response;
  std::unique_ptr<mvkv::Txn> txn = db_->Begin(IsolationLevel::kSerializable);
  if (absl::Status s = RunCompareAndCommit(request, *txn, &response);
      !s.ok()) {
    return std::move(reply)(s);
  }
  CommitAndReply(std::move(txn), std::move(response), std::move(reply),
                 [](v1::CompareAndCommitResponse& response, uint64_t ts) {
                   response.set_commit_ts(ts);
                   for (v1::OpResult& r : *response.mutable_results()) {
                     if (r.has_put()) r.mutable_put()->set_commit_ts(ts);
                     if (r.has_delete_()) r.mutable_delete_()->set_commit_ts(ts);
                   }
                 });
}

absl::StatusOr<v1::CompareAndCommitResponse> KvHandler::CompareAndCommit(
    const v1::CompareAndCommitRequest& request) {
  if (absl::Status s = ValidateCompareAndCommit(request); !s.ok()) return s;
  return common::Retry(options_.compare_and_commit_retry, [&] {
    return AwaitReply(this, &KvHandler::CompareAndCommitAttemptAsync, request);
  });
}

v1::StatsResponse KvHandler::Stats() {
  const mvkv::Stats s = db_->GetStats();
  const TxnTableCounts c = txns_.Counts();
  v1::StatsResponse r;
  r.set_live_keys(s.live_keys);
  r.set_versions(s.versions);
  r.set_version_bytes(s.version_bytes);
  r.set_commits(s.commits);
  r.set_aborts_write_conflict(s.aborts_write_conflict);
  r.set_aborts_read_conflict(s.aborts_read_conflict);
  r.set_aborts_snapshot_too_old(s.aborts_snapshot_too_old);
  r.set_reclaim_unreclaimed_objects(s.reclaim_unreclaimed_objects);
  r.set_reclaim_unreclaimed_bytes(s.reclaim_unreclaimed_bytes);
  r.set_retained_versions(s.retained_versions);
  r.set_retained_bytes(s.retained_bytes);
  r.set_oldest_snapshot_ts(s.oldest_snapshot_ts);
  r.set_oldest_snapshot_txn_id(s.oldest_snapshot_txn_id);
  r.set_oldest_snapshot_age_ms(
      absl::ToInt64Milliseconds(s.oldest_snapshot_age));
  if (s.oldest_snapshot_txn_id != 0) {
    std::optional<TxnHolder> holder = txns_.Holder(s.oldest_snapshot_txn_id);
    r.set_oldest_snapshot_holder(holder.has_value() ? holder->kind : "call");
    if (holder.has_value()) r.set_oldest_snapshot_peer(holder->peer);
  }
  r.set_visible_ts(s.visible_ts);
  r.set_active_snapshots(s.active_snapshots);
  r.set_index_keys(s.index_keys);
  r.set_pipeline_batches(s.pipeline_batches);
  r.set_pipeline_occupancy(s.pipeline_occupancy);
  r.set_open_session_txns(c.open_sessions);
  r.set_open_handles(c.open_handles);
  r.set_expired_leases(c.expired_leases);
  r.set_expired_max_age(c.expired_max_age);
  r.set_watches(s.watches);
  r.set_watch_buffered_bytes(s.watch_buffered_bytes);
  r.set_watch_oldest_ts(s.watch_oldest_ts);
  r.set_watch_events(s.watch_events);
  r.set_watch_slow_cancellations(s.watch_slow_cancellations);
  // mallinfo2 visits every arena under its lock: cheap next to an RPC.
  const struct mallinfo2 heap = mallinfo2();
  r.set_process_heap_bytes(heap.uordblks + heap.hblkhd);
  return r;
}

}  // namespace mvkv::server
