// OpenPersistentDatabase: one call that opens a data directory with
// RocksDbDurability, loads it into a new mvkv::Database and returns both.
//
//   mvkv::storage::StorageOptions storage;
//   storage.dir = "/var/lib/mvkv";
//   storage.create_if_missing = true;
//   storage.progress = mvkv::storage::StderrLoadProgress(storage.dir);
//   auto opened = mvkv::storage::OpenPersistentDatabase(storage, {});
//   if (!opened.ok()) return opened.status();
//   opened->db->Put("k", "v");   // durable in sync mode once it returns
//
// Thread safety: OpenedDatabase::db is thread-safe like any Database; the
// OpenedDatabase itself is not (move or destroy it from one thread).
#ifndef MVKV_STORAGE_OPEN_H_
#define MVKV_STORAGE_OPEN_H_

#include <memory>

#include "absl/status/statusor.h"
#include "mvcc/db.h"
#include "storage/rocksdb_durability.h"

namespace mvkv::storage {

// Owns a Database and the durability layer under it. Destroys the Database
// first (it drains its pipeline into the durability layer), then closes
// RocksDB. Movable, not copyable.
struct OpenedDatabase {
  std::unique_ptr<RocksDbDurability> durability;
  std::unique_ptr<mvkv::Database> db;

  OpenedDatabase() = default;
  OpenedDatabase(OpenedDatabase&& other) = default;
  OpenedDatabase& operator=(OpenedDatabase&& other) noexcept;
  ~OpenedDatabase();
};

// Opens storage_options.dir (see RocksDbDurability::Open for the directory
// rules and errors), then Database::Open with options.durability set to it
// (options.durability must be nullptr; InvalidArgument otherwise). Load
// progress goes to storage_options.progress. Errors: those of
// RocksDbDurability::Open, Load (DataLoss) and Database::Open.
absl::StatusOr<OpenedDatabase> OpenPersistentDatabase(
    const StorageOptions& storage_options, mvkv::Options options);

}  // namespace mvkv::storage

#endif  // MVKV_STORAGE_OPEN_H_
