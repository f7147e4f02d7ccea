#include "server/testing/in_process_server.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace mvkv::server::testing {

InProcessServer::InProcessServer(const InProcessOptions& options) {
  auto db = Database::Open(options.db);
  if (!db.ok()) return;
  db_ = *std::move(db);
  handler_ = std::make_unique<KvHandler>(db_.get(), options.handler);
  executor_ = std::make_unique<Executor>(options.workers, /*max_queue=*/64);
  service_ = std::make_unique<KvService>(handler_.get(), executor_.get(),
                                         nullptr, options.auth_token, false);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) return;
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                 grpc::InsecureChannelCredentials());
}

InProcessServer::~InProcessServer() {
  // Watch streams never end by themselves (Server::Shutdown does the same).
  if (service_ != nullptr) {
    service_->watch_streams().EndAll(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  }
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
  }
  if (executor_ != nullptr) executor_->Shutdown();
  if (handler_ != nullptr) handler_->CloseTxns();
  server_.reset();
  service_.reset();
  handler_.reset();
  db_.reset();
}

}  // namespace mvkv::server::testing
