// Pipeline: the client side of the Pipeline stream (see client.h), a
// callback-API bidirectional reactor. Operations queue in pending_ and go
// out one message at a time (every operation started while a write is
// outstanding joins the next message); results are matched to their
// callbacks by id.
//
// Invariants:
//   1. At most one write is outstanding (writing_), and out_ is used only by
//      it: filled under mu before StartWrite, left alone until OnWriteDone.
//   2. A hold (AddHold) keeps the stream open for writes started from
//      outside reactions; it is released once, after the last write (with
//      StartWritesDone) or when the stream broke.
//   3. OnDone is the reactor's last reaction: it touches only the shared
//      state it keeps alive itself, so the destructor, woken by it, may
//      free the reactor at once.
//   4. A following OpenPipeline (Client::OpenPipeline) starts no operation
//      before the server's initial metadata arrived (the server sends them
//      once it accepted the stream: on a cluster, once its leadership is
//      confirmed). A refused stream carried none of the caller's operations,
//      so opening it again elsewhere applies nothing twice.
#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/client_internal.h"
#include "client/wire.h"

namespace mvkv::client {

class Pipeline::Reactor final
    : public grpc::ClientBidiReactor<v1::PipelineRequest,
                                     v1::PipelineResponse> {
 public:
  explicit Reactor(const PipelineOptions& options)
      : max_ops_(std::max(1, options.max_ops_per_message)),
        s_(std::make_shared<Shared>()) {}

  grpc::ClientContext* context() { return &context_; }

  // Starts the call on `stub`.
  void Begin(v1::KV::Stub& stub) {
    stub.async()->Pipeline(&context_, this);
    AddHold();
    StartRead(&in_);
    StartCall();
  }

  // An endpoint that could not be reached: no call; status() is `status`
  // and every operation is answered with UNAVAILABLE.
  void Fail(absl::Status status) {
    absl::MutexLock l(&s_->mu);
    s_->broken = s_->released = s_->done = true;
    s_->status = std::move(status);
  }

  // Invariant 4: whether the server accepted the stream (its initial
  // metadata arrived) by `deadline`. If not, the stream is closed (and
  // cancelled, at the deadline) before returning; status() then says why.
  bool AwaitAccepted(absl::Time deadline, const std::string& address) {
    bool timed_out = false;
    {
      absl::MutexLock l(&s_->mu);
      s_->mu.AwaitWithDeadline(
          absl::Condition(
              +[](Shared* s) { return s->headers != Headers::kWaiting; },
              s_.get()),
          deadline);
      if (s_->headers == Headers::kAccepted) return true;
      timed_out = s_->headers == Headers::kWaiting;
    }
    if (timed_out) context_.TryCancel();
    Close();
    if (timed_out) {
      absl::MutexLock l(&s_->mu);
      s_->status = absl::DeadlineExceededError(absl::StrCat(
          address, " did not accept the pipeline stream in time"));
    }
    return false;
  }

  uint64_t Start(const Op& op, OpCallback done) {
    bool write = false;
    uint64_t id = 0;  // 0: not sent
    {
      absl::MutexLock l(&s_->mu);
      if (!s_->broken) {
        id = s_->next_id++;
        s_->waiting.emplace(id, Waiting{op.kind, std::move(done)});
        if (s_->pending.empty() ||
            s_->pending.back().ops_size() >= max_ops_) {
          s_->pending.emplace_back();
        }
        *s_->pending.back().add_ops() = wire::ToAutocommit(op, id);
        write = TakeNextLocked();
      }
    }
    if (id == 0) {  // the stream had ended
      std::move(done)(OpOutcome{Ended(), OpResult{.kind = op.kind}});
      return 0;
    }
    if (write) StartWrite(&out_);
    return id;
  }

  void Wait() {
    absl::MutexLock l(&s_->mu);
    s_->mu.Await(absl::Condition(
        +[](Shared* s) { return s->waiting.empty() && s->answering == 0; },
        s_.get()));
  }

  int in_flight() const {
    absl::MutexLock l(&s_->mu);
    return static_cast<int>(s_->waiting.size());
  }

  absl::Status status() const {
    absl::MutexLock l(&s_->mu);
    return s_->status;
  }

  // Half-closes once everything is sent and waits for OnDone.
  void Close() {
    Release release = Release::kNone;
    {
      absl::MutexLock l(&s_->mu);
      s_->closing = true;
      release = ReleaseLocked();
    }
    Do(release);
    absl::MutexLock l(&s_->mu);
    s_->mu.Await(absl::Condition(&s_->done));
  }

  void OnReadInitialMetadataDone(bool ok) override {
    absl::MutexLock l(&s_->mu);
    s_->headers = ok ? Headers::kAccepted : Headers::kRefused;
  }

  void OnWriteDone(bool ok) override {
    bool write = false;
    Release release = Release::kNone;
    {
      absl::MutexLock l(&s_->mu);
      s_->writing = false;
      out_.Clear();
      // A failed write: the stream is dead and the read fails too
      // (OnReadDone then answers every waiting operation).
      if (ok) write = TakeNextLocked();
      release = ReleaseLocked();
    }
    if (write) StartWrite(&out_);
    Do(release);
  }

  void OnReadDone(bool ok) override {
    std::vector<std::pair<Waiting, v1::AutocommitResult*>> answered;
    Release release = Release::kNone;
    {
      absl::MutexLock l(&s_->mu);
      if (ok) {
        for (v1::AutocommitResult& r : *in_.mutable_results()) {
          auto it = s_->waiting.find(r.id());
          if (it == s_->waiting.end()) continue;  // not ours: ignored
          answered.emplace_back(std::move(it->second), &r);
          s_->waiting.erase(it);
        }
      } else {
        s_->broken = true;
        s_->pending.clear();
        for (auto& [id, w] : s_->waiting) {
          answered.emplace_back(std::move(w), nullptr);
        }
        s_->waiting.clear();
        release = ReleaseLocked();
      }
      s_->answering += answered.empty() ? 0 : 1;
    }
    for (auto& [w, result] : answered) {
      std::move(w.done)(result != nullptr
                            ? wire::FromProto(*result, w.kind)
                            : OpOutcome{Ended(), OpResult{.kind = w.kind}});
    }
    if (!answered.empty()) {
      absl::MutexLock l(&s_->mu);
      --s_->answering;
    }
    if (ok) {
      in_.Clear();
      StartRead(&in_);
    }
    Do(release);
  }

  void OnDone(const grpc::Status& status) override {
    std::shared_ptr<Shared> keep = s_;  // invariant 3
    absl::MutexLock l(&keep->mu);
    keep->status = wire::FromGrpc(status);
    keep->done = true;
  }

 private:
  // The server's initial metadata (invariant 4).
  enum class Headers { kWaiting, kAccepted, kRefused };
  struct Waiting {
    Op::Kind kind;
    OpCallback done;
  };
  struct Shared {
    mutable absl::Mutex mu;
    std::deque<v1::PipelineRequest> pending ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<uint64_t, Waiting> waiting ABSL_GUARDED_BY(mu);
    uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
    // Reactions running callbacks of answered operations (Wait waits).
    int answering ABSL_GUARDED_BY(mu) = 0;
    bool writing ABSL_GUARDED_BY(mu) = false;
    bool closing ABSL_GUARDED_BY(mu) = false;
    bool released ABSL_GUARDED_BY(mu) = false;
    bool broken ABSL_GUARDED_BY(mu) = false;  // the read side ended
    bool done ABSL_GUARDED_BY(mu) = false;    // OnDone ran
    Headers headers ABSL_GUARDED_BY(mu) = Headers::kWaiting;
    absl::Status status ABSL_GUARDED_BY(mu);
  };
  enum class Release { kNone, kWritesDone, kHoldOnly };

  static absl::Status Ended() {
    return absl::UnavailableError("pipeline stream ended");
  }

  // Moves the next pending message to out_ if no write is outstanding.
  bool TakeNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu) {
    if (s_->writing || s_->pending.empty()) return false;
    out_ = std::move(s_->pending.front());
    s_->pending.pop_front();
    s_->writing = true;
    return true;
  }

