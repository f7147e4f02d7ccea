// Conversions from RocksDB errors to absl::Status, for storage/.
//
// Thread safety: pure functions.
#ifndef MVKV_STORAGE_INTERNAL_STATUS_H_
#define MVKV_STORAGE_INTERNAL_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "storage/files.h"
#include "rocksdb/status.h"

namespace mvkv::storage_internal {

// Maps a RocksDB status to the canonical code that fits, keeping RocksDB's
// message after `context`:
//   ok -> OK; NotFound -> NotFound; Corruption -> DataLoss;
//   InvalidArgument -> InvalidArgument; NotSupported -> Unimplemented;
//   IOError: no space -> ResourceExhausted, "Permission denied" ->
//   PermissionDenied, path not found -> NotFound, else Unavailable;
//   Busy, TimedOut, TryAgain, ShutdownInProgress -> Unavailable;
//   Aborted -> Aborted; anything else -> Internal.
absl::Status FromRocksDb(const rocksdb::Status& status,
                         const std::string& context);

// errno values: storage/files.h (one mapping for storage/ and replication/).
using ::mvkv::storage::FromErrno;

}  // namespace mvkv::storage_internal

#endif  // MVKV_STORAGE_INTERNAL_STATUS_H_
