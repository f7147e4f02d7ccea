// The request-handling layer of mvkv_server: executes the mvkv.v1 messages of
// proto/kv.proto against a Database, with no gRPC in sight.
//
// Every method validates its request against the server's limits first (an
// invalid request changes nothing) and returns absl::Status with the codes
// documented in proto/kv.proto; the gRPC layer (server/kv_service.h) maps
// them one to one.
//
// Calls that may commit come in two forms. The *Async ones never wait for a
// commit: they hand it to the engine (Txn::CommitAsync) and deliver the
// result through a Reply, inline when nothing is committed (bad input, a
// failed read, a read-only transaction) or else on the engine's completion
// thread once the commit is visible and durable (see mvkv::CommitCallback:
// a Reply must be short and must not block). The gRPC layer uses them, so no
// thread waits for a commit. The blocking forms (Put, Txn, Session::Handle,
// ...) are the same code plus a wait, for the fuzzer and tests. Reads and
// scans only compute and are blocking-free either way.
//
// Thread safety: KvHandler is thread-safe. A Session is used by one thread at
// a time, and its next request starts only after the previous one's reply
// (the gRPC layer runs one request of a stream at a time).
#ifndef MVKV_SERVER_KV_HANDLER_H_
#define MVKV_SERVER_KV_HANDLER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/retry.h"
#include "mvcc/db.h"
#include "proto/kv.pb.h"
#include "server/txn_table.h"

namespace mvkv::server {

// Input limits are the Database's (Options::limits, see Database::limits):
// the handler validates with the engine's own validators, so a request is
// judged by one rule whichever layer looks at it.
struct HandlerOptions {
  // Open transactions: their limit, lifetimes and (for tests) the reaper's
  // clock; see TxnTableOptions.
  TxnTableOptions txns;
  // Compares and ops per branch of a CompareAndCommit.
  int max_txn_ops = 1024;
  // Operations per Batch request and per Pipeline message (--max_batch_ops).
  int max_batch_ops = 1024;
  // Cap of the values a Batch's reads return in one response; reads past
  // it get ResourceExhausted (the server sets it to --max_request_bytes).
  std::size_t max_batch_response_bytes = 4 << 20;
  // How a CompareAndCommit retries conflicts (common/retry.h).
  common::RetryPolicy compare_and_commit_retry{
      .max_attempts = 16,
      .initial_backoff = absl::Microseconds(50),
      .max_backoff = absl::Milliseconds(10)};
  // Cap of every response that returns pairs: a streamed Scan's chunks and
  // each unary scan (see proto/kv.proto, Conventions).
  std::size_t max_response_bytes = 1 << 20;
};

class ScanStream;

class Session;

// The result of a call that may commit; called exactly once (see above).
template <class Response>
using Reply = absl::AnyInvocable<void(absl::StatusOr<Response>) &&>;

class KvHandler final {
 public:
  // `db` is not owned and must outlive the handler.
  KvHandler(Database* db, const HandlerOptions& options);
  ~KvHandler();
  KvHandler(const KvHandler&) = delete;
  KvHandler& operator=(const KvHandler&) = delete;

  // Autocommit calls (see proto/kv.proto for every code).
  absl::StatusOr<v1::GetResponse> Get(const v1::GetRequest& request);
  absl::StatusOr<v1::PutResponse> Put(const v1::PutRequest& request);
  absl::StatusOr<v1::DeleteResponse> Delete(const v1::DeleteRequest& request);
  // A streamed Scan: one snapshot, read one chunk at a time (ScanStream).
  absl::StatusOr<std::unique_ptr<ScanStream>> OpenScan(
      const v1::ScanRequest& request);
  // The whole streamed scan at once, as the chunks the stream sends.
  absl::StatusOr<std::vector<v1::ScanResponse>> Scan(
      const v1::ScanRequest& request);
  absl::StatusOr<v1::CompareAndCommitResponse> CompareAndCommit(
      const v1::CompareAndCommitRequest& request);
  v1::StatsResponse Stats();

  // Put and Delete without waiting for the commit. The request must stay
  // alive until the call returns (not until `reply` runs).
  void PutAsync(const v1::PutRequest& request, Reply<v1::PutResponse> reply);
  void DeleteAsync(const v1::DeleteRequest& request,
                   Reply<v1::DeleteResponse> reply);

