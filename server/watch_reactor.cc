#include "server/watch_reactor.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "mvcc/db.h"
#include "server/call.h"
#include "server/kv_service.h"
#include "server/metrics.h"

namespace mvkv::server {
namespace {

// A commit's changes go out in responses of about this many bytes at most
// (one change at least), so no response outgrows a client's default 4 MiB
// receive limit however large the commit.
constexpr std::size_t kResponseBytes = 1 << 20;
// The most commits one `commits` response carries (a create's
// max_commits_per_response is capped at it). A constant on purpose: it
// bounds how long one watch's packing holds its stream, not memory
// (kResponseBytes does); kv.proto's WatchCreateRequest says why no flag.
constexpr uint32_t kMaxCommitsPerResponse = 1024;

// A commit's bytes as FillCommit counts them: one within kResponseBytes
// goes out in one response.
std::size_t CommitBytes(const WatchEvent& event) {
  std::size_t bytes = 0;
  for (const WatchChange& c : event.changes) {
    bytes += c.key.size() + c.value.size() + 1;
  }
  return bytes;
}

void MoveChange(WatchChange& change, v1::WatchCommit* commit) {
  v1::WatchChange* c = commit->add_changes();
  c->set_key(std::move(change.key));
  c->set_value(std::move(change.value));
  c->set_deleted(change.deleted);
}

}  // namespace

class WatchReactor;

// One stream's state. Invariants:
//   1. Only Pump() (one thread at a time, see Kick) touches the fields
//      below "pump only", calls the reactor's Start*/Finish, and calls
//      Next/NotifyWhenReady or destroys a Watch.
//   2. At most one read and one write are outstanding (reading_, writing_).
//   3. A watch is in ready_ (queued) or has a NotifyWhenReady callback
//      armed, never both, until it ends; its callback only reports its id
//      (inbox) and hands a Kick to the executor.
//   4. After finished_, reactor_ is never touched again (gRPC may delete
//      it); late callbacks and kicks find finished_ and return.
//   5. A watch's pulled-but-unsent result (held) goes out before anything
//      else is pulled from it, so batching (commits of one watch, or
//      responses of several in a `batch`) never reorders a watch.
class WatchStream final : public std::enable_shared_from_this<WatchStream> {
 public:
  WatchStream(KvService* service, WatchReactor* reactor)
      : service_(service), reactor_(reactor) {}
  ~WatchStream() { watches_.clear(); }

  // The first Pump: registers for shutdown and starts the first read.
  void Start();
  // From gRPC's reactions (the request has been moved in already).
  void OnRead(std::optional<v1::WatchRequest> request);
  void OnWritten(bool ok);
  // Ends the stream with `status` (shutdown).
  void End(const grpc::Status& status);

  // Runs Pump() until no kick is left; whoever raises kicks_ from 0 pumps,
  // everyone else only asks the pumping thread for one more round.
  void Kick();

 private:
  struct Slot {
    std::unique_ptr<mvkv::Watch> watch;
    bool queued = false;   // in ready_ (invariant 3)
    uint64_t next_ts = 0;  // the start_ts to resume from
    uint32_t max_commits = 1;  // per response (1 = `commit` only)
    bool share = false;        // may go in `batch` responses
    // Pulled while packing a batch but not in it (invariant 5).
    std::optional<absl::StatusOr<WatchEvent>> held;
  };

