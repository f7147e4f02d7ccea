// Test helper for vanished_client_test: connects to --server, opens a Session
// transaction (writes a key, so it holds a snapshot and a buffered write) and
// a transaction handle, prints "ready" and waits to be killed.
#include <cstdio>
#include <string>
#include <thread>

#include "client/client.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  mvkv::client::ClientOptions options;
  options.server = argv[1];
  auto client = mvkv::client::Client::Connect(options).value();
  auto txn = client->Begin(mvkv::client::Isolation::kSerializable);
  if (!txn.ok() || !(*txn)->Put("held/k", "v").ok()) return 3;
  auto handle = client->BeginHandle();
  if (!handle.ok()) return 4;
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}
