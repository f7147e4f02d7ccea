#include "replication/internal/node_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/files.h"

namespace mvkv::replication_internal {
namespace {

constexpr char kIdentityFile[] = "mvkv-node";
constexpr char kRaftSubdir[] = "raft";
constexpr char kMagicLine[] = "mvkv-node 1";

struct Identity {
  std::string cluster_id;
  uint64_t node_id = 0;
};

std::string Render(const Identity& id) {
  return absl::StrCat(kMagicLine, "\ncluster_id ", id.cluster_id,
                      "\nnode_id ", id.node_id, "\n");
}

absl::StatusOr<Identity> ReadIdentity(const std::string& file) {
  std::ifstream in(file);
  if (!in) return storage::FromErrno(errno, absl::StrCat("cannot read ", file));
  std::string magic, key1, key2;
  Identity id;
  std::getline(in, magic);
  in >> key1 >> id.cluster_id >> key2 >> id.node_id;
  if (magic != kMagicLine || key1 != "cluster_id" || key2 != "node_id" ||
      !in || id.node_id == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        file, " is not an mvkv node identity (or of an unknown format)"));
  }
  return id;
}

// Writes the identity atomically (a crash leaves no identity or the whole
// one).
absl::Status WriteIdentity(const std::string& dir, const Identity& id) {
  return storage::ReplaceFileDurably(dir, kIdentityFile, Render(id));
}

constexpr char kTemporaryPrefix[] = "mvkv-node-";
constexpr std::size_t kTemporarySuffix = 6;  // mkdtemp's XXXXXX

// True if `dir` (a temporary directory's path) belongs to no live node:
// it is empty, or its identity file's flock is free.
bool Abandoned(const std::string& dir) {
  const std::string identity = absl::StrCat(dir, "/", kIdentityFile);
  const int fd = ::open(identity.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::error_code ec;
    return errno == ENOENT && std::filesystem::is_empty(dir, ec) && !ec;
  }
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return free;
}

}  // namespace

int NodeDir::SweepStaleTemporaries(const std::string& base,
                                   absl::Duration stale_after) {
  const absl::Time cutoff = absl::Now() - stale_after;
  std::vector<std::string> stale;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(base, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != sizeof(kTemporaryPrefix) - 1 + kTemporarySuffix ||
        name.rfind(kTemporaryPrefix, 0) != 0) {
      continue;
    }
    const std::string path = it->path().string();
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
        st.st_uid == ::geteuid() && absl::FromTimeT(st.st_mtime) <= cutoff &&
        Abandoned(path)) {
      stale.push_back(path);
    }
  }
  int removed = 0;
  for (const std::string& path : stale) {
    std::error_code ignored;
    if (std::filesystem::remove_all(path, ignored) > 0) ++removed;
  }
  return removed;
}

absl::StatusOr<std::unique_ptr<NodeDir>> NodeDir::Open(
    const replication::NodeOptions& options) {
  std::unique_ptr<NodeDir> dir(new NodeDir());
  const Identity want{options.cluster_id, options.node_id};
  if (options.data_dir.empty()) {
    const char* tmpdir = std::getenv("TMPDIR");
    const std::string base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
    SweepStaleTemporaries(base, kStaleAfter);
    std::string templ = absl::StrCat(base, "/", kTemporaryPrefix, "XXXXXX");
    if (::mkdtemp(templ.data()) == nullptr) {
      return storage::FromErrno(errno, "cannot create a temporary node directory");
    }
    dir->path_ = templ;
    dir->temporary_ = true;
    dir->created_dir_ = true;
  } else {
    dir->path_ = options.data_dir;
    struct stat st;
    if (::stat(dir->path_.c_str(), &st) != 0) {
      if (errno != ENOENT) {
        return storage::FromErrno(errno, absl::StrCat("data directory ", dir->path_));
      }
      if (!options.create_if_missing) {
        return absl::NotFoundError(absl::StrCat(
            "data directory ", dir->path_,
            " does not exist (create_if_missing is off)"));
      }
      if (::mkdir(dir->path_.c_str(), 0755) != 0) {
        return storage::FromErrno(errno, absl::StrCat("cannot create data directory ",
                                         dir->path_, " (its parent must exist)"));
      }
      dir->created_dir_ = true;
    } else if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("data directory ", dir->path_, " is not a directory"));
    }
  }
  const std::string identity_path = absl::StrCat(dir->path_, "/", kIdentityFile);
  dir->raft_dir_ = absl::StrCat(dir->path_, "/", kRaftSubdir);
  absl::StatusOr<std::vector<std::string>> names = storage::ListDir(dir->path_);
  if (!names.ok()) return names.status();
  bool has_identity = false;
  for (const std::string& n : *names) has_identity |= n == kIdentityFile;
  if (has_identity) {
    absl::StatusOr<Identity> found = ReadIdentity(identity_path);
    if (!found.ok()) return found.status();
    if (found->cluster_id != want.cluster_id || found->node_id != want.node_id) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", dir->path_, " belongs to node ", found->node_id,
          " of cluster \"", found->cluster_id, "\", not to node ",
          want.node_id, " of cluster \"", want.cluster_id,
          "\"; refusing to use it"));
    }
  } else if (!names->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir->path_,
        " holds files but no mvkv node identity; refusing to write into it"));
  } else {
    if (absl::Status s = WriteIdentity(dir->path_, want); !s.ok()) {
      dir->Abandon();
      return s;
    }
    dir->created_identity_ = true;
  }
  dir->lock_fd_ = ::open(identity_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (dir->lock_fd_ < 0) {
    const absl::Status s = storage::FromErrno(errno, absl::StrCat("cannot open ", identity_path));
    dir->Abandon();
    return s;
  }
  if (::flock(dir->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const absl::Status s = absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir->path_,
        " is in use by another node process (its identity file is locked)"));
    dir->Abandon();
    return s;
  }
  if (::mkdir(dir->raft_dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    const absl::Status s =
        storage::FromErrno(errno, absl::StrCat("cannot create ", dir->raft_dir_));
    dir->Abandon();
    return s;
  }
  absl::StatusOr<std::vector<std::string>> raft_files = storage::ListDir(dir->raft_dir_);
  if (!raft_files.ok()) {
    dir->Abandon();
    return raft_files.status();
  }
  dir->fresh_ = raft_files->empty();
  return dir;
}

void NodeDir::Abandon() {
  std::error_code ignored;
  if (created_dir_) {
    std::filesystem::remove_all(path_, ignored);
  } else if (created_identity_) {
    std::filesystem::remove_all(raft_dir_, ignored);
    std::filesystem::remove(absl::StrCat(path_, "/", kIdentityFile), ignored);
  }
  created_dir_ = created_identity_ = false;
}

NodeDir::~NodeDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
  if (temporary_) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
}

}  // namespace mvkv::replication_internal