  // A CompareAndCommit is run as attempts: validate once
  // (ValidateCompareAndCommit), then run CompareAndCommitAttemptAsync under
  // options().compare_and_commit_retry (common/retry.h: retry while
  // common::IsRetryable, waiting common::Backoff between attempts, at most
  // max_attempts). CompareAndCommit() is exactly that loop, blocking.
  absl::Status ValidateCompareAndCommit(
      const v1::CompareAndCommitRequest& request) const;
  void CompareAndCommitAttemptAsync(
      const v1::CompareAndCommitRequest& request,
      Reply<v1::CompareAndCommitResponse> reply);

  // Many autocommit operations (Batch, Pipeline; see proto/kv.proto). Each
  // op runs as the unary call of its kind would; its result (id copied,
  // code, message, the response) is written to *result, which must stay
  // alive until `done` runs. `done` runs exactly once: inline for reads, bad
  // input and a delete of a missing key, otherwise on the engine's
  // completion thread once the commit is visible and durable. The op must
  // stay alive until the call returns.
  void RunAsync(const v1::AutocommitOp& op, v1::AutocommitResult* result,
                absl::AnyInvocable<void() &&> done);
  // The reads of several ops at once, inline: results[i] answers gets[i]
  // (each a get). The one place reads are grouped, so a prefetching
  // Database::MultiGet can serve them. `budget` (may be null: no cap) is
  // the value bytes still allowed: once the values returned have used it
  // up, the later reads get ResourceExhausted and return no value.
  // REQUIRES: gets.size() == results.size().
  void ReadMany(const std::vector<const v1::AutocommitOp*>& gets,
                const std::vector<v1::AutocommitResult*>& results,
                std::size_t* budget);
  // InvalidArgument if `ops` is over options().max_batch_ops.
  absl::Status ValidateBatchSize(int ops) const;
  // A whole Batch: every op run (reads through ReadMany, capped at
  // options().max_batch_response_bytes), `reply` called once all have
  // their results. InvalidArgument (nothing run) past max_batch_ops. The
  // request must stay alive until the call returns.
  void BatchAsync(const v1::BatchRequest& request,
                  Reply<v1::BatchResponse> reply);
  absl::StatusOr<v1::BatchResponse> Batch(const v1::BatchRequest& request);

  // Handles. `peer` is the client's address (reported in Stats).
  absl::StatusOr<v1::BeginTxnResponse> BeginTxn(
      const v1::BeginTxnRequest& request, std::string peer = "");
  absl::StatusOr<v1::KeepAliveResponse> KeepAlive(
      const v1::KeepAliveRequest& request);
  absl::StatusOr<v1::GetResponse> TxnGet(const v1::TxnGetRequest& request);
  absl::StatusOr<v1::TxnPutResponse> TxnPut(const v1::TxnPutRequest& request);
  absl::StatusOr<v1::TxnDeleteResponse> TxnDelete(
      const v1::TxnDeleteRequest& request);
  absl::StatusOr<v1::ScanResponse> TxnScan(const v1::TxnScanRequest& request);
  absl::StatusOr<v1::CommitResponse> CommitTxn(
      const v1::CommitTxnRequest& request);
  void CommitTxnAsync(const v1::CommitTxnRequest& request,
                      Reply<v1::CommitResponse> reply);
  absl::StatusOr<v1::RollbackResponse> RollbackTxn(
      const v1::RollbackTxnRequest& request);

  // A new interactive session (one per Session stream) for the client at
  // `peer`. Destroying it rolls back its open transaction.
  std::unique_ptr<Session> NewSession(std::string peer = "");

  // A watch for a WatchCreateRequest (the stream's `watch_id`, already
  // checked unique): Database::Watch's errors as they are, plus
  // InvalidArgument for a request with no target. See rpc Watch.
  absl::StatusOr<std::unique_ptr<mvkv::Watch>> OpenWatch(
      const v1::WatchCreateRequest& request, uint64_t watch_id);

  // Rolls back every open transaction and refuses new ones (shutdown).
  void CloseTxns() { txns_.CloseAll(); }
  // One pass of the transaction reaper at `now` (expired leases, over-age
  // transactions). The reaper thread runs it; with
  // HandlerOptions::reaper_thread off, the caller does.
  void Reap(absl::Time now) { txns_.Reap(now); }

