// One watch's state behind mvkv::Watch: its range and a cursor into the
// change buffer, the progress timer, and the sticky terminal error.
//
// Thread safety: the cursor fields (pos_, seen_ts_, progress_due_, error_,
// key_) belong to the consumer (Next, NextInto, NotifyWhenReady, WaitAny)
// except while a callback is armed, when they belong to the hub's notifier
// (Ready). The hand-over: NotifyWhenReady sets armed_, probes once on its
// own thread, then hands the watch over under the hub's mutex (which the
// notifier takes before probing); the notifier clears armed_ (release)
// before the callback runs; Next and WaitAny load armed_ (acquire) first and
// refuse while it is set. cancelled_ and progress_requested_ are set from
// any thread (seq_cst, then WatchHub::WakeWatchers: the conditions of
// EventCount's Dekker pair).
#ifndef MVKV_MVCC_INTERNAL_WATCH_CORE_H_
#define MVKV_MVCC_INTERNAL_WATCH_CORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "mvcc/db.h"
#include "mvcc/internal/watch_hub.h"

namespace mvkv::mvcc_internal {

class WatchCore final {
 public:
  // A watch from `start_ts` (kWatchFromNow: visible_ts + 1). The errors of
  // Database::Watch.
  static absl::StatusOr<std::unique_ptr<WatchCore>> Open(
      std::shared_ptr<WatchHub> hub, const WatchRange& range,
      uint64_t start_ts, const WatchOptions& options, uint64_t id,
      uint64_t visible_ts);
  ~WatchCore();  // unregisters (dropping an armed callback)
  WatchCore(const WatchCore&) = delete;
  WatchCore& operator=(const WatchCore&) = delete;

  // As Watch (mvcc/db.h).
  absl::StatusOr<WatchEvent> Next(absl::Time deadline);
  absl::Status NextInto(WatchEvent* event, absl::Time deadline);
  absl::Status NotifyWhenReady(absl::AnyInvocable<void() &&> ready);
  static absl::Status WaitAny(absl::Span<WatchCore* const> cores,
                              absl::Time deadline,
                              std::vector<std::size_t>* ready);
  void RequestProgress();
  void Cancel();

  // For whoever owns the cursor while armed (the notifier; the arming
  // thread before the hand-over): true if Next would return without
  // waiting. Moves the cursor past commits outside the range.
  bool Ready(absl::Time now) { return Step(nullptr, now); }
  absl::Time progress_due() const { return progress_due_; }
  // The notifier hands the cursor back (before the callback runs).
  void Disarm() { armed_.store(false, std::memory_order_release); }

  uint64_t id() const { return id_; }
  const WatchRange& range() const { return range_; }
  uint64_t start_ts() const { return start_ts_; }

 private:
  WatchCore(std::shared_ptr<WatchHub> hub, const WatchRange& range,
            uint64_t start_ts, const WatchOptions& options, uint64_t id,
            uint64_t pos);
  // Advances the cursor to the next thing Next returns and returns true:
  // an event written over *out (out == nullptr: only looks, leaving the
  // cursor on the commit found), or error_ set. False: nothing yet, and pos_ is
  // the tail it read.
  bool Step(WatchEvent* out, absl::Time now);
  // The commit at pos_: true as Step (an event, a look, an error); false
  // if it was outside the range or before start_ts (pos_ moved past it).
  bool StepRecord(WatchEvent* out, absl::Time now);
  // A progress interval is set; without one progress_due_ stays
  // InfiniteFuture and Step may be given any `now`.
  bool timed() const { return progress_interval_ != absl::InfiniteDuration(); }
  bool FellBehind();
  bool Compacted(uint64_t commit_ts, const char* why);
  // Waits until the tail moves past pos_ of one of `cores` (all of one
  // hub), a flag of one is raised or `until`.
  static void Wait(absl::Span<WatchCore* const> cores, absl::Time until);
  // Nothing for Next yet: no new record, no cancel, no progress request, not
  // closed (seq_cst loads: the re-check of Wait's Dekker pairs).
  bool Idle() const;

  const std::shared_ptr<WatchHub> hub_;
  ChangeBuffer& buffer_;
  const WatchRange range_;
  const uint64_t start_ts_;
  const uint64_t id_;
  const bool values_;
  const absl::Duration progress_interval_;

  // The cursor (see the thread-safety note).
  uint64_t pos_;
  // Every change in the range up to seen_ts_ has been returned.
  uint64_t seen_ts_;
  absl::Time progress_due_;
  absl::Status error_;  // terminal once not OK
  std::string key_;     // scratch for Decode

  std::atomic<bool> armed_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> progress_requested_{false};
};

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_WATCH_CORE_H_
