// Test helper: the KV service over a fresh Database, served by gRPC on
// 127.0.0.1 (a free port) inside the test process, with a channel to it.
// For tests of the service layer that need no separate server process.
//
// Thread safety: construct and destroy on one thread; the accessors may be
// used from any thread while it lives.
#ifndef MVKV_SERVER_TESTING_IN_PROCESS_SERVER_H_
#define MVKV_SERVER_TESTING_IN_PROCESS_SERVER_H_

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "mvcc/db.h"
#include "server/executor.h"
#include "server/kv_handler.h"
#include "server/kv_service.h"

namespace mvkv::server::testing {

struct InProcessOptions {
  Options db;
  HandlerOptions handler;
  int workers = 1;
  std::string auth_token;
};

class InProcessServer final {
 public:
  // Starts everything; check ok() before use.
  explicit InProcessServer(const InProcessOptions& options);
  // Stops gRPC, drains the workers, ends open transactions, then destroys
  // the service, the handler and the database in that order.
  ~InProcessServer();
  InProcessServer(const InProcessServer&) = delete;
  InProcessServer& operator=(const InProcessServer&) = delete;

  bool ok() const { return server_ != nullptr; }
  Database& db() { return *db_; }
  KvService& service() { return *service_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

 private:
  std::unique_ptr<Database> db_;
  std::unique_ptr<KvHandler> handler_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<KvService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace mvkv::server::testing

#endif  // MVKV_SERVER_TESTING_IN_PROCESS_SERVER_H_