  void Pump();
  void Handle(v1::WatchRequest& request);
  void Create(const v1::WatchCreateRequest& request);
  void Queue(uint64_t id, Slot& slot);
  // The next response to write, if any.
  bool NextResponse(v1::WatchResponse* out);
  enum class Pulled {
    kNothing,   // nothing ready now (the watch is armed)
    kResponse,  // *out is the watch's next response
    kNoRoom,    // its next commit is over the budget: held, queued first
  };
  // Ready watch `id`'s next response into *out. The write's first
  // response (`first`) takes any commit, starting partial_ for one over
  // kResponseBytes; a later one of a batch only a commit within `budget`
  // bytes, whole.
  Pulled NextOf(uint64_t id, Slot& slot, bool first, std::size_t budget,
                v1::WatchResponse* out);
  // Turns *out, the first response of watch first_id, into a `batch` with
  // one response from each other sharing watch queued now, as fits.
  void Share(uint64_t first_id, v1::WatchResponse* out);
  // The slot's held result, else its watch's next (never waiting).
  absl::StatusOr<WatchEvent> Pull(Slot& slot);
  // `first` and the commits after it that are ready now, within the
  // slot's max_commits and `budget` bytes (CommitBytes).
  std::vector<WatchEvent> TakeReady(Slot& slot, WatchEvent first,
                                    std::size_t budget);
  void FillCommits(uint64_t id, std::vector<WatchEvent>& batch,
                   v1::WatchResponse* out);
  void FillCommit(v1::WatchResponse* out);
  void Arm(uint64_t id, Slot& slot);
  // Observes the response's send lag (Metrics::RecordWatchLag).
  static void RecordLag(const v1::WatchResponse& response, Metrics* metrics);
  void Ended(uint64_t id, const absl::Status& status, uint64_t restart_ts);
  void Finish(const grpc::Status& status);

  KvService* const service_;
  WatchReactor* const reactor_;  // invariant 4

  // Kicks not yet served by the pumping thread. acq_rel: a kicker's
  // writes (to the inbox, under inbox_mu_ anyway) happen before the round
  // of Pump() its kick causes.
  std::atomic<int> kicks_{0};

  std::mutex inbox_mu_;
  std::deque<v1::WatchRequest> requests_;  // guarded by inbox_mu_
  std::vector<uint64_t> woken_;            // guarded by inbox_mu_
  // A kick for woken_ is with the executor and has not pumped yet, so a
  // later wake only adds its id: one executor task per round of wakes of
  // the stream's watches, not one per watch.
  bool wake_kick_pending_ = false;         // guarded by inbox_mu_
  bool read_completed_ = false;            // guarded by inbox_mu_
  bool read_closed_ = false;               // guarded by inbox_mu_
  bool write_completed_ = false;           // guarded by inbox_mu_
  bool write_failed_ = false;              // guarded by inbox_mu_
  std::optional<grpc::Status> end_;        // guarded by inbox_mu_

  // Pump only (invariant 1).
  std::map<uint64_t, Slot> watches_;
  std::deque<uint64_t> ready_;
  std::deque<v1::WatchResponse> control_;  // created/ended, before events
  v1::WatchResponse out_;                  // the write outstanding
  // A commit being sent in several responses (kResponseBytes).
  std::optional<WatchEvent> partial_;
  uint64_t partial_id_ = 0;
  std::size_t partial_pos_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool half_closed_ = false;
  bool finished_ = false;
};

class WatchReactor final
    : public grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse> {
 public:
  WatchReactor(KvService* service, grpc::CallbackServerContext* context)
      : call_(service, context, Method::kWatch), context_(context) {
    if (!call_.admitted()) {
      Finish(call_.Finish(call_.admission()));
      return;
    }
    stream_ = std::make_shared<WatchStream>(service, this);
    stream_->Start();
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      stream_->OnRead(std::move(request_));
    } else {
      stream_->OnRead(std::nullopt);
    }
  }
  void OnWriteDone(bool ok) override { stream_->OnWritten(ok); }
  // The client cancelled (or went away, or the deadline passed): end the
  // stream now. A failed read or write would end it too, but after a
  // half-close nothing is read, and with no commit nothing is written, so
  // the watches would stay open (and count against max_watches) until the
  // next commit in their range.
  void OnCancel() override {
    if (stream_ != nullptr) {
      stream_->End(
          grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    }
  }
  void OnDone() override { delete this; }

  // For WatchStream's Pump (invariant 1).
  Call& call() { return call_; }
  bool cancelled() const { return context_->IsCancelled(); }
  v1::WatchRequest* request() { return &request_; }

 private:
  Call call_;
  grpc::CallbackServerContext* const context_;
  std::shared_ptr<WatchStream> stream_;
  v1::WatchRequest request_;  // the read outstanding
};

namespace {

v1::WatchResponse EndedResponse(uint64_t id, const absl::Status& status,
                                uint64_t restart_ts) {
  v1::WatchResponse r;
  r.set_watch_id(id);
  v1::WatchEnded* ended = r.mutable_ended();
  ended->set_code(static_cast<int>(status.code()));
  ended->set_message(std::string(status.message()));
  ended->set_restart_ts(restart_ts);
  return r;
}

}  // namespace

void WatchStream::Start() {
  grpc::Status refused;
  if (!service_->watch_streams().Add(this, weak_from_this(), &refused)) {
    End(refused);
    return;
  }
  Kick();
}

void WatchStream::OnRead(std::optional<v1::WatchRequest> request) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    read_completed_ = true;
    if (request.has_value()) {
      requests_.push_back(*std::move(request));
    } else {
      read_closed_ = true;
    }
  }
  Kick();
}

