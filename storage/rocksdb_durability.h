// RocksDbDurability: the engine's persistence (mvcc/durability.h) on RocksDB.
//
// RocksDB holds the latest committed state of every key; the engine keeps all
// versions in memory and reads never touch RocksDB. Each call of
// PersistBatch() (one per commit-pipeline ring batch) becomes ONE
// rocksdb::WriteBatch: a put per written key (value prefixed with its 8-byte
// commit timestamp), a delete per tombstone, and the batch's last commit
// timestamp in a metadata column family. RocksDB applies a WriteBatch
// atomically, so after a crash a batch is recovered whole or not at all.
//
// Durability modes (StorageOptions::mode):
//   kSync   each batch is written with WriteOptions::sync: one fsync of the
//           write-ahead log per batch (group commit). An acknowledged commit
//           survives kill -9 and power loss.
//   kAsync  batches go to the write-ahead log without fsync: an acknowledged
//           commit survives a process crash (kill -9: the OS has the bytes)
//           but not an OS crash or power loss. A clean close syncs the log.
//   kNone   nothing is written. Open still loads what the directory holds,
//           so after a restart the state is the one left by the last
//           sync/async run; commits made in kNone mode are lost.
//
// On disk (`dir` is a RocksDB database, plus mvkv's MVKV_LOCK file and,
// while it is being created, MVKV_CREATING): column family "default" holds user
// keys as they are (arbitrary bytes) with value = big-endian commit ts (8
// bytes) + value bytes; column family "mvkv_meta" holds "format" ("1") and
// "last_commit_ts" (8 bytes, big-endian). Keeping metadata in its own column
// family means no user key can collide with it.
//
// Thread safety: as mvcc/durability.h requires. PersistBatch and Load are
// called by one thread at a time; Checkpoint and the counters may be called
// from any thread, concurrently with PersistBatch.
#ifndef MVKV_STORAGE_ROCKSDB_DURABILITY_H_
#define MVKV_STORAGE_ROCKSDB_DURABILITY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "mvcc/durability.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Env;
}  // namespace rocksdb

namespace mvkv::storage_internal {
class DirLock;
}  // namespace mvkv::storage_internal

namespace mvkv::storage {

enum class DurabilityMode { kSync, kAsync, kNone };

// Parses "sync", "async" or "none". InvalidArgument (naming the allowed
// values) for anything else.
absl::StatusOr<DurabilityMode> ParseDurabilityMode(std::string_view text);
// "sync", "async" or "none".
const char* DurabilityModeName(DurabilityMode mode);

// Progress of Load(), reported every StorageOptions::progress_every_keys keys
// or every second (whichever comes first), and once more at the end.
struct LoadProgress {
  uint64_t keys = 0;   // keys loaded so far
  uint64_t bytes = 0;  // key + value bytes loaded so far
  double seconds = 0;  // since Load() started
  double keys_per_second = 0;
  bool done = false;  // the final report
};

struct StorageOptions {
  // The data directory: a RocksDB database written by this class.
  std::string dir;
  DurabilityMode mode = DurabilityMode::kSync;
  // Directory rules at Open (a refused directory is left as it was):
  //   * `dir` missing: created (its parent must exist) if create_if_missing,
  //     else NotFound.
  //   * `dir` empty: a new database if create_if_missing, else NotFound.
  //   * `dir` holds an incomplete creation (MVKV_CREATING: a creating Open
  //     was killed or failed part-way): create_if_missing clears what it
  //     left and creates the database afresh (nothing was ever committed
  //     there); without it, FailedPrecondition saying so.
  //   * `dir` holds files but no database: FailedPrecondition, always (we
  //     never write into a directory we did not create).
  //   * `dir` is open in another process or instance: FailedPrecondition
  //     (mvkv's MVKV_LOCK, taken before RocksDB opens anything).
  // Creation is crash-safe: it marks the directory (MVKV_CREATING, synced)
  // before RocksDB creates anything and unmarks it (synced) only once the
  // database and its metadata are durable, so a kill or power loss at any
  // point leaves a directory that the next create_if_missing Open finishes.
  // See storage/internal/data_dir.h.
  // Off by default so that a mistyped path is an error, not a new, empty
  // database (the server's --create flag sets it).
  bool create_if_missing = false;
  // Called during Load() (on the loading thread). Empty = no reports.
  // StderrLoadProgress() prints them.
  std::function<void(const LoadProgress&)> progress;
  uint64_t progress_every_keys = 100000;
  // RocksDB's write buffer (memtable) size.
  std::size_t write_buffer_bytes = 64 << 20;
  // For tests: the rocksdb::Env to use (e.g. one whose file system fails
  // writes, see storage/testing/fault_injection_fs.h). Not owned; must
  // outlive the RocksDbDurability. nullptr = rocksdb::Env::Default().
  rocksdb::Env* env = nullptr;
};

// A progress callback that prints one line per report to stderr, e.g.
// "mvkv: loading /data: 1200000 keys, 137.3 MB, 812345 keys/s, 1.5 s".
std::function<void(const LoadProgress&)> StderrLoadProgress(std::string label);

class RocksDbDurability final : public mvkv::Durability {
 public:
  // Counters; cheap to read at any time.
  struct Counters {
    uint64_t batches = 0;      // PersistBatch calls that returned OK
    uint64_t commits = 0;      // commits in those batches
    uint64_t writes = 0;       // keys written or deleted in those batches
    uint64_t syncs = 0;        // WriteBatches written with sync (kSync only)
    uint64_t write_nanos = 0;  // time spent in rocksdb::DB::Write
  };

