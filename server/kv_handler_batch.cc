// KvHandler's many-operation calls: one autocommit op into a result slot
// (RunAsync, for Pipeline and Batch), grouped reads (ReadMany) and a whole
// Batch. See kv_handler.h.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/kv_handler.h"
#include "server/kv_handler_internal.h"

namespace mvkv::server {

using handler_internal::AwaitReply;

namespace {

// Reads per group handed to Database::MultiGet: enough to overlap cache
// misses (it prefetches slots, records and versions of a group before reading
// any), small enough to stop near the response cap.
constexpr std::size_t kReadGroup = 32;

absl::Status CapReached() {
  return absl::ResourceExhaustedError(
      "batch response cap reached: this read's value is not returned; send "
      "it again (in a smaller batch)");
}

void SetError(const absl::Status& status, v1::AutocommitResult* result) {
  result->set_code(static_cast<int>(status.code()));
  result->set_message(std::string(status.message()));
}

// Stores a unary call's outcome in `result`: its response under `field`, or
// its code and message.
template <class Response, class Field>
void SetOutcome(absl::StatusOr<Response> outcome, v1::AutocommitResult* result,
                Field field) {
  if (!outcome.ok()) return SetError(outcome.status(), result);
  *(result->*field)() = *std::move(outcome);
}

}  // namespace

absl::Status KvHandler::ValidateBatchSize(int ops) const {
  if (ops <= options_.max_batch_ops) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(ops, " operations in one request: a Batch or Pipeline "
                        "message allows at most ",
                   options_.max_batch_ops, " (--max_batch_ops)"));
}

void KvHandler::RunAsync(const v1::AutocommitOp& op,
                         v1::AutocommitResult* result,
                         absl::AnyInvocable<void() &&> done) {
  result->set_id(op.id());
  switch (op.op_case()) {
    case v1::AutocommitOp::kGet:
      ReadMany({&op}, {result}, nullptr);
      break;
    case v1::AutocommitOp::kPut:
      return PutAsync(op.put(), [result, done = std::move(done)](
                                    absl::StatusOr<v1::PutResponse> r) mutable {
        SetOutcome(std::move(r), result, &v1::AutocommitResult::mutable_put);
        std::move(done)();
      });
    case v1::AutocommitOp::kDelete:
      return DeleteAsync(
          op.delete_(), [result, done = std::move(done)](
                            absl::StatusOr<v1::DeleteResponse> r) mutable {
            SetOutcome(std::move(r), result,
                       &v1::AutocommitResult::mutable_delete_);
            std::move(done)();
          });
    case v1::AutocommitOp::OP_NOT_SET:
      SetError(absl::InvalidArgumentError(absl::StrCat(
                   "operation ", op.id(),
                   " has no operation set (or one this server does not know)")),
               result);
      break;
  }
  std::move(done)();
}

void KvHandler::ReadMany(const std::vector<const v1::AutocommitOp*>& gets,
                         const std::vector<v1::AutocommitResult*>& results,
                         std::size_t* budget) {
  std::vector<std::string_view> keys;
  std::vector<std::size_t> latest;  // indexes of the reads of `keys`
  for (std::size_t start = 0; start < gets.size(); start += kReadGroup) {
    const std::size_t end = std::min(gets.size(), start + kReadGroup);
    keys.clear();
    latest.clear();
    for (std::size_t i = start; i < end; ++i) {
      const v1::GetRequest& get = gets[i]->get();
      v1::AutocommitResult* result = results[i];
      result->set_id(gets[i]->id());
      if (budget != nullptr && *budget == 0) {
        SetError(CapReached(), result);
      } else if (absl::Status s = ValidateKey(get.key()); !s.ok()) {
        SetError(s, result);
      } else if (get.snapshot_ts() != 0) {  // a past snapshot: rare, alone
        SetOutcome(Get(get), result, &v1::AutocommitResult::mutable_get);
      } else {
        keys.push_back(get.key());
        latest.push_back(i);
      }
    }
    std::vector<absl::StatusOr<ReadResult>> reads = db_->MultiGet(keys);
    for (std::size_t j = 0; j < latest.size(); ++j) {
      v1::AutocommitResult* result = results[latest[j]];
      if (!reads[j].ok()) {
        SetError(reads[j].status(), result);
        continue;
      }
      if (budget != nullptr) {
        if (*budget == 0) {
          SetError(CapReached(), result);
          continue;
        }
        *budget -= std::min(*budget, reads[j]->value.size());
      }
      v1::KeyValue* kv = result->mutable_get()->mutable_kv();
      kv->set_key(gets[latest[j]]->get().key());
      kv->set_value(std::move(reads[j]->value));
      kv->set_commit_ts(reads[j]->commit_ts);
    }
  }
}

void KvHandler::BatchAsync(const v1::BatchRequest& request,
                           Reply<v1::BatchResponse> reply) {
  if (absl::Status s = ValidateBatchSize(request.ops_size()); !s.ok()) {
    return std::move(reply)(s);
  }
  // Owned by the ops in flight; the last one to finish replies and frees it.
  struct State {
    v1::BatchResponse response;
    // acq_rel: each op's result happens before the reply reads them all.
    std::atomic<int> pending{1};
    Reply<v1::BatchResponse> reply;
    void Release() {
      if (pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      std::move(reply)(std::move(response));
      delete this;
    }
  };
  auto* state = new State;
  state->reply = std::move(reply);
  std::vector<const v1::AutocommitOp*> gets;
  std::vector<v1::AutocommitResult*> get_results;
  state->response.mutable_results()->Reserve(request.ops_size());
  for (int i = 0; i < request.ops_size(); ++i) {
    v1::AutocommitResult* result = state->response.add_results();
    if (request.ops(i).has_get()) {
      gets.push_back(&request.ops(i));
      get_results.push_back(result);
    }
  }
  std::size_t budget = options_.max_batch_response_bytes;
  ReadMany(gets, get_results, &budget);
  for (int i = 0; i < request.ops_size(); ++i) {
    if (request.ops(i).has_get()) continue;
    state->pending.fetch_add(1, std::memory_order_relaxed);  // before Release
    RunAsync(request.ops(i), state->response.mutable_results(i),
             [state] { state->Release(); });
  }
  state->Release();
}

absl::StatusOr<v1::BatchResponse> KvHandler::Batch(
    const v1::BatchRequest& request) {
  return AwaitReply(this, &KvHandler::BatchAsync, request);
}

}  // namespace mvkv::server
