// Applier: the thread that feeds a replica's engine what the Raft log
// applied, in log order. libraft's loop thread must never block, and the
// engine's entry points block (on a full ring, or behind a local batch
// waiting for the loop thread itself), so the loop thread only queues here.
//
// Items: a replicated batch (Replica::Apply), a snapshot to restore
// (Replica::Restore; the buffer is libraft's, freed here), and "accept" /
// "refuse" local commits (Replica::AcceptLocalCommits / RefuseLocalCommits).
// Because "accept" is queued behind every batch the log applied before it, a
// new leader's engine accepts local commits only after it installed all of
// them: its timestamps resume after the last applied commit.
//
// The queue is not bounded by count: it holds what the log committed and the
// engine has not installed yet (at most the log entries applied in one go,
// e.g. after a restart or a stall), and the log itself is bounded.
//
// Thread safety: Push, queued and Stop from any thread; callbacks run on the
// applier thread and must not block.
#ifndef MVKV_REPLICATION_INTERNAL_APPLIER_H_
#define MVKV_REPLICATION_INTERNAL_APPLIER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "mvcc/replica.h"
#include "replication/codec.h"

namespace mvkv::replication_internal {

// A buffer from raft_malloc, released with raft_free.
struct RaftFree {
  void operator()(char* p) const;
};
using RaftBytes = std::unique_ptr<char, RaftFree>;

struct ApplierItem {
  enum class Kind { kApply, kRestore, kAccept, kRefuse };
  Kind kind = Kind::kApply;
  replication::DecodedBatch batch;  // kApply
  RaftBytes snapshot;               // kRestore: a whole snapshot record
  std::size_t snapshot_size = 0;
  uint64_t term = 0;     // kAccept: reported back with the resume timestamp
  absl::Status refusal;  // kRefuse
};

class Applier final {
 public:
  // Called on the applier thread: local commits accepted for `term`, after
  // the commit at `last_ts`; or the engine refused an item (divergence):
  // the applier stops.
  using OnAccepted = std::function<void(uint64_t term, uint64_t last_ts)>;
  using OnFailed = std::function<void(absl::Status)>;

  Applier(Replica* replica, OnAccepted on_accepted, OnFailed on_failed);
  ~Applier();  // Stop()
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;

  void Push(ApplierItem item);
  // Items queued and not yet done.
  std::size_t queued() const;
  // Finishes the item in progress, drops the rest, joins. Idempotent.
  void Stop();

 private:
  void Run();
  absl::Status Execute(ApplierItem& item);

  Replica* const replica_;
  const OnAccepted on_accepted_;
  const OnFailed on_failed_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ApplierItem> items_;  // guarded by mu_
  bool busy_ = false;              // guarded by mu_
  bool stop_ = false;              // guarded by mu_
  std::thread thread_;
};

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_APPLIER_H_
