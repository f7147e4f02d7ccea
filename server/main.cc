// mvkv_server: parses flags, starts the server, and shuts down gracefully on
// SIGINT or SIGTERM (exit 0). Everything else lives in server/server.h.
#include <csignal>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "server/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070",
          "HOST:PORT to serve gRPC on. Loopback by default; use 0.0.0.0:PORT "
          "to accept remote clients. Port 0 picks a free port.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mvkv_server: the mvkv key-value engine over gRPC.\n"
      "Usage: mvkv_server [--listen=HOST:PORT]");
  absl::ParseCommandLine(argc, argv);

  // Block the shutdown signals before any thread starts, then take them
  // synchronously on this thread: no async-signal-safety puzzles.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  mvkv::server::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  auto server = mvkv::server::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "mvkv_server: %s\n",
                 server.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "mvkv_server: serving on %s (port %d)\n",
               options.listen.c_str(), (*server)->port());

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::fprintf(stderr, "mvkv_server: %s received, shutting down\n",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Shutdown();
  (*server)->Wait();
  std::fprintf(stderr, "mvkv_server: stopped\n");
  return 0;
}