void WatchStream::OnWritten(bool ok) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    write_completed_ = true;
    if (!ok) write_failed_ = true;
  }
  Kick();
}

void WatchStream::End(const grpc::Status& status) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (!end_.has_value()) end_ = status;
  }
  Kick();
}

void WatchStream::Kick() {
  if (kicks_.fetch_add(1, std::memory_order_acq_rel) != 0) return;
  int served = 1;
  while (true) {
    Pump();
    const int left =
        kicks_.fetch_sub(served, std::memory_order_acq_rel) - served;
    if (left == 0) return;
    served = left;
  }
}

void WatchStream::Pump() {
  if (finished_) return;
  std::deque<v1::WatchRequest> requests;
  std::vector<uint64_t> woken;
  bool write_failed = false;
  std::optional<grpc::Status> end;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    requests.swap(requests_);
    woken.swap(woken_);
    wake_kick_pending_ = false;
    if (read_completed_) reading_ = false;
    if (read_closed_) half_closed_ = true;
    if (write_completed_) writing_ = false;
    read_completed_ = write_completed_ = false;
    write_failed = write_failed_;
    end = end_;
  }
  if (end.has_value()) return Finish(*end);
  if (write_failed || (half_closed_ && reactor_->cancelled())) {
    return Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                               "client went away"));
  }
  for (uint64_t id : woken) {
    auto it = watches_.find(id);
    if (it != watches_.end()) Queue(id, it->second);
  }
  for (v1::WatchRequest& request : requests) Handle(request);
  if (!reading_ && !half_closed_) {
    reading_ = true;
    reactor_->StartRead(reactor_->request());
  }
  if (!writing_ && NextResponse(&out_)) {
    writing_ = true;
    if (Metrics* metrics = service_->metrics()) RecordLag(out_, metrics);
    reactor_->StartWrite(&out_);
  }
  if (half_closed_ && !writing_ && watches_.empty() && control_.empty()) {
    Finish(grpc::Status::OK);
  }
}

void WatchStream::Handle(v1::WatchRequest& request) {
  switch (request.request_case()) {
    case v1::WatchRequest::kCreate:
      return Create(request.create());
    case v1::WatchRequest::kCancel: {
      const uint64_t id = request.cancel().watch_id();
      auto it = watches_.find(id);
      if (it == watches_.end()) {
        return Ended(id, absl::NotFoundError(absl::StrCat(
                             "cancel: no watch ", id, " on this stream")),
                     0);
      }
      watches_.erase(it);  // drops an armed callback (invariant 3)
      if (partial_.has_value() && partial_id_ == id) partial_.reset();
      return Ended(id, absl::CancelledError(absl::StrCat(
                           "watch ", id, " cancelled by the client")),
                   0);
    }
    case v1::WatchRequest::kProgress: {
      const uint64_t id = request.progress().watch_id();
      if (id == 0) {
        for (auto& [unused, slot] : watches_) slot.watch->RequestProgress();
        return;
      }
      auto it = watches_.find(id);
      if (it == watches_.end()) {
        return Ended(id, absl::NotFoundError(absl::StrCat(
                             "progress: no watch ", id, " on this stream")),
                     0);
      }
      // An armed callback runs once the progress event is there.
      it->second.watch->RequestProgress();
      return;
    }
    default:
      return Ended(0,
                   absl::InvalidArgumentError(
                       "WatchRequest with nothing set (create, cancel or "
                       "progress)"),
                   0);
  }
}

