// Client::Watch and Watcher: one watch per stream, resumed from the last
// commit returned + 1 after a drop or a fall-behind (see client.h).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/client_internal.h"
#include "client/wire.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"

namespace mvkv::client {

struct Watcher::Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WatchRequest, v1::WatchResponse>>
      rw;
};

namespace {

constexpr uint64_t kWatchId = 1;  // one watch per stream

absl::Status Ended(const v1::WatchEnded& ended) {
  return absl::Status(static_cast<absl::StatusCode>(ended.code()),
                      ended.message());
}

// Appends one response's part of a commit to *event.
void AddCommit(const v1::WatchCommit& commit, WatchEvent* event) {
  event->commit_ts = commit.commit_ts();
  event->commit_time = absl::FromUnixNanos(commit.commit_time_unix_ns());
  for (const v1::WatchChange& c : commit.changes()) {
    event->changes.push_back({c.key(), c.value(), c.deleted()});
  }
}

}  // namespace

WatchTarget WatchTarget::Key(std::string key) {
  return {Kind::kKey, std::move(key), ""};
}
WatchTarget WatchTarget::Range(std::string start, std::string end) {
  return {Kind::kRange, std::move(start), std::move(end)};
}
WatchTarget WatchTarget::Prefix(std::string prefix) {
  return {Kind::kPrefix, std::move(prefix), ""};
}

Watcher::Watcher(Client* client, WatchTarget target, WatchOptions options)
    : client_(client),
      target_(std::move(target)),
      options_(options),
      next_ts_(options.start_ts) {}

Watcher::~Watcher() { Cancel(); }

void Watcher::Cancel() {
  cancelled_.store(true, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  if (stream_ != nullptr) stream_->context.TryCancel();
}

absl::Status Watcher::Connect() {
  auto stream = std::make_unique<Stream>();
  // No deadline: a watch lasts until cancelled. Only the token.
  if (!client_->options_.token.empty()) {
    stream->context.AddMetadata(
        "authorization", absl::StrCat("Bearer ", client_->options_.token));
  }
  stream->rw = client_->stubs_->kv().Watch(&stream->context);
  v1::WatchRequest request;
  v1::WatchCreateRequest* create = request.mutable_create();
  create->set_watch_id(kWatchId);
  switch (target_.kind) {
    case WatchTarget::Kind::kKey:
      create->set_key(target_.start);
      break;
    case WatchTarget::Kind::kRange:
      create->mutable_range()->set_start(target_.start);
      create->mutable_range()->set_end(target_.end);
      break;
    case WatchTarget::Kind::kPrefix:
      create->set_prefix(target_.start);
      break;
  }
  create->set_start_ts(next_ts_);
  create->set_keys_only(options_.keys_only);
  create->set_max_commits_per_response(options_.max_commits_per_response);
  if (options_.progress_interval != absl::InfiniteDuration()) {
    create->set_progress_interval_ms(static_cast<uint32_t>(
        std::max<int64_t>(1, absl::ToInt64Milliseconds(
                                 options_.progress_interval))));
  }
  stream->rw->Write(request);  // a failure shows in the Read below
  v1::WatchResponse response;
  absl::Status status;
  if (!stream->rw->Read(&response)) {
    status = wire::FromGrpc(stream->rw->Finish());
    if (status.ok()) status = absl::UnavailableError("watch stream ended");
  } else if (response.has_ended()) {
    restart_ts_ = response.ended().restart_ts();
    status = Ended(response.ended());
  } else if (!response.has_created()) {
    status = absl::InternalError("watch: the server did not confirm it");
  }
  if (!status.ok()) {
    stream->context.TryCancel();
    return status;
  }
  next_ts_ = response.created().start_ts();
  std::lock_guard<std::mutex> lock(mu_);
  stream_ = std::move(stream);
  if (cancelled_.load(std::memory_order_relaxed)) stream_->context.TryCancel();
  return absl::OkStatus();
}

absl::Status Watcher::ReadOne(bool* resumable) {
  *resumable = false;
  WatchEvent event;
  v1::WatchResponse response;
  while (true) {
    response.Clear();
    if (!stream_->rw->Read(&response)) {
      absl::Status s = wire::FromGrpc(stream_->rw->Finish());
      if (s.ok()) s = absl::UnavailableError("watch stream ended");
      *resumable = s.code() == absl::StatusCode::kUnavailable;
      return s;
    }
    if (response.has_ended()) {
      restart_ts_ = response.ended().restart_ts();
      absl::Status s = Ended(response.ended());
      *resumable = s.code() == absl::StatusCode::kResourceExhausted ||
                   s.code() == absl::StatusCode::kUnavailable;
      stream_->context.TryCancel();
      return s;
    }
    if (response.has_progress()) {
      event.type = WatchEvent::Type::kProgress;
      event.commit_ts = response.progress().ts();
      pending_.push_back(std::move(event));
      return absl::OkStatus();
    }
    if (response.has_commits()) {  // whole commits, in order
      for (const v1::WatchCommit& commit : response.commits().commits()) {
        AddCommit(commit, &event);
        pending_.push_back(std::move(event));
        event = WatchEvent();
      }
      if (pending_.empty()) continue;  // an empty batch: nothing to return
      return absl::OkStatus();
    }
    if (!response.has_commit()) continue;  // nothing else is for one watch
    AddCommit(response.commit(), &event);
    if (!response.commit().more()) {
      pending_.push_back(std::move(event));
      return absl::OkStatus();
    }
  }
}

WatchEvent Watcher::TakePending() {
  WatchEvent event = std::move(pending_.front());
  pending_.pop_front();
  // Everything in range up to it was returned: a resume starts after it.
  next_ts_ = std::max(next_ts_, event.commit_ts + 1);
  return event;
}

absl::StatusOr<WatchEvent> Watcher::Next() {
  absl::Status last;
  for (int attempt = 0; attempt <= options_.max_resumes; ++attempt) {
    if (cancelled_.load(std::memory_order_relaxed)) {
      return absl::CancelledError("watch cancelled");
    }
    if (!pending_.empty()) return TakePending();
    if (stream_ == nullptr) {
      if (attempt > 0) {
        absl::SleepFor(std::min(absl::Milliseconds(10) * (1 << attempt),
                                absl::Seconds(1)));
      }
      last = Connect();
      if (!last.ok()) {
        if (last.code() == absl::StatusCode::kUnavailable) continue;
        return last;
      }
    }
    bool resumable = false;
    last = ReadOne(&resumable);
    if (last.ok()) return TakePending();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stream_.reset();
    }
    if (cancelled_.load(std::memory_order_relaxed)) {
      return absl::CancelledError("watch cancelled");
    }
    if (!resumable) return last;
    // Resume from the last commit returned + 1 (the server's restart_ts
    // is the same for a fall-behind).
    restart_ts_ = 0;
  }
  return last;
}

absl::StatusOr<std::unique_ptr<Watcher>> Client::Watch(
    const WatchTarget& target, const WatchOptions& options) {
  std::unique_ptr<Watcher> watcher(new Watcher(this, target, options));
  if (absl::Status s = watcher->Connect(); !s.ok()) return s;
  return watcher;
}

}  // namespace mvkv::client
