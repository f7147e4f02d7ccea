// The data directory around the RocksDB database: mvkv's own lock, and the
// marker that makes creation crash-safe. Private to storage/ (used by
// RocksDbDurability::Open).
//
// Two files of mvkv's own live beside RocksDB's:
//   MVKV_LOCK      an flock(2)ed lock file. Taken (exclusive, non-blocking)
//                  before RocksDB opens anything, held while the database is
//                  open, never deleted. A second process, or a second open
//                  in this one, fails to take it and so touches nothing
//                  (RocksDB's own DB::Open rotates the info LOG before it
//                  takes RocksDB's LOCK). Holds the owner's pid, for
//                  messages.
//   MVKV_CREATING  present while a database is being created. Written and
//                  made durable (file and directory fsynced) before RocksDB
//                  creates anything, removed (and the removal made durable)
//                  only after the new database and its metadata are durable.
//                  So a creation killed at any point leaves either an empty
//                  directory or one holding MVKV_CREATING, which a later
//                  --create clears and redoes, and a plain start reports as
//                  an incomplete creation.
//
// Thread safety: the functions are stateless; a DirLock belongs to one
// owner.
#ifndef MVKV_STORAGE_INTERNAL_DATA_DIR_H_
#define MVKV_STORAGE_INTERNAL_DATA_DIR_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/files.h"

namespace mvkv::storage_internal {

inline constexpr char kLockFile[] = "MVKV_LOCK";
inline constexpr char kCreatingFile[] = "MVKV_CREATING";

// What a data directory holds, judged by file names alone.
struct DirListing {
  enum Kind {
    kEmpty,       // nothing but (maybe) MVKV_LOCK
    kIncomplete,  // MVKV_CREATING: a creation that has not finished
    kDatabase,    // RocksDB's CURRENT, and no MVKV_CREATING
    kForeign,     // other files, neither CURRENT nor MVKV_CREATING
  };
  Kind kind = kEmpty;
  bool has_lock_file = false;
};

// Lists `dir` (read only). Errors: those of opendir(3), with the directory.
absl::StatusOr<DirListing> ListDataDir(const std::string& dir);

// An exclusive flock on dir/MVKV_LOCK, released on destruction.
class DirLock final {
 public:
  // Opens dir/MVKV_LOCK (creating it if `create`) and locks it without
  // waiting; writes nothing. FailedPrecondition if another process or
  // another open file description holds it, naming the directory, the lock
  // file and the holder's pid when it recorded one; errno-mapped errors
  // otherwise (NotFound if it does not exist and !create).
  static absl::StatusOr<std::unique_ptr<DirLock>> Acquire(
      const std::string& dir, bool create);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  // Records this process' pid in the lock file, for a loser's message.
  void RecordOwner();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  const int fd_;
};

// (SyncDir: storage/files.h.)
using ::mvkv::storage::SyncDir;

// Creates dir/MVKV_CREATING and makes it durable (the file and `dir`).
// REQUIRES: the DirLock of `dir` is held; `dir` is kEmpty.
absl::Status MarkCreationStarted(const std::string& dir);

// Removes every file in `dir` except MVKV_LOCK and MVKV_CREATING (what an
// interrupted creation left), then syncs `dir`. FailedPrecondition if it
// meets a subdirectory (no creation makes one); MVKV_CREATING stays, so a
// partial clear is still an incomplete creation.
// REQUIRES: the DirLock of `dir` is held; `dir` is kIncomplete.
absl::Status ClearIncompleteCreation(const std::string& dir);

// Syncs `dir`, removes MVKV_CREATING and syncs `dir` again: after it
// returns, `dir` is a complete database even after a power loss.
// REQUIRES: the DirLock is held; the database's files are durable.
absl::Status MarkCreationFinished(const std::string& dir);

}  // namespace mvkv::storage_internal

#endif  // MVKV_STORAGE_INTERNAL_DATA_DIR_H_
