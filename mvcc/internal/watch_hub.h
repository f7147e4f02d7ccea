// The database's watches: the change buffer they read, the limit on how many
// are open, their accounts, and the notifier thread that turns appends into
// wake-ups and runs Watch::NotifyWhenReady callbacks.
//
// Why a notifier: the appender (a commit's complete step) must not pay for
// watchers. It wakes at most two threads per append, whatever the number of
// watches: a consumer blocked in Next or Watch::WaitAny while it is the
// only one (kDirectWakes), and the notifier while it sleeps. With more
// consumers blocked the notifier fans the wake-up out (events()); it also
// probes the armed watches and runs their callbacks. The lone consumer is woken
// by the appender itself because a wake-up passed on through the notifier costs
// a second scheduler delay (bench/RESULTS.md, "Watch in process at half peak,
// per stage"). After each append or callback the notifier spins (CPU pauses,
// not yields: a yield on a loaded machine can cost a whole time slice of
// latency) for kNotifierSpin, so commits closer together than that cost the
// appender no system call for it. With no watch armed and at most kDirectWakes
// consumers waiting it parks on kick_ and the appender does not even see it.
//
// The notifier's states and who moves it:
//   busy     processing a tail move or a poke, or spinning (kNotifierSpin)
//   watching asleep on buffer().appended(): an append, a poke (Poke: an
//            armed watch may be ready, or a timer changed) or Close wakes it
//   idle     asleep on kick_ (notifier_idle_ set): nothing needs it; a
//            consumer about to block in Next beside another, an Arm, or
//            Close wakes it
// Dekker pairs (all seq_cst, see event_count.h):
//   (H1) consumer: events().BeginWait(), then WakeNotifierIfIdle loads
//        notifier_idle_ and then Needed() / notifier: stores notifier_idle_,
//        kick_.BeginWait, then loads events().Waiters() and armed_count_
//        (Needed): either the consumer kicks, or the notifier sees it and
//        stays up, or neither needs the notifier: then at most
//        kDirectWakes consumers wait, and the consumer that took the count
//        higher re-checks (kicks) after its own increment.
//   (H2) consumer: events().BeginWait(), then LoadTail / notifier: LoadTail
//        sees covered_ts move, then events().WakeIfWaiting(); or the
//        appender (Append): the buffer's covered_ts store, then
//        events().Waiters(), waking them if at most kDirectWakes: either the
//        consumer sees the new tail, or it is woken (by the appender when
//        few wait, else by the notifier, which H1 keeps awake then). (The
//        pair is on covered_ts, the seq_cst word; the tail, stored before
//        it, may be seen moving first, which only wakes early.)
//   (H3) Poke: pokes_ increment, then appended().WakeIfWaiting() /
//        notifier: appended().BeginWait(), then re-loads pokes_.
//
// Thread safety: buffer() as ChangeBuffer. Every other member from any
// thread; Register, Unregister, Arm and Close take mu_, which no commit
// ever takes. The notifier takes the armed watches out under mu_ and probes
// them outside it (Unregister waits for such a pass to end, Arm does not);
// a watch's cursor belongs to the notifier from Arm until its callback is
// taken (WatchCore documents the hand-over).
//
// Lifetime: shared by the engine and every open watch, so a watch may
// outlive its database. The engine calls Close() once the pipeline has
// drained: no append follows it.
#ifndef MVKV_MVCC_INTERNAL_WATCH_HUB_H_
#define MVKV_MVCC_INTERNAL_WATCH_HUB_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "mvcc/db.h"
#include "mvcc/internal/change_buffer.h"
#include "mvcc/internal/event_count.h"

namespace mvkv::mvcc_internal {

class WatchCore;

class WatchHub final {
 public:
  // How long the notifier spins after the last append or callback (short:
  // spinning burns a core the writers may need).
  static constexpr absl::Duration kNotifierSpin = absl::Microseconds(5);
  // Up to this many consumers blocked in Next are woken by the appender
  // itself; more are woken by the notifier.
  static constexpr uint32_t kDirectWakes = 1;

