// client/client_internal.h — what the files of the client library share
// beyond the wire conversions (client/wire.h): the stubs behind a Client.
// Private to client/.
//
// Thread safety: the stubs are thread-safe (gRPC's).
#ifndef MVKV_CLIENT_CLIENT_INTERNAL_H_
#define MVKV_CLIENT_CLIENT_INTERNAL_H_

#include <memory>

#include "client/client.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"

namespace mvkv::client {

struct Client::Stubs {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::KV::Stub> kv;
};

}  // namespace mvkv::client

#endif  // MVKV_CLIENT_CLIENT_INTERNAL_H_
