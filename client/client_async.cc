// The Client's batched and asynchronous calls: Batch, BatchAsync, GetAsync,
// PutAsync (gRPC's callback API; no thread of ours waits). See client.h.
#include <memory>
#include <utility>
#include <vector>

#include "client/client.h"
#include "client/client_internal.h"
#include "client/wire.h"

namespace mvkv::client {
namespace {

using wire::FromGrpc;

// One call of the callback API: what must live until its completion.
template <class Request, class Response, class Done>
struct AsyncCall {
  grpc::ClientContext context;
  Request request;
  Response response;
  Done done;
};

v1::BatchRequest BatchRequestOf(const std::vector<Op>& ops) {
  v1::BatchRequest request;
  request.mutable_ops()->Reserve(static_cast<int>(ops.size()));
  for (std::size_t i = 0; i < ops.size(); ++i) {
    *request.add_ops() = wire::ToAutocommit(ops[i], i);
  }
  return request;
}

absl::StatusOr<std::vector<OpOutcome>> OutcomesOf(
    const absl::Status& status, v1::BatchResponse& response,
    const std::vector<Op::Kind>& kinds) {
  if (!status.ok()) return status;
  if (response.results_size() != static_cast<int>(kinds.size())) {
    return absl::InternalError("the server answered a batch of " +
                               std::to_string(kinds.size()) + " ops with " +
                               std::to_string(response.results_size()) +
                               " results");
  }
  std::vector<OpOutcome> out;
  out.reserve(kinds.size());
  for (int i = 0; i < response.results_size(); ++i) {
    out.push_back(wire::FromProto(*response.mutable_results(i), kinds[i]));
  }
  return out;
}

std::vector<Op::Kind> KindsOf(const std::vector<Op>& ops) {
  std::vector<Op::Kind> kinds;
  kinds.reserve(ops.size());
  for (const Op& op : ops) kinds.push_back(op.kind);
  return kinds;
}

}  // namespace

absl::StatusOr<std::vector<OpOutcome>> Client::Batch(
    const std::vector<Op>& ops) {
  // Routed like a unary write: a follower's refusal (nothing run) is sent
  // on to the leader; a broken call is not re-sent.
  absl::StatusOr<v1::BatchResponse> response =
      Rpc::Call(*this, &v1::KV::Stub::Batch, BatchRequestOf(ops));
  if (!response.ok()) return response.status();
  return OutcomesOf(absl::OkStatus(), *response, KindsOf(ops));
}

void Client::BatchAsync(
    const std::vector<Op>& ops,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<OpOutcome>>) &&>
        done) {
  struct Done {
    absl::AnyInvocable<void(absl::StatusOr<std::vector<OpOutcome>>) &&> done;
    std::vector<Op::Kind> kinds;
  };
  using Call = AsyncCall<v1::BatchRequest, v1::BatchResponse, Done>;
  auto* call = new Call;
  PrepareContext(&call->context, options_.timeout);
  call->request = BatchRequestOf(ops);
  call->done = Done{std::move(done), KindsOf(ops)};
  stubs_->kv().async()->Batch(
      &call->context, &call->request, &call->response,
      [call](grpc::Status s) {
        std::unique_ptr<Call> owned(call);
        std::move(owned->done.done)(
            OutcomesOf(FromGrpc(s), owned->response, owned->done.kinds));
      });
}

void Client::GetAsync(
    const std::string& key,
    absl::AnyInvocable<void(absl::StatusOr<KeyValue>) &&> done) {
  using Call = AsyncCall<v1::GetRequest, v1::GetResponse,
                         absl::AnyInvocable<void(absl::StatusOr<KeyValue>) &&>>;
  auto* call = new Call;
  PrepareContext(&call->context, options_.timeout);
  call->request.set_key(key);
  call->done = std::move(done);
  stubs_->kv().async()->Get(
      &call->context, &call->request, &call->response, [call](grpc::Status s) {
        std::unique_ptr<Call> owned(call);
        if (!s.ok()) return std::move(owned->done)(FromGrpc(s));
        std::move(owned->done)(
            wire::FromProto(std::move(*owned->response.mutable_kv())));
      });
}

void Client::PutAsync(
    const std::string& key, const std::string& value,
    absl::AnyInvocable<void(absl::StatusOr<uint64_t>) &&> done) {
  using Call = AsyncCall<v1::PutRequest, v1::PutResponse,
                         absl::AnyInvocable<void(absl::StatusOr<uint64_t>) &&>>;
  auto* call = new Call;
  PrepareContext(&call->context, options_.timeout);
  call->request.set_key(key);
  call->request.set_value(value);
  call->done = std::move(done);
  stubs_->kv().async()->Put(
      &call->context, &call->request, &call->response, [call](grpc::Status s) {
        std::unique_ptr<Call> owned(call);
        if (!s.ok()) return std::move(owned->done)(FromGrpc(s));
        std::move(owned->done)(owned->response.commit_ts());
      });
}

}  // namespace mvkv::client
