// Test helper for vanished_client_test: connects to --server, opens a Session
// transaction (writes a key, so it holds a snapshot and a buffered write) and
// a transaction handle, prints "ready" and waits to be killed.
#include <cstdio>
#include <string>
#include <thread>

#include "client/client.h"
#include "grpcpp/grpcpp.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  mvkv::client::ClientOptions options;
  options.server = argv[1];
  auto client = mvkv::client::Client::Connect(options).value();
  auto txn = client->Begin(mvkv::v1::SERIALIZABLE);
  if (!txn.ok() || !(*txn)->Put("held/k", "v").ok()) return 3;
  grpc::ClientContext context;
  client->PrepareContext(&context, absl::Seconds(10));
  mvkv::v1::BeginTxnResponse handle;
  if (!client->stub()->BeginTxn(&context, {}, &handle).ok()) return 4;
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}
