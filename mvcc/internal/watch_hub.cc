#include "mvcc/internal/watch_hub.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mvcc/internal/watch_core.h"

namespace mvkv::mvcc_internal {

WatchHub::WatchHub(const Options& options, uint64_t last_ts)
    : limits_(options.limits),
      max_watches_(options.max_watches),
      buffer_(options.watch_buffer_bytes, last_ts) {}

WatchHub::~WatchHub() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (dispatcher_.joinable()) {
    buffer_.Wake();
    dispatcher_.join();
  }
}

void WatchHub::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;  // no Arm starts the dispatcher after this
    // (C1) release: the last append happened before.
    closed_.store(true, std::memory_order_release);
  }
  // Blocked Next calls and the dispatcher re-check (see Wake's contract).
  buffer_.Wake();
  if (dispatcher_.joinable()) dispatcher_.join();
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
  return absl::OkStatus();
}

void WatchHub::Unregister(WatchCore* core) {
  absl::AnyInvocable<void() &&> dropped;  // destroyed after unlocking
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < armed_.size(); ++i) {
    if (armed_[i].core != core) continue;
    dropped = std::move(armed_[i].ready);
    armed_[i] = std::move(armed_.back());
    armed_.pop_back();
    break;
  }
  --open_;
  open_count_.store(open_, std::memory_order_relaxed);
}

void WatchHub::Arm(WatchCore* core, absl::AnyInvocable<void() &&> ready) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stop_) {
    lock.unlock();
    core->Disarm();
    std::move(ready)();
    return;
  }
  // A probe here decides whether the dispatcher must look now: a watch
  // that is not ready is found by the dispatcher's next pass, which an
  // append after this probe triggers (the dispatcher waits as a waiter of
  // the buffer), unless only a progress timer would make it ready.
  const bool wake =
      core->Ready(absl::Now()) || core->progress_due() != absl::InfiniteFuture();
  armed_.push_back({core, std::move(ready)});
  if (!dispatcher_.joinable()) {
    dispatcher_ = std::thread([this] { DispatchLoop(); });
  }
  lock.unlock();
  if (wake) buffer_.Wake();
}

absl::Time WatchHub::CollectReady(std::vector<Armed>* fire) {
  const absl::Time now = absl::Now();
  absl::Time until = absl::InfiniteFuture();
  for (std::size_t i = 0; i < armed_.size();) {
    WatchCore* core = armed_[i].core;
    if (!stop_ && !core->Ready(now)) {
      until = std::min(until, core->progress_due());
      ++i;
      continue;
    }
    core->Disarm();  // the cursor is the consumer's again
    fire->push_back(std::move(armed_[i]));
    armed_[i] = std::move(armed_.back());
    armed_.pop_back();
  }
  return until;
}

void WatchHub::DispatchLoop() {
  std::vector<Armed> fire;
  for (bool stop = false; !stop;) {
    // Registered as a waiter before probing: an append after a probe
    // wakes the Sleep below (ChangeBuffer's (W1)/(A5) pair).
    const uint32_t epoch = buffer_.BeginWait();
    absl::Time until;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop = stop_;
      until = CollectReady(&fire);
    }
    if (fire.empty() && !stop) buffer_.Sleep(epoch, until);
    buffer_.EndWait();
    for (Armed& armed : fire) std::move(armed.ready)();
    fire.clear();
  }
}

void WatchHub::FillStats(Stats* s) const {
  s->watches = open_count_.load(std::memory_order_relaxed);
  s->watch_buffered_bytes = buffer_.buffered_bytes();
  s->watch_oldest_ts = buffer_.begin_ts();
  s->watch_events = events_.load(std::memory_order_relaxed);
  s->watch_slow_cancellations =
      slow_cancellations_.load(std::memory_order_relaxed);
}

}  // namespace mvkv::mvcc_internal
