// The database's watches: the change buffer they read, the limit on how many
// are open, their accounts, and the dispatch thread that runs
// Watch::NotifyWhenReady callbacks.
//
// Thread safety: buffer() as ChangeBuffer. Register, Unregister, Arm, Close
// and FillStats from any thread (they take mu_, which no commit ever
// takes). The dispatch thread probes armed watches under mu_; a watch's
// cursor belongs to the dispatch thread from Arm until its callback is taken
// (WatchCore documents the hand-over).
//
// Lifetime: shared by the engine and every open watch, so a watch may
// outlive its database. The engine calls Close() once the pipeline has
// drained: no append follows it.
#ifndef MVKV_MVCC_INTERNAL_WATCH_HUB_H_
#define MVKV_MVCC_INTERNAL_WATCH_HUB_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "mvcc/db.h"
#include "mvcc/internal/change_buffer.h"

namespace mvkv::mvcc_internal {

class WatchCore;

class WatchHub final {
 public:
  // REQUIRES: options.watch_buffer_bytes >= ChangeBuffer::kMinBytes.
  WatchHub(const Options& options, uint64_t last_ts);
  // Joins the dispatch thread if Close() did not.
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  ChangeBuffer& buffer() { return buffer_; }
  const Limits& limits() const { return limits_; }

  // After the last append: watches return what is buffered, then
  // Unavailable; armed callbacks run; the dispatch thread ends. Idempotent.
  void Close();
  // (C1) acquire pairs with Close's release store: once true, the buffer's
  // tail (loaded after) is final.
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Counts a new watch: ResourceExhausted past max_watches, Unavailable
  // after Close.
  absl::Status Register();
  // Forgets `core` (open or armed). Waits for a probe of it in progress.
  void Unregister(WatchCore* core);
  // Hands `core` to the dispatch thread, which calls its callback once
  // core->Ready(). After Close: runs `ready` inline instead.
  void Arm(WatchCore* core, absl::AnyInvocable<void() &&> ready);

  // A fresh watch id (for watches whose options leave it 0).
  uint64_t NextId() { return next_id_.fetch_add(1, std::memory_order_relaxed); }

  void CountEvent() { events_.fetch_add(1, std::memory_order_relaxed); }
  void CountSlowCancellation() {
    slow_cancellations_.fetch_add(1, std::memory_order_relaxed);
  }
  void FillStats(Stats* s) const;

 private:
  struct Armed {
    WatchCore* core;
    absl::AnyInvocable<void() &&> ready;
  };
  void DispatchLoop();
  // Moves the callbacks of every armed watch that is ready (all of them
  // once stopping) to `fire`; returns when the next progress event is due.
  // REQUIRES: mu_ held.
  absl::Time CollectReady(std::vector<Armed>* fire);

  const Limits limits_;
  const std::size_t max_watches_;
  ChangeBuffer buffer_;
  std::atomic<bool> closed_{false};

  mutable std::mutex mu_;
  std::size_t open_ = 0;       // guarded by mu_
  std::vector<Armed> armed_;   // guarded by mu_
  bool stop_ = false;          // guarded by mu_
  std::thread dispatcher_;     // started by the first Arm, under mu_

  std::atomic<uint64_t> next_id_{1};
  std::atomic<uint64_t> open_count_{0};  // open_, for FillStats
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> slow_cancellations_{0};
};

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_WATCH_HUB_H_
