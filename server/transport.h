// The gRPC transport settings of mvkv_server, in one place, so that bench's
// null service (bench/ycsb/null_server.cc), which measures what gRPC alone
// costs on a machine, pays exactly the same transport costs as the server.
//
// Thread safety: Configure is called before the server starts, from one
// thread.
#ifndef MVKV_SERVER_TRANSPORT_H_
#define MVKV_SERVER_TRANSPORT_H_

#include "grpcpp/server_builder.h"

namespace mvkv::server {

struct TransportOptions {
  // Largest request accepted (RESOURCE_EXHAUSTED beyond, from gRPC).
  int max_request_bytes = 4 << 20;
};

// Applies `options` and the server's fixed transport choices to `builder`:
// no SO_REUSEPORT (a second server must not silently share a port), the
// standard health service and server reflection.
void ConfigureTransport(const TransportOptions& options,
                        grpc::ServerBuilder* builder);

}  // namespace mvkv::server

#endif  // MVKV_SERVER_TRANSPORT_H_
