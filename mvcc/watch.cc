// Watches: the public face (mvcc/db.h) of mvcc/internal/watch_core.h.
#include <charconv>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "mvcc/db.h"
#include "mvcc/internal/change_buffer.h"
#include "mvcc/internal/engine.h"
#include "mvcc/internal/watch_core.h"
#include "mvcc/internal/watch_hub.h"

namespace mvkv {

using mvcc_internal::WatchCore;

WatchRange WatchRange::Key(std::string_view key) {
  return {Kind::kKey, std::string(key), SingleKeyEnd(key)};
}

WatchRange WatchRange::Interval(std::string_view start, std::string_view end) {
  return {Kind::kInterval, std::string(start), std::string(end)};
}

WatchRange WatchRange::Prefix(std::string_view prefix) {
  // The smallest key after every key with the prefix: drop trailing 0xff
  // bytes and increment the last one; none left = to the last key.
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) {
    end.pop_back();
  }
  if (!end.empty()) end.back() = static_cast<char>(end.back() + 1);
  return {Kind::kPrefix, std::string(prefix), std::move(end)};
}

std::optional<uint64_t> WatchRestartTs(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kOutOfRange &&
      status.code() != absl::StatusCode::kResourceExhausted) {
    return std::nullopt;
  }
  auto payload =
      status.GetPayload(mvcc_internal::kWatchRestartPayload);
  if (!payload.has_value()) return std::nullopt;
  const std::string text(*payload);
  uint64_t ts = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), ts);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return ts;
}

Watch::Watch(std::unique_ptr<WatchCore> core) : core_(std::move(core)) {}

Watch::~Watch() = default;  // WatchCore unregisters

absl::StatusOr<WatchEvent> Watch::Next(absl::Time deadline) {
  return core_->Next(deadline);
}

absl::Status Watch::NextInto(WatchEvent* event, absl::Time deadline) {
  return core_->NextInto(event, deadline);
}

absl::Status Watch::NotifyWhenReady(absl::AnyInvocable<void() &&> ready) {
  return core_->NotifyWhenReady(std::move(ready));
}

absl::Status Watch::WaitAny(absl::Span<Watch* const> watches,
                            absl::Time deadline,
                            std::vector<std::size_t>* ready) {
  absl::InlinedVector<WatchCore*, 64> cores;
  for (Watch* w : watches) cores.push_back(w->core_.get());
  return WatchCore::WaitAny(cores, deadline, ready);
}

void Watch::RequestProgress() { core_->RequestProgress(); }
void Watch::Cancel() { core_->Cancel(); }
uint64_t Watch::id() const { return core_->id(); }
const WatchRange& Watch::range() const { return core_->range(); }
uint64_t Watch::start_ts() const { return core_->start_ts(); }

absl::StatusOr<std::unique_ptr<Watch>> Database::Watch(
    const WatchRange& range, uint64_t start_ts, const WatchOptions& options) {
  const std::shared_ptr<mvcc_internal::WatchHub>& hub = engine_->watches();
  if (hub == nullptr) {
    return absl::FailedPreconditionError(
        "watches are disabled: Options::watch_buffer_bytes is 0");
  }
  const uint64_t id = options.id != 0 ? options.id : hub->NextId();
  absl::StatusOr<std::unique_ptr<WatchCore>> core = WatchCore::Open(
      hub, range, start_ts, options, id, engine_->visible_ts());
  if (!core.ok()) return core.status();
  return std::unique_ptr<mvkv::Watch>(new mvkv::Watch(std::move(*core)));
}

}  // namespace mvkv
