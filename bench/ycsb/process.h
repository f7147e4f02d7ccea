// bench/ycsb/process.h — child processes the harness starts on request:
// mvkv_server (--start_server) and etcd (--start_etcd), on 127.0.0.1 only.
//
// Thread safety: not thread-safe; owned by main.
#ifndef MVKV_BENCH_YCSB_PROCESS_H_
#define MVKV_BENCH_YCSB_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/ycsb/exit_guard.h"

namespace mvkv::ycsb {

class ChildProcess final {
 public:
  // Starts `binary` --listen=127.0.0.1:0 plus `args` with stderr to a log
  // file, and waits up to 60 s for its JSON "serving" log line.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> StartMvkvServer(
      const std::string& binary, const std::vector<std::string>& args);
  // Starts etcd on a free loopback port with a fresh data directory and
  // waits until it accepts TCP connections.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> StartEtcd(
      const std::string& binary);

  // SIGTERM, then SIGKILL after 10 s; removes a data directory it made. The
  // same happens when the harness gets SIGINT/SIGTERM/SIGHUP (exit_guard.h);
  // if the harness dies otherwise the child gets SIGTERM (PR_SET_PDEATHSIG).
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }

 private:
  ChildProcess() = default;
  void WatchForExit();  // registers Terminate() with the exit guard
  void Terminate();
  pid_t pid_ = -1;
  std::unique_ptr<ExitHook> exit_hook_;
  std::string address_;
  std::string log_path_;
  std::string data_dir_;
};

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_PROCESS_H_
