// The gRPC stubs behind a Client (client.cc and watch.cc share them).
#ifndef MVKV_CLIENT_STUBS_H_
#define MVKV_CLIENT_STUBS_H_

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

#endif  // MVKV_CLIENT_STUBS_H_
