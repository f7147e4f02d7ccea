// The file-system steps that storage/ and replication/ both take in their
// data directories, written once: errno as absl::Status, listing a
// directory, making a directory's entries durable, and replacing a small
// file durably. Failures carry the path and strerror.
//
// Thread safety: plain functions, no shared state.
#ifndef MVKV_STORAGE_FILES_H_
#define MVKV_STORAGE_FILES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mvkv::storage {

// An errno value as a status: ENOENT -> NotFound; EACCES, EPERM, EROFS ->
// PermissionDenied; ENOTDIR -> FailedPrecondition; ENOSPC ->
// ResourceExhausted; anything else Unavailable. The message is
// "<context>: <strerror>".
absl::Status FromErrno(int err, absl::string_view context);

// The names in `dir` other than "." and "..", in no particular order.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir);

// fsync(2) of an open descriptor; `what` names it in the error.
absl::Status SyncFd(int fd, absl::string_view what);

// fsync(2)s the directory itself: the files created, renamed or removed in
// it are durable once this returns OK.
absl::Status SyncDir(const std::string& dir);

// Replaces dir/name with `contents` so that a crash at any point leaves
// either the old file or the new one, whole: writes dir/name.tmp, fsyncs
// it, renames it over dir/name, fsyncs `dir`.
absl::Status ReplaceFileDurably(const std::string& dir, absl::string_view name,
                                absl::string_view contents);

}  // namespace mvkv::storage

#endif  // MVKV_STORAGE_FILES_H_
