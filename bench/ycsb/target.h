// bench/ycsb/target.h — what the harness drives: one interface over the
// embedded engine, RocksDB, mvkv_server over gRPC (and etcd when built).
//
// Thread safety: a Target is shared by every worker; each worker calls
// NewSession() once and uses its Session from that thread only.
#ifndef MVKV_BENCH_YCSB_TARGET_H_
#define MVKV_BENCH_YCSB_TARGET_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mvkv::ycsb {

// The engine's two memory accounts, when the target has them.
struct EngineAccounts {
  uint64_t reclaim_unreclaimed_objects = 0;
  uint64_t reclaim_unreclaimed_bytes = 0;
  uint64_t retained_versions = 0;
  uint64_t retained_bytes = 0;
  uint64_t versions = 0;
  uint64_t aborts = 0;
};

// A held snapshot (stalled transaction); released when destroyed.
class StalledSnapshot {
 public:
  virtual ~StalledSnapshot() = default;
  // Called about once a second by the stall thread: networked targets renew
  // leases here (a slow client, not a dead one). Default: nothing.
  virtual void KeepAlive() {}
};

// Server threads parked in the server's reclaim domain (server-reclaim
// stall); Release() lets them go, and so does the destructor.
class ParkedServerThreads {
 public:
  virtual ~ParkedServerThreads() = default;
  virtual absl::Status Release() = 0;
};

class Session {
 public:
  virtual ~Session() = default;
  // NotFound is an error for Read and ReadModifyWrite (keys were loaded).
  virtual absl::Status Read(const std::string& key) = 0;
  virtual absl::Status Write(const std::string& key,
                             const std::string& value) = 0;
  virtual absl::Status Scan(const std::string& start, int count) = 0;
  // Reads `key` and writes modify(old) in one transaction; Aborted when the
  // target gave up after its retries.
  virtual absl::Status ReadModifyWrite(
      const std::string& key,
      const std::function<std::string(const std::string&)>& modify) = 0;
};

class Target {
 public:
  virtual ~Target() = default;
  virtual std::string name() const = 0;
  virtual absl::StatusOr<std::unique_ptr<Session>> NewSession() = 0;
  // Opens a transaction that holds its snapshot until released.
  // Unimplemented for targets without snapshots.
  virtual absl::StatusOr<std::unique_ptr<StalledSnapshot>> OpenStalledSnapshot(
      const std::string& key) = 0;
  // True when the process's own allocator holds the target's data (heap is
  // mallinfo2), false when another process does (heap is its RSS).
  virtual bool in_process() const = 0;
  // The server's pid for RSS sampling and thread: stalls, or -1.
  virtual pid_t server_pid() const { return -1; }
  virtual std::optional<EngineAccounts> Accounts() = 0;

  // OK when ParkServerThreads can work (mvkv_server started with
  // --allow_fault_injection); else why not. Default: Unimplemented.
  virtual absl::Status CanParkServerThreads() {
    return absl::UnimplementedError(
        "server-reclaim: stalls need mvkv_server (--target=grpc://... or "
        "--start_server); " + name() + " has no fault-injection hook");
  }
  // Parks `count` server threads in a reclaim guard (mvkv.v1.Admin).
  virtual absl::StatusOr<std::unique_ptr<ParkedServerThreads>> ParkServerThreads(
      int count) {
    return CanParkServerThreads();
  }
};

// "embedded", "rocksdb", "grpc://HOST:PORT", "etcd://HOST:PORT".
struct TargetOptions {
  std::string spec;
  pid_t server_pid = -1;
  std::string rocksdb_dir;       // empty: a fresh temp dir, removed after
  bool rocksdb_wal = false;
  int64_t rocksdb_cache_mb = 512;
};
absl::StatusOr<std::unique_ptr<Target>> OpenTarget(const TargetOptions& options);

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_TARGET_H_
