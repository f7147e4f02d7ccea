// LogBudget: keeps libraft's log bounded in bytes as well as in entries.
// libraft snapshots after `threshold` applied entries and keeps `trailing`
// entries after each snapshot, counts only; an entry here is a whole ring
// batch (up to thousands of commits), so a count alone bounds nothing
// useful. The loop thread reports every applied command entry; when the
// bytes applied since the last snapshot pass max_bytes, it lowers libraft's
// threshold to 1 (a snapshot right after this apply), and at each snapshot
// it picks a trailing count whose entries hold at most max_bytes / 4.
//
// Thread safety: the loop thread only.
#ifndef MVKV_REPLICATION_INTERNAL_LOG_BUDGET_H_
#define MVKV_REPLICATION_INTERNAL_LOG_BUDGET_H_

#include <cstdint>
#include <deque>

namespace mvkv::replication_internal {

class LogBudget final {
 public:
  LogBudget(uint32_t trailing, uint64_t max_bytes)
      : trailing_(trailing), max_bytes_(max_bytes) {}

  // A command entry of `bytes` was applied. True if a snapshot is due now.
  bool Applied(uint64_t bytes) {
    since_snapshot_ += bytes;
    recent_.push_back(bytes);
    if (recent_.size() > trailing_) recent_.pop_front();
    return since_snapshot_ >= max_bytes_;
  }
  // A snapshot of everything applied is being taken: the trailing count to
  // keep (the newest entries, up to `trailing`, within max_bytes / 4), and
  // never 0: libraft's uv I/O takes a snapshot put with trailing 0 for a
  // snapshot install and moves its next append index back to the snapshot,
  // which would overwrite entries appended after it.
  uint32_t SnapshotTaken() {
    since_snapshot_ = 0;
    uint64_t bytes = 0;
    uint32_t keep = 0;
    for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
      if (bytes + *it > max_bytes_ / 4) break;
      bytes += *it;
      ++keep;
    }
    return keep > 0 ? keep : 1;
  }
  // The log was replaced by a snapshot (a restore).
  void Reset() {
    since_snapshot_ = 0;
    recent_.clear();
  }
  uint64_t since_snapshot() const { return since_snapshot_; }

 private:
  const uint32_t trailing_;
  const uint64_t max_bytes_;
  uint64_t since_snapshot_ = 0;
  std::deque<uint64_t> recent_;  // sizes of the newest applied entries
};

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_LOG_BUDGET_H_