  // REQUIRES: options.watch_buffer_bytes >= ChangeBuffer::kMinBytes.
  WatchHub(const Options& options, uint64_t last_ts);
  ~WatchHub();  // Close()
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  ChangeBuffer& buffer() { return buffer_; }
  const Limits& limits() const { return limits_; }

  // After the last append: watches return what is buffered, then
  // Unavailable; armed callbacks run; the notifier ends. Idempotent.
  // REQUIRES: not called from a NotifyWhenReady callback.
  void Close();
  // (C1) acquire pairs with Close's store: once true, the buffer's tail
  // (loaded after) is final.
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // ChangeBuffer::Append, then wakes the consumer blocked in Next if it is
  // the only one (H2). REQUIRES: the appender role.
  void Append(uint64_t commit_ts, absl::Span<const DurableWrite> changes);
  // ChangeBuffer::Reset, then wakes every watch (all are now overwritten).
  // REQUIRES: the appender role.
  void Reset(uint64_t last_ts);

  // Counts a new watch (starting the notifier with the first):
  // ResourceExhausted past max_watches, Unavailable after Close.
  absl::Status Register();
  // Forgets `core` (open or armed; an armed callback is dropped). Waits
  // for a probe of it in progress.
  void Unregister(WatchCore* core);
  // Hands `core` to the notifier, which calls `ready` once core->Ready().
  // After Close: runs `ready` inline instead.
  void Arm(WatchCore* core, absl::AnyInvocable<void() &&> ready);

  // Where consumers blocked in Next sleep; the condition is the buffer's
  // tail and the watch's own flags. REQUIRES of a sleeper: call
  // WakeNotifierIfIdle() after BeginWait (H1).
  EventCount& events() { return events_; }
  void WakeNotifierIfIdle();
  // After a watch's flag changed (Cancel, RequestProgress): wakes its
  // blocked Next and makes the notifier re-probe armed watches.
  void WakeWatchers();

  // A fresh watch id (for watches whose options leave it 0).
  uint64_t NextId() { return next_id_.fetch_add(1, std::memory_order_relaxed); }
  void CountEvent() { events_count_.fetch_add(1, std::memory_order_relaxed); }
  void CountSlowCancellation() {
    slow_cancellations_.fetch_add(1, std::memory_order_relaxed);
  }
  void FillStats(Stats* s) const;

 private:
  struct Armed {
    WatchCore* core;
    absl::AnyInvocable<void() &&> ready;
  };
  void NotifierLoop();
  // Moves the callbacks of the armed watches that are ready (all of them
  // once stopping: *stopping says if it was) to `fire`; returns when the
  // next progress event is due. Notifier only.
  absl::Time CollectReady(std::vector<Armed>* fire, bool* stopping);
  // Something an armed watch may be ready for happened (H3).
  void Poke();
  // More consumers wait than the appender wakes, or some watch is armed
  // (H1).
  bool Needed() const {
    return events_.Waiters() > kDirectWakes ||
           armed_count_.load(std::memory_order_seq_cst) != 0;
  }
  void IdlePark();

  const Limits limits_;
  const std::size_t max_watches_;
  ChangeBuffer buffer_;
  std::atomic<bool> closed_{false};

  EventCount events_;  // consumers blocked in Next
  EventCount kick_;    // the idle notifier
  std::atomic<bool> notifier_idle_{false};
  std::atomic<uint64_t> pokes_{0};
  // Armed watches, in armed_ or being probed (for Needed).
  std::atomic<std::size_t> armed_count_{0};

  mutable std::mutex mu_;
  std::size_t open_ = 0;      // guarded by mu_
  std::vector<Armed> armed_;  // guarded by mu_
  bool probing_ = false;      // guarded by mu_: probe_ is being probed
  std::condition_variable probed_;  // probing_ became false
  bool stop_ = false;         // guarded by mu_
  std::vector<Armed> probe_;  // the notifier's: armed_ taken for a pass
  std::thread notifier_;      // started by the first Register, under mu_

  std::atomic<uint64_t> next_id_{1};
  std::atomic<uint64_t> open_count_{0};  // open_, for FillStats
  std::atomic<uint64_t> events_count_{0};
  std::atomic<uint64_t> slow_cancellations_{0};
};

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_WATCH_HUB_H_
