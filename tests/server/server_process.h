// Test helper: runs a real mvkv_server process (the Bazel `data` binary) on
// 127.0.0.1 with a free port, waits until it answers the health check with
// SERVING, and stops it at the end. Also spawns other binaries (the CLI) and
// reads a process' RSS.
#ifndef MVKV_TESTS_SERVER_SERVER_PROCESS_H_
#define MVKV_TESTS_SERVER_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/client.h"

namespace mvkv::testing {

// The contents of the file at `path` ("" if it cannot be read).
std::string ReadAll(const std::string& path);

// Path of a runfile, e.g. Runfile("server/mvkv_server").
std::string Runfile(const std::string& path);
// A fresh directory under TEST_TMPDIR.
std::string NewTempDir(const std::string& name);

class ServerProcess final {
 public:
  // Starts server/mvkv_server --listen=127.0.0.1:<port or 0> plus `args`,
  // logging to a file in TEST_TMPDIR, and waits (up to `timeout`) for the
  // log's "serving" line and a SERVING health check made with `probe`
  // (its server field is filled in).
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& args,
      client::ClientOptions probe = client::ClientOptions(), int port = 0,
      absl::Duration timeout = absl::Seconds(60));

  // SIGKILLs the server if still running.
  ~ServerProcess();

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  std::string address() const;
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

  // Sends `signal` and waits up to `timeout` for exit. Returns the exit code
  // (128 + signal if killed by one), or -1 on timeout (then SIGKILLs).
  int Stop(int signal, absl::Duration timeout = absl::Seconds(30));

  // Resident set size in KiB, from /proc/<pid>/status (0 if unreadable).
  long RssKb() const;

  // A client for this server with `options` (server field filled in).
  std::unique_ptr<client::Client> NewClient(
      client::ClientOptions options = client::ClientOptions()) const;

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  std::string log_path_;
};

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a path) with `stdin_text` on stdin and waits.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::string& stdin_text = "");

// A TCP socket connected to 127.0.0.1:`port` (the caller closes it), or -1.
int ConnectLoopback(int port);

// The response (status line, headers and body) of GET `path` from
// 127.0.0.1:`port` over HTTP/1.0 ("" if it cannot connect): a scrape of
// the server's --metrics_listen endpoint.
std::string HttpGet(int port, const std::string& path);

// Spawns `argv` with stdout to `out_path`; returns the pid (-1 on error).
pid_t SpawnProcess(const std::vector<std::string>& argv,
                   const std::string& out_path);

}  // namespace mvkv::testing

#endif  // MVKV_TESTS_SERVER_SERVER_PROCESS_H_
