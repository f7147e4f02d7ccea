// client/client_internal.h — what the files of the client library share
// beyond the wire conversions (client/wire.h): the stubs behind a Client
// (its router) and the one routed unary call path.
// Private to client/.
//
// Thread safety: the stubs are thread-safe (gRPC's).
#ifndef MVKV_CLIENT_CLIENT_INTERNAL_H_
#define MVKV_CLIENT_CLIENT_INTERNAL_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/router.h"
#include "client/wire.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"

namespace mvkv::client {

struct Client::Stubs {
  std::unique_ptr<Router> router;
  // The current server's stub, for the calls that are not retried by the
  // router (asynchronous calls, Watch streams, a Pipeline that does not
  // follow): they go to the server the client's last routed call found,
  // and fail as that server answers.
  v1::KV::Stub& kv() { return *router->Current()->kv; }
};

// A unary call on a client's KV stub, with its token and deadline, routed
// and retried as client/router.h says; `pinned` (a handle's server) is the
// only server tried when set.
struct Rpc {
  template <class Request, class Response>
  static absl::StatusOr<Response> Call(
      Client& client,
      grpc::Status (v1::KV::Stub::*method)(grpc::ClientContext*,
                                           const Request&, Response*),
      const Request& request, bool idempotent = false,
      Endpoint* pinned = nullptr, Endpoint** used = nullptr) {
    const absl::Time deadline = absl::Now() + client.options_.timeout;
    absl::Status s;
    for (int attempt = 1;; ++attempt) {
      Endpoint* endpoint =
          pinned != nullptr ? pinned : client.stubs_->router->Current();
      grpc::ClientContext context;
      client.PrepareContext(&context, deadline - absl::Now());
      const bool sent = Router::Reachable(endpoint, deadline);
      Response response;
      if (sent) {
        s = wire::FromGrpc(((*endpoint->kv).*method)(&context, request,
                                                     &response));
        if (s.ok()) {
          if (used != nullptr) *used = endpoint;
          return response;
        }
      } else {
        s = absl::UnavailableError(
            absl::StrCat("cannot connect to ", endpoint->address));
      }
      if (pinned != nullptr ||
          !client.stubs_->router->After(
              endpoint, s, sent ? LeaderOf(context) : std::nullopt, sent,
              idempotent, attempt, client.options_.max_attempts, deadline)) {
        return s;
      }
    }
  }
};

}  // namespace mvkv::client

#endif  // MVKV_CLIENT_CLIENT_INTERNAL_H_