void WatchStream::Create(const v1::WatchCreateRequest& request) {
  uint64_t id = request.watch_id();
  if (id == 0) {
    id = 1;
    while (watches_.count(id) != 0) ++id;
  } else if (watches_.count(id) != 0) {
    return Ended(id, absl::InvalidArgumentError(absl::StrCat(
                         "watch id ", id, " is already open on this stream")),
                 0);
  }
  auto watch = service_->handler()->OpenWatch(request, id);
  if (!watch.ok()) {
    return Ended(id, watch.status(),
                 WatchRestartTs(watch.status()).value_or(0));
  }
  Slot& slot = watches_[id];
  slot.watch = *std::move(watch);
  slot.next_ts = slot.watch->start_ts();
  slot.max_commits = std::clamp<uint32_t>(request.max_commits_per_response(),
                                          1, kMaxCommitsPerResponse);
  slot.share = request.share_responses();
  v1::WatchResponse created;
  created.set_watch_id(id);
  created.mutable_created()->set_start_ts(slot.next_ts);
  control_.push_back(std::move(created));
  Queue(id, slot);
}

void WatchStream::Queue(uint64_t id, Slot& slot) {
  if (slot.queued) return;
  slot.queued = true;
  ready_.push_back(id);
}

bool WatchStream::NextResponse(v1::WatchResponse* out) {
  out->Clear();
  if (!control_.empty()) {
    *out = std::move(control_.front());
    control_.pop_front();
    return true;
  }
  if (partial_.has_value()) {
    FillCommit(out);
    return true;
  }
  while (!ready_.empty()) {
    const uint64_t id = ready_.front();
    ready_.pop_front();
    auto it = watches_.find(id);
    if (it == watches_.end()) continue;  // cancelled while queued
    it->second.queued = false;
    const bool share = it->second.share;
    if (NextOf(id, it->second, /*first=*/true, kResponseBytes, out) !=
        Pulled::kResponse) {
      continue;
    }
    if (share && !partial_.has_value()) Share(id, out);
    return true;
  }
  return false;
}

WatchStream::Pulled WatchStream::NextOf(uint64_t id, Slot& slot, bool first,
                                        std::size_t budget,
                                        v1::WatchResponse* out) {
  absl::StatusOr<WatchEvent> event = Pull(slot);
  if (absl::IsDeadlineExceeded(event.status())) {
    Arm(id, slot);
    return Pulled::kNothing;
  }
  if (!event.ok()) {
    // Terminal: fell behind, compacted, closed (Cancel is ours only
    // through a cancel request, answered in Handle).
    const uint64_t restart =
        WatchRestartTs(event.status()).value_or(slot.next_ts);
    *out = EndedResponse(id, event.status(), restart);
    watches_.erase(id);
    return Pulled::kResponse;
  }
  if (event->type == WatchEvent::Type::kProgress) {
    Queue(id, slot);  // round robin: its next event after the others'
    out->set_watch_id(id);
    out->mutable_progress()->set_ts(event->commit_ts);
    return Pulled::kResponse;
  }
  const std::size_t bytes = CommitBytes(*event);
  if (!first && bytes > budget) {
    // It waits, first in line for the next write (invariant 5).
    slot.held = std::move(event);
    slot.queued = true;
    ready_.push_front(id);
    return Pulled::kNoRoom;
  }
  Queue(id, slot);
  if (slot.max_commits > 1 && bytes <= budget) {
    std::vector<WatchEvent> batch = TakeReady(slot, *std::move(event), budget);
    slot.next_ts = batch.back().commit_ts + 1;
    if (batch.size() > 1) {
      FillCommits(id, batch, out);
      return Pulled::kResponse;
    }
    event = std::move(batch.front());
  }
  slot.next_ts = event->commit_ts + 1;
  // A commit within the budget fits whole; only a write's first can be
  // split, and then nothing is shared with it.
  partial_ = *std::move(event);
  partial_id_ = id;
  partial_pos_ = 0;
  FillCommit(out);
  return Pulled::kResponse;
}

