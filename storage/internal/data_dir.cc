#include "storage/internal/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "storage/files.h"
#include "storage/internal/status.h"

namespace mvkv::storage_internal {
namespace {

std::string PathIn(const std::string& dir, std::string_view name) {
  return absl::StrCat(dir, "/", absl::string_view(name.data(), name.size()));
}

// The pid recorded in an open lock file, or "" if unreadable.
std::string HolderPid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  int pid = 0;
  if (n <= 0 ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, n)),
                        &pid)) {
    return "";
  }
  return absl::StrCat(" by process ", pid);
}

}  // namespace

absl::StatusOr<DirListing> ListDataDir(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = storage::ListDir(dir);
  if (!names.ok()) return names.status();
  DirListing listing;
  bool current = false, creating = false, other = false;
  for (const std::string& name : *names) {
    if (name == kLockFile) {
      listing.has_lock_file = true;
    } else if (name == kCreatingFile) {
      creating = true;
    } else {
      other = true;
      if (name == "CURRENT") current = true;
    }
  }
  if (creating) {
    listing.kind = DirListing::kIncomplete;
  } else if (current) {
    listing.kind = DirListing::kDatabase;
  } else if (other) {
    listing.kind = DirListing::kForeign;
  }
  return listing;
}

absl::StatusOr<std::unique_ptr<DirLock>> DirLock::Acquire(
    const std::string& dir, bool create) {
  const std::string path = PathIn(dir, kLockFile);
  const int fd =
      ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
  if (fd < 0) {
    return FromErrno(errno, absl::StrCat("cannot open lock file ", path));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = HolderPid(fd);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", dir,
          " is in use: locked by another process or another open instance (",
          path, " held", holder, "); nothing was changed"));
    }
    return FromErrno(err, absl::StrCat("cannot lock ", path));
  }
  return std::unique_ptr<DirLock>(new DirLock(fd));
}

void DirLock::RecordOwner() {
  const std::string pid = absl::StrCat(::getpid(), "\n");
  // For messages only: a failed write costs nothing else.
  if (::ftruncate(fd_, 0) == 0) {
    (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
  }
}

DirLock::~DirLock() { ::close(fd_); }  // releases the flock


absl::Status MarkCreationStarted(const std::string& dir) {
  const std::string path = PathIn(dir, kCreatingFile);
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return FromErrno(errno, absl::StrCat("cannot create ", path));
  constexpr std::string_view kText =
      "mvkv: a database is being created here; if this file remains, the "
      "creation was interrupted and --create finishes it\n";
  absl::Status s;
  if (::write(fd, kText.data(), kText.size()) !=
      static_cast<ssize_t>(kText.size())) {
    s = FromErrno(errno, absl::StrCat("cannot write ", path));
  }
  if (s.ok()) s = storage::SyncFd(fd, path);
  ::close(fd);
  if (!s.ok()) return s;
  return SyncDir(dir);
}

absl::Status ClearIncompleteCreation(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = storage::ListDir(dir);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    if (name == kLockFile || name == kCreatingFile) continue;
    const std::string path = PathIn(dir, name);
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", dir, " holds an incomplete creation and a ",
          "subdirectory ", name, " that no creation makes; not clearing it"));
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return FromErrno(errno, absl::StrCat("cannot remove ", path));
    }
  }
  return SyncDir(dir);
}

absl::Status MarkCreationFinished(const std::string& dir) {
  if (absl::Status s = SyncDir(dir); !s.ok()) return s;
  const std::string path = PathIn(dir, kCreatingFile);
  if (::unlink(path.c_str()) != 0) {
    return FromErrno(errno, absl::StrCat("cannot remove ", path));
  }
  return SyncDir(dir);
}

}  // namespace mvkv::storage_internal