  // Invariant 2: the hold goes once closing and everything is sent, or
  // once the stream broke.
  Release ReleaseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu) {
    if (s_->released || !s_->closing) return Release::kNone;
    if (s_->broken) {
      s_->released = true;
      return Release::kHoldOnly;
    }
    if (s_->writing || !s_->pending.empty()) return Release::kNone;
    s_->released = true;
    return Release::kWritesDone;
  }

  void Do(Release release) {
    if (release == Release::kWritesDone) StartWritesDone();
    if (release != Release::kNone) RemoveHold();
  }

  grpc::ClientContext context_;
  const int max_ops_;
  v1::PipelineRequest out_;   // invariant 1
  v1::PipelineResponse in_;   // the reader's
  std::shared_ptr<Shared> s_;
};

Pipeline::Pipeline(std::unique_ptr<Reactor> reactor)
    : reactor_(std::move(reactor)) {}

Pipeline::~Pipeline() { reactor_->Close(); }

uint64_t Pipeline::Start(const Op& op, OpCallback done) {
  return reactor_->Start(op, std::move(done));
}

void Pipeline::Wait() { reactor_->Wait(); }

int Pipeline::in_flight() const { return reactor_->in_flight(); }

absl::Status Pipeline::status() const { return reactor_->status(); }

std::unique_ptr<Pipeline> Client::OpenPipeline(
    const PipelineOptions& options) {
  Router& router = *stubs_->router;
  auto open = [&](Endpoint* endpoint) {
    auto reactor = std::make_unique<Pipeline::Reactor>(options);
    // The stream has no deadline: it lives as long as the Pipeline.
    PrepareContext(reactor->context(), absl::InfiniteDuration());
    reactor->Begin(*endpoint->kv);
    return reactor;
  };
  auto wrap = [](std::unique_ptr<Pipeline::Reactor> reactor) {
    return std::unique_ptr<Pipeline>(new Pipeline(std::move(reactor)));
  };
  // One server, not told to follow: no wait, as cheap as a stream gets.
  if (!options.follow_leader && router.size() == 1) {
    return wrap(open(router.Current()));
  }
  // Routed like a read (client/router.h): no operation goes out before the
  // server accepted the stream (invariant 4), so a refused or broken
  // attempt is safe to repeat.
  const absl::Time deadline = absl::Now() + options_.timeout;
  for (int attempt = 1;; ++attempt) {
    Endpoint* endpoint = router.Current();
    std::unique_ptr<Pipeline::Reactor> reactor;
    std::optional<std::string> leader;
    const bool sent = Router::Reachable(endpoint, deadline);
    if (sent) {
      reactor = open(endpoint);
      if (reactor->AwaitAccepted(deadline, endpoint->address)) {
        return wrap(std::move(reactor));
      }
      leader = LeaderOf(*reactor->context());
    } else {
      reactor = std::make_unique<Pipeline::Reactor>(options);
      reactor->Fail(absl::UnavailableError(
          absl::StrCat("cannot connect to ", endpoint->address)));
    }
    if (!router.After(endpoint, reactor->status(), leader, sent,
                      /*idempotent=*/true, attempt, options_.max_attempts,
                      deadline)) {
      return wrap(std::move(reactor));
    }
  }
}

}  // namespace mvkv::client
