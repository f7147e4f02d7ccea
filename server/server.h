// mvkv_server's gRPC front end, as a library so tests can start it in-process.
//
// This first version serves the standard gRPC health-checking protocol
// (grpc.health.v1) and server reflection; the KV service joins it with the
// engine (see docs/ARCHITECTURE.md). A Server is started by Start() and is
// thread-safe: Shutdown() and Wait() may be called from any thread.
#ifndef MVKV_SERVER_SERVER_H_
#define MVKV_SERVER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace mvkv::server {

struct ServerOptions {
  // HOST:PORT to listen on. Port 0 picks a free port (see Server::port()).
  // Binds loopback by default: exposing the server is an explicit choice.
  std::string listen = "127.0.0.1:7070";
};

class Server final {
 public:
  // Binds and starts serving.
  // Returns InvalidArgument for a malformed `listen`, Unavailable when the
  // address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (useful with port 0).
  int port() const { return port_; }

  // Marks the server NOT_SERVING, stops accepting calls and waits up to
  // `grace` for calls in flight, then cancels the rest. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  // Blocks until Shutdown() has completed.
  void Wait();

 private:
  Server(std::unique_ptr<grpc::Server> server, int port);

  std::unique_ptr<grpc::Server> server_;
  int port_;
};

}  // namespace mvkv::server

#endif  // MVKV_SERVER_SERVER_H_
