#include "mvcc/internal/watch_hub.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mvcc/internal/completion.h"
#include "mvcc/internal/watch_core.h"

namespace mvkv::mvcc_internal {
namespace {

// A move of the tail is a change of either: covered_ts (its seq_cst load is
// what (H2) pairs on; it changes with every commit) or the position (which
// may be seen first: an early, extra wake-up).
bool SameTail(ChangeBuffer::Tail a, ChangeBuffer::Tail b) {
  return a.covered_ts == b.covered_ts && a.pos == b.pos;
}

}  // namespace

WatchHub::WatchHub(const Options& options, uint64_t last_ts)
    : limits_(options.limits),
      max_watches_(options.max_watches),
      buffer_(options.watch_buffer_bytes, last_ts) {}

WatchHub::~WatchHub() { Close(); }

void WatchHub::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;  // no Register starts the notifier after this
    // (C1), and the condition every sleeper here re-checks.
    closed_.store(true, std::memory_order_seq_cst);
  }
  events_.Wake();
  Poke();
  kick_.Wake();
  if (notifier_.joinable()) notifier_.join();
}

absl::Status WatchHub::Register() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return absl::UnavailableError("the database is shutting down");
  if (open_ >= max_watches_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many watches: ", open_, " are open (max_watches = ",
                     max_watches_, ")"));
  }
  ++open_;
  open_count_.store(open_, std::memory_order_relaxed);
  if (!notifier_.joinable()) notifier_ = std::thread([this] { NotifierLoop(); });
  return absl::OkStatus();
}

void WatchHub::Unregister(WatchCore* core) {
  absl::AnyInvocable<void() &&> dropped;  // destroyed after unlocking
  std::unique_lock<std::mutex> lock(mu_);
  // A probe pass may be reading `core` outside the lock: let it end.
  probed_.wait(lock, [&] { return !probing_; });
  for (std::size_t i = 0; i < armed_.size(); ++i) {
    if (armed_[i].core != core) continue;
    dropped = std::move(armed_[i].ready);
    armed_[i] = std::move(armed_.back());
    armed_.pop_back();
    armed_count_.fetch_sub(1, std::memory_order_seq_cst);
    break;
  }
  --open_;
  open_count_.store(open_, std::memory_order_relaxed);
}

void WatchHub::Arm(WatchCore* core, absl::AnyInvocable<void() &&> ready) {
  // Probed before it is armed, while the cursor is still this thread's: a
  // watch that is not ready is found by the notifier after the next append
  // (it sees every tail move while needed), unless only its progress timer
  // would make it ready, or an append slipped in before it was armed.
  const ChangeBuffer::Tail seen = buffer_.LoadTail();
  bool poke =
      core->Ready(absl::Now()) || core->progress_due() != absl::InfiniteFuture();
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_) {
      lock.unlock();
      core->Disarm();
      std::move(ready)();
      return;
    }
    armed_.push_back({core, std::move(ready)});
    armed_count_.fetch_add(1, std::memory_order_seq_cst);  // (H1)
  }
  // A pass that took mu_ before the push and saw an append after `seen`
  // did not probe this watch; one that takes it after will.
  if (!SameTail(buffer_.LoadTail(), seen)) poke = true;
  if (poke) Poke();
  WakeNotifierIfIdle();
}

void WatchHub::WakeNotifierIfIdle() {
  if (notifier_idle_.load(std::memory_order_seq_cst) && Needed()) {  // (H1)
    kick_.Wake();
  }
}

void WatchHub::Append(uint64_t commit_ts,
                      absl::Span<const DurableWrite> changes) {
  buffer_.Append(commit_ts, changes);  // covered_ts, seq_cst: (H2)
  const uint32_t waiting = events_.Waiters();
  if (waiting != 0 && waiting <= kDirectWakes) events_.Wake();
}

void WatchHub::WakeWatchers() {
  events_.WakeIfWaiting();
  Poke();
}

