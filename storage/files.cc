#include "storage/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace mvkv::storage {

absl::Status FromErrno(int err, absl::string_view context) {
  absl::StatusCode code = absl::StatusCode::kUnavailable;
  switch (err) {
    case ENOENT:
      code = absl::StatusCode::kNotFound;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = absl::StatusCode::kPermissionDenied;
      break;
    case ENOTDIR:
      code = absl::StatusCode::kFailedPrecondition;
      break;
    case ENOSPC:
      code = absl::StatusCode::kResourceExhausted;
      break;
    default:
      break;
  }
  return absl::Status(code, absl::StrCat(context, ": ", std::strerror(err)));
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  // open + fdopendir rather than opendir: the same descriptor, but created
  // by a call ThreadSanitizer sees (it does not see opendir's internal open,
  // and took the closedir of a reused descriptor number for a race with the
  // descriptor's previous owner, a libuv eventfd of another node's thread).
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FromErrno(errno, absl::StrCat("cannot list ", dir));
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    const int err = errno;
    ::close(fd);
    return FromErrno(err, absl::StrCat("cannot list ", dir));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const absl::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  return names;
}

absl::Status SyncFd(int fd, absl::string_view what) {
  if (::fsync(fd) != 0) {
    return FromErrno(errno, absl::StrCat("cannot sync ", what));
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return FromErrno(errno, absl::StrCat("cannot open directory ", dir));
  }
  absl::Status s = SyncFd(fd, absl::StrCat("directory ", dir));
  ::close(fd);
  return s;
}

absl::Status ReplaceFileDurably(const std::string& dir, absl::string_view name,
                                absl::string_view contents) {
  const std::string path = absl::StrCat(dir, "/", name);
  const std::string tmp = absl::StrCat(path, ".tmp");
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return FromErrno(errno, absl::StrCat("cannot create ", tmp));
  absl::Status s;
  if (::write(fd, contents.data(), contents.size()) !=
      static_cast<ssize_t>(contents.size())) {
    s = FromErrno(errno, absl::StrCat("cannot write ", tmp));
  }
  if (s.ok()) s = SyncFd(fd, tmp);
  ::close(fd);
  if (!s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return FromErrno(errno, absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return SyncDir(dir);
}

}  // namespace mvkv::storage
