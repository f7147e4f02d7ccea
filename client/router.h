// client/router.h — which mvkv_server a call goes to. Private to client/.
//
// A client knows one or more servers (ClientOptions::server, a comma
// separated list: the members of a cluster). Calls go to the current one.
// After a failed attempt the router decides (Router::After) whether the
// call is sent again, and where:
//
//   * UNAVAILABLE with trailing metadata `mvkv-leader` (a cluster node that
//     does not lead refused the call, having done nothing): the named
//     leader becomes current (added to the list if new) and the call is
//     sent again; with an empty value (no leader known yet: an election)
//     the next server is tried after a back-off;
//   * the server could not be reached (its channel did not become ready, so
//     nothing was sent): the next server is tried after a back-off (with a
//     single server the error is returned at once);
//   * any other UNAVAILABLE (the connection broke during the call, the
//     server is shutting down): the next server becomes current; the call is
//     sent again only if it is a read (idempotent); a write or commit
//     returns the error, since it may or may not have committed;
//   * DEADLINE_EXCEEDED (a server that accepts connections but does not
//     answer, e.g. stopped with SIGSTOP: the call's whole timeout is spent
//     on it) is returned, and the next server becomes current;
//   * any other status is returned.
//
// Bounded: at most ClientOptions::max_attempts attempts, within one
// ClientOptions::timeout for the call as a whole; the back-off doubles from
// 25 ms up to 100 ms (BackOff). Short on purpose: while a cluster elects,
// a follower refuses in well under a millisecond and a dead node is known
// down at once (Reachable), so polling every 100 ms costs nearly nothing,
// and a longer pause is time the client sleeps after the new leader serves
// (bench/RESULTS.md, "failover_bench").
//
// Thread safety: thread-safe (a mutex guards the list and the current
// index). Endpoints live as long as the router.
#ifndef MVKV_CLIENT_ROUTER_H_
#define MVKV_CLIENT_ROUTER_H_

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"

namespace mvkv::client {

// The trailing metadata key naming the leader (server/cluster_mode.h).
inline constexpr char kLeaderMetadata[] = "mvkv-leader";

struct Endpoint {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::KV::Stub> kv;
};

class Router final {
 public:
  // `servers`: "HOST:PORT[,HOST:PORT...]". InvalidArgument if empty.
  static absl::StatusOr<std::unique_ptr<Router>> Create(
      const std::string& servers,
      std::shared_ptr<grpc::ChannelCredentials> credentials,
      grpc::ChannelArguments args);

  Endpoint* Current();
  // The servers known: those named and the leaders learned since.
  std::size_t size();

  // Whether `endpoint`'s channel is (or becomes, by `deadline`, waiting at
  // most 250 ms) connected: false = a call would not be sent. A channel in
  // TRANSIENT_FAILURE (its last connection attempt failed: a dead node) is
  // false at once; gRPC retries it in the background (client.cc's
  // reconnect back-off, 100 ms to 1 s).
  static bool Reachable(Endpoint* endpoint, absl::Time deadline);

  // The pause before attempt `attempt` + 1: 25 ms doubling, at most 100 ms.
  static absl::Duration BackOff(int attempt);

  // What to do after attempt number `attempt` (1-based) on `endpoint`
  // failed with `status`; `leader` is its mvkv-leader metadata if any and
  // `sent` whether the call reached the server. Sleeps the back-off when
  // it says retry. See the file comment.
  bool After(Endpoint* endpoint, const absl::Status& status,
             const std::optional<std::string>& leader, bool sent,
             bool idempotent, int attempt, int max_attempts,
             absl::Time deadline);

 private:
  Router(std::shared_ptr<grpc::ChannelCredentials> credentials,
         grpc::ChannelArguments args)
      : credentials_(std::move(credentials)), args_(std::move(args)) {}
  // REQUIRES: mu_ held.
  std::size_t IndexOf(const std::string& address);

  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const grpc::ChannelArguments args_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;  // only grows
  std::size_t current_ = 0;
};

// The value of `mvkv-leader` in `context`'s trailing metadata, if any.
std::optional<std::string> LeaderOf(const grpc::ClientContext& context);

}  // namespace mvkv::client

#endif  // MVKV_CLIENT_ROUTER_H_