  const HandlerOptions& options() const { return options_; }
  // The most a read's result can hold: the largest key and value allowed.
  std::size_t MaxReadBytes() const {
    return db_->limits().max_key_bytes + db_->limits().max_value_bytes;
  }

 private:
  friend class Session;
  absl::Status ValidateKey(const std::string& key) const {
    return mvkv::ValidateKey(key, db_->limits());
  }
  absl::Status ValidateValue(const std::string& value) const {
    return mvkv::ValidateValue(value, db_->limits());
  }
  absl::Status ValidateRange(const std::string& start,
                             const std::string& end) const {
    return mvkv::ValidateRange(start, end, db_->limits());
  }
  absl::Status ValidateOp(const v1::Op& op) const;
  absl::Status ValidateCompare(const v1::Compare& c) const;
  // Runs one CompareAndCommit attempt inside `txn`.
  absl::Status RunCompareAndCommit(const v1::CompareAndCommitRequest& request,
                                   mvkv::Txn& txn,
                                   v1::CompareAndCommitResponse* response);

  // Operations on an entry (shared by sessions and handles). Each locks it,
  // and refuses (FailedPrecondition) while the entry's commit is in flight.
  absl::StatusOr<v1::GetResponse> EntryGet(TxnTable::Entry& entry,
                                           const std::string& key);
  absl::Status EntryPut(TxnTable::Entry& entry, const std::string& key,
                        const std::string& value);
  absl::Status EntryDelete(TxnTable::Entry& entry, const std::string& key);
  absl::StatusOr<v1::ScanResponse> EntryScan(TxnTable::Entry& entry,
                                             const std::string& start,
                                             const std::string& end,
                                             uint32_t limit);
  // One capped page of `txn`'s scan (options().max_response_bytes).
  absl::StatusOr<v1::ScanResponse> ScanPage(mvkv::Txn& txn,
                                            const std::string& start,
                                            const std::string& end,
                                            uint32_t limit) const;
  void EntryCommitAsync(std::shared_ptr<TxnTable::Entry> entry,
                        Reply<v1::CommitResponse> reply);
  absl::Status EntryRollback(TxnTable::Entry& entry);

  Database* const db_;
  const HandlerOptions options_;
  TxnTable txns_;
};

// A streamed Scan in progress: a snapshot held for the stream's life, read
// one chunk at a time. Used by one thread at a time.
class ScanStream final {
 public:
  ScanStream(std::unique_ptr<mvkv::Txn> txn, const v1::ScanRequest& request,
             uint32_t chunk_pairs, std::size_t chunk_bytes);
  // The next chunk; *last is set on the final one (which carries `more`
  // and `resume_key` when the request's limit cut the range short). An
  // error (snapshot too old) ends the stream.
  absl::StatusOr<v1::ScanResponse> Next(bool* last);

 private:
  std::unique_ptr<mvkv::Txn> txn_;
  std::string next_start_;
  const std::string end_;
  const uint32_t limit_;  // 0 = none
  uint32_t returned_ = 0;
  const uint32_t chunk_pairs_;
  const std::size_t chunk_bytes_;
};

// One Session stream's state: at most one open transaction at a time.
class Session final {
 public:
  Session(KvHandler* handler, std::string peer)
      : handler_(handler), peer_(std::move(peer)) {}
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Executes one request; errors are in the response's code and message.
  // A commit is handed to the engine and `reply` runs on its completion
  // thread; everything else runs inline. The request must stay alive until
  // the call returns.
  void HandleAsync(const v1::SessionRequest& request,
                   absl::AnyInvocable<void(v1::SessionResponse) &&> reply);
  // HandleAsync, waiting for the reply.
  v1::SessionResponse Handle(const v1::SessionRequest& request);

 private:
  absl::Status Dispatch(const v1::SessionRequest& request,
                        v1::SessionResponse* response);

  KvHandler* const handler_;
  const std::string peer_;
  std::shared_ptr<TxnTable::Entry> entry_;  // the current (or last) txn
};

// Maps a wire isolation level to the engine's; InvalidArgument if unknown.
absl::StatusOr<IsolationLevel> ToIsolation(int isolation);

}  // namespace mvkv::server

#endif  // MVKV_SERVER_KV_HANDLER_H_
