#include "mvcc/internal/watch_core.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mvcc/internal/completion.h"  // CpuRelax

namespace mvkv::mvcc_internal {
namespace {

absl::Status ValidateWatchRange(const WatchRange& range, const Limits& limits) {
  switch (range.kind) {
    case WatchRange::Kind::kKey:
      return ValidateKey(range.start, limits);
    case WatchRange::Kind::kPrefix:
      if (range.start.size() > limits.max_key_bytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "watch prefix is ", range.start.size(),
            " bytes, over the key limit of ", limits.max_key_bytes,
            " (max_key_bytes)"));
      }
      return absl::OkStatus();
    case WatchRange::Kind::kInterval:
      break;
  }
  return ValidateRange(range.start, range.end, limits);
}

}  // namespace

absl::StatusOr<std::unique_ptr<WatchCore>> WatchCore::Open(
    std::shared_ptr<WatchHub> hub, const WatchRange& range, uint64_t start_ts,
    const WatchOptions& options, uint64_t id, uint64_t visible_ts) {
  if (absl::Status s = ValidateWatchRange(range, hub->limits()); !s.ok()) {
    return s;
  }
  if (options.progress_interval < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "progress_interval is ",
        absl::FormatDuration(options.progress_interval),
        ": at least 1ms, or InfiniteDuration() for none"));
  }
  if (start_ts == kWatchFromNow) {
    start_ts = visible_ts + 1;
  } else if (start_ts > visible_ts + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "start_ts ", start_ts, " is in the future: the newest visible commit "
        "is ", visible_ts, ", so a watch may start at ", visible_ts + 1,
        " at the latest"));
  }
  absl::StatusOr<uint64_t> pos = hub->buffer().Seek(start_ts);
  if (!pos.ok()) return pos.status();
  if (absl::Status s = hub->Register(); !s.ok()) return s;
  return std::unique_ptr<WatchCore>(
      new WatchCore(std::move(hub), range, start_ts, options, id, *pos));
}

WatchCore::WatchCore(std::shared_ptr<WatchHub> hub, const WatchRange& range,
                     uint64_t start_ts, const WatchOptions& options,
                     uint64_t id, uint64_t pos)
    : hub_(std::move(hub)),
      buffer_(hub_->buffer()),
      range_(range),
      start_ts_(start_ts),
      id_(id),
      values_(options.values),
      progress_interval_(options.progress_interval),
      pos_(pos),
      seen_ts_(start_ts - 1),
      progress_due_(absl::Now() + options.progress_interval) {}

WatchCore::~WatchCore() { hub_->Unregister(this); }

absl::StatusOr<WatchEvent> WatchCore::Next(absl::Time deadline) {
  WatchEvent event;
  if (absl::Status s = NextInto(&event, deadline); !s.ok()) return s;
  return event;
}

absl::Status WatchCore::NextInto(WatchEvent* event, absl::Time deadline) {
  // Acquire pairs with Disarm's release: the notifier's moves of the
  // cursor are visible.
  if (armed_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "watch ", id_, ": a NotifyWhenReady callback is armed"));
  }
  while (true) {
    // Without a progress timer Step needs no clock (see timed()).
    const absl::Time now = timed() ? absl::Now() : absl::InfinitePast();
    if (Step(event, now)) return error_;
    if (deadline == absl::InfinitePast() ||
        (timed() ? now : absl::Now()) >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("watch ", id_, ": no event before the deadline"));
    }
    WatchCore* const self = this;
    Wait(absl::MakeConstSpan(&self, 1), std::min(deadline, progress_due_));
  }
}

absl::Status WatchCore::WaitAny(absl::Span<WatchCore* const> cores,
                                absl::Time deadline,
                                std::vector<std::size_t>* ready) {
  ready->clear();
  if (cores.empty()) {
    return absl::InvalidArgumentError("WaitAny: no watches to wait for");
  }
  bool timed = false;
  for (WatchCore* core : cores) {
    if (core->hub_ != cores[0]->hub_) {
      return absl::InvalidArgumentError(
          absl::StrCat("WaitAny: watch ", core->id_,
                       " is of another database than watch ", cores[0]->id_));
    }
    // Acquire, as in Next: the notifier's moves of the cursor are visible.
    if (core->armed_.load(std::memory_order_acquire)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "watch ", core->id_, ": a NotifyWhenReady callback is armed"));
    }
    timed = timed || core->timed();
  }
  while (true) {
    // As in Next: without a progress timer Ready needs no clock.
    const absl::Time now = timed ? absl::Now() : absl::InfinitePast();
    absl::Time until = deadline;
    for (std::size_t i = 0; i < cores.size(); ++i) {
      if (cores[i]->Ready(now)) {
        ready->push_back(i);
      } else {
        until = std::min(until, cores[i]->progress_due_);
      }
    }
    if (!ready->empty()) return absl::OkStatus();
    if (deadline == absl::InfinitePast() ||
        (timed ? now : absl::Now()) >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("WaitAny: none of ", cores.size(),
                       " watches had an event before the deadline"));
    }
    Wait(cores, until);
  }
}