void WatchStream::Share(uint64_t first_id, v1::WatchResponse* out) {
  std::size_t used = out->ByteSizeLong();
  if (used >= kResponseBytes) return;
  v1::WatchResponse first = std::move(*out);
  out->Clear();
  google::protobuf::RepeatedPtrField<v1::WatchResponse>* responses =
      out->mutable_batch()->mutable_responses();
  *responses->Add() = std::move(first);
  // One pass over the watches queued now, one response each (first_id,
  // queued again at the back if it has more, waits for the next write);
  // watches that do not share keep their places at the front.
  std::size_t n = ready_.size();
  if (n > 0 && ready_.back() == first_id) --n;
  std::vector<uint64_t> unshared;
  for (; n > 0 && !ready_.empty(); --n) {
    const uint64_t id = ready_.front();
    ready_.pop_front();
    auto it = watches_.find(id);
    if (it == watches_.end()) continue;
    if (!it->second.share) {
      unshared.push_back(id);
      continue;
    }
    it->second.queued = false;
    v1::WatchResponse* next = responses->Add();
    const Pulled pulled =
        NextOf(id, it->second, /*first=*/false, kResponseBytes - used, next);
    if (pulled != Pulled::kResponse) {
      responses->RemoveLast();
      if (pulled == Pulled::kNoRoom) break;
      continue;
    }
    used += next->ByteSizeLong();
    if (used >= kResponseBytes) break;
  }
  for (auto it = unshared.rbegin(); it != unshared.rend(); ++it) {
    ready_.push_front(*it);
  }
  if (responses->size() == 1) {
    first = std::move(*responses->Mutable(0));
    *out = std::move(first);
  }
}

void WatchStream::RecordLag(const v1::WatchResponse& response,
                            Metrics* metrics) {
  int64_t oldest = 0;  // ns; commit times grow with commit_ts
  auto take = [&oldest](const v1::WatchCommit& c) {
    if (c.commit_time_unix_ns() != 0 &&
        (oldest == 0 || c.commit_time_unix_ns() < oldest)) {
      oldest = c.commit_time_unix_ns();
    }
  };
  auto scan = [&take](const v1::WatchResponse& r) {
    if (r.has_commit()) take(r.commit());
    for (const v1::WatchCommit& c : r.commits().commits()) take(c);
  };
  scan(response);
  for (const v1::WatchResponse& r : response.batch().responses()) scan(r);
  if (oldest != 0) {
    metrics->RecordWatchLag(absl::Now() - absl::FromUnixNanos(oldest));
  }
}

absl::StatusOr<WatchEvent> WatchStream::Pull(Slot& slot) {
  if (!slot.held.has_value()) return slot.watch->Next(absl::InfinitePast());
  absl::StatusOr<WatchEvent> event = *std::move(slot.held);
  slot.held.reset();
  return event;
}

std::vector<WatchEvent> WatchStream::TakeReady(Slot& slot, WatchEvent first,
                                               std::size_t budget) {
  std::vector<WatchEvent> batch;
  std::size_t bytes = CommitBytes(first);
  batch.push_back(std::move(first));
  // Only what is ready now: a DeadlineExceeded ends the batch (the next
  // visit of this queued watch arms it); anything else that is not a
  // commit within the caps waits in held for the next response.
  while (batch.size() < slot.max_commits) {
    absl::StatusOr<WatchEvent> next = slot.watch->Next(absl::InfinitePast());
    if (absl::IsDeadlineExceeded(next.status())) break;
    if (!next.ok() || next->type != WatchEvent::Type::kCommit ||
        bytes + CommitBytes(*next) > budget) {
      slot.held = std::move(next);
      break;
    }
    bytes += CommitBytes(*next);
    batch.push_back(*std::move(next));
  }
  return batch;
}