void WatchHub::Reset(uint64_t last_ts) {
  buffer_.Reset(last_ts);
  // Every watch is overwritten now: blocked ones must find out even if
  // covered_ts did not move.
  events_.Wake();
  Poke();
}

void WatchHub::Poke() {
  pokes_.fetch_add(1, std::memory_order_seq_cst);  // (H3)
  buffer_.appended().WakeIfWaiting();
}

absl::Time WatchHub::CollectReady(std::vector<Armed>* fire, bool* stopping) {
  // Probed outside mu_ so that Arm never waits for a pass; Unregister does
  // (probing_).
  bool stop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop = stop_;
    *stopping = stop;
    probe_.swap(armed_);
    probing_ = true;
  }
  const absl::Time now = absl::Now();
  absl::Time until = absl::InfiniteFuture();
  std::size_t kept = 0;
  for (std::size_t i = 0; i < probe_.size(); ++i) {
    Armed& armed = probe_[i];
    if (!stop && !armed.core->Ready(now)) {
      until = std::min(until, armed.core->progress_due());
      if (kept != i) probe_[kept] = std::move(armed);  // never onto itself
      ++kept;
      continue;
    }
    armed.core->Disarm();  // the cursor is the consumer's again
    armed_count_.fetch_sub(1, std::memory_order_seq_cst);
    fire->push_back(std::move(armed));
  }
  probe_.resize(kept);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Armed& armed : probe_) armed_.push_back(std::move(armed));
    probe_.clear();
    probing_ = false;
  }
  probed_.notify_all();
  return until;
}

void WatchHub::IdlePark() {
  notifier_idle_.store(true, std::memory_order_seq_cst);  // (H1)
  const uint32_t epoch = kick_.BeginWait();
  if (!Needed() && !closed()) kick_.Sleep(epoch, absl::InfiniteFuture());
  kick_.EndWait();
  notifier_idle_.store(false, std::memory_order_relaxed);
}

void WatchHub::NotifierLoop() {
  std::vector<Armed> fire;
  ChangeBuffer::Tail last{~uint64_t{0}, ~uint64_t{0}};  // first pass: a move
  absl::Time awake_until = absl::InfinitePast();
  while (true) {
    const uint64_t pokes = pokes_.load(std::memory_order_seq_cst);  // (H3)
    const ChangeBuffer::Tail tail = buffer_.LoadTail();
    const bool moved = !SameTail(tail, last);
    last = tail;
    if (moved) events_.WakeIfWaiting();  // (H2)
    // Ends only after a pass that saw stop_ (and so fired every armed
    // callback): a Close between a pass and a later look at stop_ would
    // leave the callbacks that pass kept unrun.
    bool stop;
    const absl::Time until = CollectReady(&fire, &stop);
    const bool fired = !fire.empty();
    for (Armed& armed : fire) std::move(armed.ready)();
    fire.clear();
    if (stop) return;
    const absl::Time now = absl::Now();
    if (moved || fired) {
      awake_until = now + kNotifierSpin;
    } else if (now < awake_until) {
      // Awake even if nothing needs it right now: consumers re-arm or
      // block again within microseconds of a callback or a wake-up.
      CpuRelax();
    } else if (!Needed()) {
      IdlePark();
    } else {
      EventCount& appended = buffer_.appended();
      const uint32_t epoch = appended.BeginWait();
      if (SameTail(buffer_.LoadTail(), last) &&
          pokes_.load(std::memory_order_seq_cst) == pokes && !closed()) {
        appended.Sleep(epoch, until);
      }
      appended.EndWait();
    }
  }
}

void WatchHub::FillStats(Stats* s) const {
  s->watches = open_count_.load(std::memory_order_relaxed);
  s->watch_buffered_bytes = buffer_.buffered_bytes();
  s->watch_oldest_ts = buffer_.begin_ts();
  s->watch_events = events_count_.load(std::memory_order_relaxed);
  s->watch_slow_cancellations =
      slow_cancellations_.load(std::memory_order_relaxed);
}

}  // namespace mvkv::mvcc_internal