bool WatchCore::Step(WatchEvent* out, absl::Time now) {
  if (!error_.ok()) return true;
  if (cancelled_.load(std::memory_order_seq_cst)) {
    error_ = absl::CancelledError(absl::StrCat("watch ", id_, " cancelled"));
    return true;
  }
  const bool closed = hub_->closed();  // (C1): before the tail, so final
  const ChangeBuffer::Tail tail = buffer_.LoadTail();
  // Bound: the records between the cursor and the tail.
  while (pos_ < tail.pos) {
    if (StepRecord(out, now)) return true;
  }
  // Current: every commit up to covered_ts lies before the tail read.
  seen_ts_ = std::max(seen_ts_, tail.covered_ts);
  const bool requested =
      out == nullptr ? progress_requested_.load(std::memory_order_seq_cst)
                     : progress_requested_.exchange(false);
  if (requested || now >= progress_due_) {
    if (out != nullptr) {
      out->type = WatchEvent::Type::kProgress;
      out->commit_ts = seen_ts_;
      out->commit_time = absl::InfinitePast();
      out->changes.clear();
      if (timed()) progress_due_ = now + progress_interval_;
    }
    return true;
  }
  if (closed) {
    error_ = absl::UnavailableError(absl::StrCat(
        "watch ", id_, ": the database closed after commit ", seen_ts_));
    return true;
  }
  return false;
}

bool WatchCore::StepRecord(WatchEvent* out, absl::Time now) {
  ChangeBuffer::Record record;
  if (!buffer_.ReadHeader(pos_, &record)) return FellBehind();
  if (record.commit_ts < start_ts_) {
    pos_ = record.next;
    return false;
  }
  if ((record.flags & ChangeBuffer::kOverflow) != 0) {
    return Compacted(record.commit_ts,
                     "changed more keys than the change buffer holds, so it "
                     "was not buffered");
  }
  std::vector<WatchChange>* changes = out == nullptr ? nullptr : &out->changes;
  const int64_t found =
      buffer_.Decode(pos_, record, range_, values_, &key_, changes);
  if (found < 0) {
    if (changes != nullptr) changes->clear();
    return FellBehind();
  }
  if (found == 0) {  // nothing in the range
    seen_ts_ = record.commit_ts;
    pos_ = record.next;
    return false;
  }
  if (values_ && (record.flags & ChangeBuffer::kValuesOmitted) != 0) {
    if (changes != nullptr) changes->clear();
    return Compacted(record.commit_ts,
                     "is too large for the change buffer with its values");
  }
  if (out == nullptr) return true;  // a look: stay on it
  out->type = WatchEvent::Type::kCommit;
  out->commit_ts = record.commit_ts;
  out->commit_time = absl::FromUnixNanos(record.append_unix_ns);
  seen_ts_ = record.commit_ts;
  pos_ = record.next;
  if (timed()) progress_due_ = now + progress_interval_;
  hub_->CountEvent();
  return true;
}

bool WatchCore::FellBehind() {
  hub_->CountSlowCancellation();
  error_ = absl::ResourceExhaustedError(absl::StrCat(
      "watch ", id_, " fell behind: the change buffer (",
      buffer_.capacity_bytes(), " bytes, watch_buffer_bytes) overwrote "
      "commits after ", seen_ts_, " before the watch read them; resume from "
      "start_ts ", seen_ts_ + 1));
  SetRestartTs(error_, seen_ts_ + 1);
  return true;
}

bool WatchCore::Compacted(uint64_t commit_ts, const char* why) {
  error_ = CompactedError(
      absl::StrCat("watch ", id_, ": commit ", commit_ts, " ", why), commit_ts + 1);
  return true;
}

void WatchCore::Wait(absl::Span<WatchCore* const> cores, absl::Time until) {
  // Alone, it would be woken by the appender itself (WatchHub::Append), so
  // it spins first, as the notifier does: commits closer together than
  // kNotifierSpin then cost the appender no futex wake. Beside other
  // sleepers the notifier wakes it, and spinning would only take cores.
  WatchHub& hub = *cores[0]->hub_;
  const auto idle = [cores] {
    for (const WatchCore* core : cores) {
      if (!core->Idle()) return false;
    }
    return true;
  };
  const absl::Time spin_until =
      hub.events().Waiters() < WatchHub::kDirectWakes
          ? std::min(until, absl::Now() + WatchHub::kNotifierSpin)
          : absl::InfinitePast();
  while (idle()) {
    if (absl::Now() >= spin_until) break;
    CpuRelax();
  }
  EventCount& events = hub.events();
  const uint32_t epoch = events.BeginWait();
  hub.WakeNotifierIfIdle();  // (H1): the notifier must see the appends
  // Re-checked after registering: (H2), and the flags' EventCount pairs.
  if (idle()) events.Sleep(epoch, until);
  events.EndWait();
}

bool WatchCore::Idle() const {
  return buffer_.LoadTail().pos == pos_ &&
         !cancelled_.load(std::memory_order_seq_cst) &&
         !progress_requested_.load(std::memory_order_seq_cst) &&
         !hub_->closed();
}

absl::Status WatchCore::NotifyWhenReady(absl::AnyInvocable<void() &&> ready) {
  if (armed_.load(std::memory_order_relaxed)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "watch ", id_, ": a NotifyWhenReady callback is armed already"));
  }
  // Release: the cursor, as this thread left it, goes to the notifier
  // (also carried by the hub's mutex).
  armed_.store(true, std::memory_order_release);
  hub_->Arm(this, std::move(ready));
  return absl::OkStatus();
}

void WatchCore::RequestProgress() {
  progress_requested_.store(true, std::memory_order_seq_cst);
  hub_->WakeWatchers();
}

void WatchCore::Cancel() {
  cancelled_.store(true, std::memory_order_seq_cst);
  hub_->WakeWatchers();
}

}  // namespace mvkv::mvcc_internal
