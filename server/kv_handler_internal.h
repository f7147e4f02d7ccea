// server/kv_handler_internal.h — helpers shared by kv_handler.cc (one-shot
// calls) and kv_handler_txn.cc (handles and sessions). Not part of the
// server's interface.
//
// Thread safety: the functions are stateless; Await blocks the caller.
#ifndef MVKV_SERVER_KV_HANDLER_INTERNAL_H_
#define MVKV_SERVER_KV_HANDLER_INTERNAL_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "mvcc/db.h"
#include "proto/kv.pb.h"
#include "server/kv_handler.h"

namespace mvkv::server::handler_internal {

// `key` in quotes, C-escaped, cut at 64 bytes: for error messages.
std::string Quoted(const std::string& key);

// Reads `key` in `txn` with the commit timestamp of the version read (0 for
// the transaction's own write). NotFound names the key.
absl::StatusOr<v1::KeyValue> ReadOne(Txn& txn, const std::string& key);

// Moves `page` into `out`, with the scan's snapshot.
void AppendPage(ScanPage& page, uint64_t snapshot_ts, v1::ScanResponse* out);

// Commits `txn` without waiting; once it is committed, fill(response,
// commit_ts) completes the response and `reply` gets it (any error instead,
// as is). `reply` runs inline or on the engine's completion thread.
template <class Response, class Fill>
void CommitAndReply(std::unique_ptr<Txn> txn, Response response,
                    Reply<Response> reply, Fill fill) {
  Txn* raw = txn.get();
  raw->CommitAsync([txn = std::move(txn), response = std::move(response),
                    reply = std::move(reply),
                    fill = std::move(fill)](absl::Status s) mutable {
    if (!s.ok()) return std::move(reply)(s);
    fill(response, txn->commit_ts());
    std::move(reply)(std::move(response));
  });
}

// Runs `start(done)` and waits for `done`: the blocking form of an async
// call. `done` may run inline or on another thread.
template <class Result, class Start>
Result Await(Start start) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result> result;
  };
  auto state = std::make_shared<State>();  // outlives a late notifier
  start([state](Result result) {
    std::lock_guard<std::mutex> lock(state->mu);
    state->result.emplace(std::move(result));
    state->cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(state->mu);
  state->cv.wait(lock, [&] { return state->result.has_value(); });
  return std::move(*state->result);
}

// The blocking form of one of KvHandler's async calls:
// (handler->*start)(request, done), then wait for `done`.
template <class Response, class Request>
absl::StatusOr<Response> AwaitReply(
    KvHandler* handler,
    void (KvHandler::*start)(const Request&, Reply<Response>),
    const Request& request) {
  return Await<absl::StatusOr<Response>>([&](Reply<Response> done) {
    (handler->*start)(request, std::move(done));
  });
}

}  // namespace mvkv::server::handler_internal

#endif  // MVKV_SERVER_KV_HANDLER_INTERNAL_H_