void WatchStream::FillCommits(uint64_t id, std::vector<WatchEvent>& batch,
                              v1::WatchResponse* out) {
  out->set_watch_id(id);
  v1::WatchCommits* commits = out->mutable_commits();
  for (WatchEvent& event : batch) {
    v1::WatchCommit* commit = commits->add_commits();
    commit->set_commit_ts(event.commit_ts);
    commit->set_commit_time_unix_ns(absl::ToUnixNanos(event.commit_time));
    for (WatchChange& change : event.changes) MoveChange(change, commit);
  }
}

void WatchStream::FillCommit(v1::WatchResponse* out) {
  out->set_watch_id(partial_id_);
  v1::WatchCommit* commit = out->mutable_commit();
  commit->set_commit_ts(partial_->commit_ts);
  commit->set_commit_time_unix_ns(absl::ToUnixNanos(partial_->commit_time));
  std::size_t bytes = 0;
  std::vector<WatchChange>& changes = partial_->changes;
  while (partial_pos_ < changes.size() &&
         (bytes == 0 || bytes + changes[partial_pos_].key.size() +
                                changes[partial_pos_].value.size() <=
                            kResponseBytes)) {
    WatchChange& change = changes[partial_pos_++];
    bytes += change.key.size() + change.value.size() + 1;
    MoveChange(change, commit);
  }
  const bool more = partial_pos_ < changes.size();
  commit->set_more(more);
  if (!more) partial_.reset();
}

void WatchStream::Arm(uint64_t id, Slot& slot) {
  std::weak_ptr<WatchStream> weak = weak_from_this();
  Executor* executor = service_->executor();
  // On the engine's notifier thread (or inline, if the database closed):
  // report the id and hand the pumping to a worker (invariant 3).
  absl::Status armed = slot.watch->NotifyWhenReady([weak, id, executor] {
    std::shared_ptr<WatchStream> self = weak.lock();
    if (self == nullptr) return;
    bool kick;
    {
      std::lock_guard<std::mutex> lock(self->inbox_mu_);
      self->woken_.push_back(id);
      kick = !self->wake_kick_pending_;
      self->wake_kick_pending_ = true;
    }
    if (kick && !executor->Submit([self] { self->Kick(); })) self->Kick();
  });
  if (!armed.ok()) Queue(id, slot);  // never armed twice (invariant 3)
}

void WatchStream::Ended(uint64_t id, const absl::Status& status,
                        uint64_t restart_ts) {
  control_.push_back(EndedResponse(id, status, restart_ts));
}

void WatchStream::Finish(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  watches_.clear();  // drops armed callbacks: no more wakes
  ready_.clear();
  control_.clear();
  partial_.reset();
  service_->watch_streams().Remove(this);
  reactor_->Finish(reactor_->call().Finish(status));  // invariant 4
}

// ---- WatchStreams. ----

void WatchStreams::EndAll(const grpc::Status& status) {
  std::vector<std::shared_ptr<WatchStream>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    close_status_ = status;
    for (auto& [unused, weak] : open_) {
      if (auto stream = weak.lock()) open.push_back(std::move(stream));
    }
  }
  for (auto& stream : open) stream->End(status);
}

bool WatchStreams::Add(WatchStream* stream, std::weak_ptr<WatchStream> weak,
                       grpc::Status* status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    *status = close_status_;
    return false;
  }
  open_.emplace(stream, std::move(weak));
  return true;
}

void WatchStreams::Remove(WatchStream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  open_.erase(stream);
}

grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse>* NewWatchReactor(
    KvService* service, grpc::CallbackServerContext* context) {
  return new WatchReactor(service, context);
}

}  // namespace mvkv::server
