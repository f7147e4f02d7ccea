// A node's data directory: who it belongs to, and where libraft keeps its
// log and snapshots.
//
//   DIR/mvkv-node   "mvkv-node 1\ncluster_id ID\nnode_id N\n": written once
//                   (atomically) when the directory is first used; held
//                   with an exclusive flock while the node runs.
//   DIR/raft/       libraft's uv I/O: metadata1/2, log segments, snapshots.
//
// Open refuses, before writing anything: a directory of another cluster or
// another node (FailedPrecondition naming both), one in use by another
// process (FailedPrecondition), one holding other files but no identity
// (FailedPrecondition), a missing one without create_if_missing (NotFound),
// and unreadable ones (PermissionDenied, Unavailable). An empty data_dir
// gets a private temporary directory, $TMPDIR/mvkv-node-XXXXXX (TMPDIR
// unset: /tmp), removed by the destructor. A process killed with SIGKILL
// cannot remove its own, so each such Open first removes the ones left by
// dead processes (SweepStaleTemporaries).
//
// Thread safety: used by one thread.
#ifndef MVKV_REPLICATION_INTERNAL_NODE_DIR_H_
#define MVKV_REPLICATION_INTERNAL_NODE_DIR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replication/options.h"

namespace mvkv::replication_internal {

class NodeDir final {
 public:
  static absl::StatusOr<std::unique_ptr<NodeDir>> Open(
      const replication::NodeOptions& options);
  // How old (last modified) a temporary directory must be before a sweep
  // may remove it: it covers the moment between mkdtemp and the flock of
  // a node that is starting.
  static constexpr absl::Duration kStaleAfter = absl::Seconds(60);
  // Removes from `base` every directory named like a temporary one
  // (mvkv-node-XXXXXX), owned by this user, last modified at least
  // `stale_after` ago, and either empty or holding an identity file whose
  // flock is free (its process is gone: a live node, even in this
  // process, holds it). Everything else is left alone. Returns how many
  // were removed.
  static int SweepStaleTemporaries(const std::string& base,
                                   absl::Duration stale_after);
  // Unlocks; removes the directory if temporary.
  ~NodeDir();
  NodeDir(const NodeDir&) = delete;
  NodeDir& operator=(const NodeDir&) = delete;

  const std::string& raft_dir() const { return raft_dir_; }
  // True if libraft has never written here (a bootstrap may be done).
  bool fresh() const { return fresh_; }
  // Undoes what Open created, for a start that failed: the whole directory
  // if Open created it, else its identity and raft/ if they were new.
  void Abandon();

 private:
  NodeDir() = default;
  std::string path_;
  std::string raft_dir_;
  bool fresh_ = false;
  bool temporary_ = false;
  bool created_dir_ = false;       // Open made `path_`
  bool created_identity_ = false;  // Open wrote the identity and raft/
  int lock_fd_ = -1;
};

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_NODE_DIR_H_
