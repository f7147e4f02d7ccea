// The bearer-token check the server's services share: one callable, made by
// the server from KvService::CheckAuth, handed to the Admin and Cluster
// services so that every service refuses a call the same way.
// Thread safety: the callable is called from gRPC threads concurrently; the
// server's one is thread-safe (it only reads the call's metadata).
#ifndef MVKV_SERVER_AUTH_CHECK_H_
#define MVKV_SERVER_AUTH_CHECK_H_

#include <functional>

#include "grpcpp/grpcpp.h"

namespace mvkv::server {

// OK, or UNAUTHENTICATED for a call without the server's token.
using AuthCheck = std::function<grpc::Status(grpc::CallbackServerContext*)>;

}  // namespace mvkv::server

#endif  // MVKV_SERVER_AUTH_CHECK_H_