  // Opens (or creates, see StorageOptions::create_if_missing) the database in
  // options.dir, holding mvkv's lock on it until destroyed. Errors, each with
  // the directory and the cause in the message and nothing in a refused
  // directory changed:
  //   InvalidArgument     empty options.dir.
  //   NotFound            dir (or its parent) missing, or no database in it
  //                       and create_if_missing is false.
  //   PermissionDenied    dir or its files cannot be read or written.
  //   FailedPrecondition  dir is not a directory, holds files but no
  //                       database, holds an incomplete creation and
  //                       create_if_missing is false, holds a RocksDB
  //                       database that is not mvkv's (or of an unknown
  //                       format), or is in use (locked) by another process
  //                       or another open instance.
  //   DataLoss            the database is corrupt (CURRENT, MANIFEST, ...).
  //   Unavailable         other I/O errors.
  static absl::StatusOr<std::unique_ptr<RocksDbDurability>> Open(
      const StorageOptions& options);

  // Closes the database. In kAsync mode the write-ahead log is synced first,
  // so a clean shutdown loses nothing.
  ~RocksDbDurability() override;
  RocksDbDurability(const RocksDbDurability&) = delete;
  RocksDbDurability& operator=(const RocksDbDurability&) = delete;

  // See mvcc/durability.h. One WriteBatch per call (synced in kSync mode;
  // nothing written in kNone mode). On error (I/O error, disk full) returns
  // Unavailable, ResourceExhausted (no space) or DataLoss with RocksDB's
  // message; RocksDB then refuses further writes, and so do we.
  absl::Status PersistBatch(absl::Span<const DurableCommit> batch) override;

  // See mvcc/durability.h. Reports progress through options.progress.
  // DataLoss if a stored value is malformed.
  absl::StatusOr<uint64_t> Load(
      const std::function<void(std::string_view key, std::string_view value,
                               uint64_t commit_ts)>& sink) override;

  // Writes a RocksDB checkpoint (hard links to the immutable files plus a
  // copy of the rest) of everything persisted so far to `dir`, which must not
  // exist and whose parent must exist. The result is a data directory that
  // Open() accepts, with the same keys, values and commit timestamps.
  // AlreadyExists if `dir` exists; other errors as for Open.
  absl::Status Checkpoint(const std::string& dir) override;

  Counters GetCounters() const;
  DurabilityMode mode() const { return options_.mode; }
  const std::string& dir() const { return options_.dir; }

 private:
  RocksDbDurability(const StorageOptions& options, rocksdb::DB* db,
                    std::vector<rocksdb::ColumnFamilyHandle*> handles,
                    std::unique_ptr<storage_internal::DirLock> lock);
  // Writes a new database's metadata (format, last_commit_ts 0), synced.
  absl::Status InitMetadata();
  absl::StatusOr<uint64_t> ReadLastCommitTs();

  const StorageOptions options_;
  // mvkv's lock on options_.dir (storage/internal/data_dir.h); declared
  // before db_ so that it is released after the destructor closed RocksDB.
  std::unique_ptr<storage_internal::DirLock> lock_;
  rocksdb::DB* const db_;                              // owned
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; [data, meta]
  // Counters: written by the PersistBatch thread, read by anyone. Relaxed:
  // they order nothing.
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> write_nanos_{0};
};

}  // namespace mvkv::storage

#endif  // MVKV_STORAGE_ROCKSDB_DURABILITY_H_
