#include "server/transport.h"

#include "grpc/grpc.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace mvkv::server {

void ConfigureTransport(const TransportOptions& options,
                        grpc::ServerBuilder* builder) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // gRPC sets SO_REUSEPORT by default, which lets a second server silently
  // share (and split) a port that is already serving: refuse instead.
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder->SetMaxReceiveMessageSize(options.max_request_bytes);
}

}  // namespace mvkv::server
