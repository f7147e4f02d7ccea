// KvService::Pipeline: autocommit operations pipelined on one stream
// (proto/kv.proto, rpc Pipeline), one PipelineReactor per stream.
//
// Four kinds of events touch a reactor, on any threads: a read completing
// (OnReadDone), a write completing (OnWriteDone), an operation's result
// (inline while a message is processed, or on the engine's completion
// thread for a commit) and the stall alarm. Its state is guarded by mu_;
// the gRPC calls an event leads to (StartRead, StartWrite, Finish,
// TryCancel, the alarm's Set and Cancel) are decided under mu_ and made
// after releasing it.
//
// Invariants:
//   1. At most one read is outstanding, and request_ is used only by the
//      holder of the reader role: OnReadDone, or the OnWriteDone that
//      resumes a paused message (processing_ is set under mu_ by whoever
//      takes the role and cleared when it ends: by StartRead, by pausing,
//      or at the end of the stream).
//   2. At most one write is outstanding (writing_), and out_ is used only by
//      its writer: filled under mu_ before StartWrite, cleared in
//      OnWriteDone.
//   3. ops_ and bytes_ count every operation accepted and not yet written
//      (running, ready_ or out_) and the bytes they hold; a read taken
//      counts the largest result it may return (KvHandler::MaxReadBytes)
//      until its real result replaces that. Reading pauses at the window
//      and resumes from OnWriteDone below half of it, so a client that
//      stops reading holds at most a window plus one largest result in the
//      server.
//   4. Finish is called once, when no read, write, operation, alarm or
//      TryCancel is outstanding, so OnDone (which deletes the reactor)
//      comes after every callback that may touch it. After its unlock an
//      event touches the reactor only through an action that one of those
//      keeps alive.
//   5. On a replication node (KvService::clustered()) the stream sends its
//      initial metadata and starts reading only once the node confirmed its
//      leadership (KvService::AfterLeadership; a refusal finishes it with
//      mvkv-leader and no headers, which a following client reads as
//      "refused, nothing done": client/pipeline.cc's invariant 4),
//      and a group holding a linearizable read or a delete runs only after
//      another confirmation: the reader role waits for it (processing_ stays
//      set, so invariants 1 and 4 hold across the wait) and goes on from its
//      callback, so the stream's writes still reach the engine in arrival
//      order. Writes need no confirmation: the engine refuses them on a
//      follower and replicates them on the leader. Once a confirmation
//      failed, the rest of the message is answered with that refusal and
//      nothing of it runs (its callback may run on the node's loop thread,
//      which must not wait for the engine).
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/alarm.h"
#include "server/kv_service.h"

namespace mvkv::server {
namespace {

// Operations taken from a message under one lock (and read by one ReadMany).
constexpr int kGroup = 32;
// Results packed into one PipelineResponse, in estimated bytes (at least
// one result per message): below gRPC's default 4 MiB receive limit.
constexpr std::size_t kMaxMessageBytes = 1 << 20;

int64_t RequestBytes(const v1::AutocommitOp& op) {
  switch (op.op_case()) {
    case v1::AutocommitOp::kPut:
      return 32 + op.put().key().size() + op.put().value().size();
    case v1::AutocommitOp::kDelete:
      return 32 + op.delete_().key().size();
    default:
      return 32;
  }
}

int64_t ResultBytes(const v1::AutocommitResult& r) {
  int64_t bytes = 32 + r.message().size();
  if (r.has_get()) bytes += r.get().kv().key().size() + r.get().kv().value().size();
  return bytes;
}

class PipelineReactor final
    : public grpc::ServerBidiReactor<v1::PipelineRequest,
                                     v1::PipelineResponse> {
 public:
  PipelineReactor(KvService* service, grpc::CallbackServerContext* context)
      : call_(service, context, Method::kPipeline),
        context_(context),
        options_(service->pipeline_options()),
        gauges_(service->pipelined()) {
    if (!call_.admitted()) {
      finished_ = true;
      Finish(call_.Finish(call_.admission()));
      return;
    }
    gauges_.streams.fetch_add(1, std::memory_order_relaxed);
    counted_ = true;
    if (service->clustered()) {  // invariant 5
      service->AfterLeadership([this](absl::Status s) { Begin(s); });
    } else {
      Begin(absl::OkStatus());
    }
  }

  void OnReadDone(bool ok) override {
    Actions a;
    {
      absl::MutexLock l(&mu_);
      read_outstanding_ = false;
      if (ok) {
        processing_ = true;
        a.resume = true;
        resume_at_ = 0;
      } else {
        reads_closed_ = true;  // half-close, cancellation or disconnect
        FinishLocked(&a);
      }
    }
    Run(a);
  }

  void OnWriteDone(bool ok) override {
    Actions a;
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      Adjust(-out_.results_size(), -out_bytes_);
      out_.Clear();
      out_bytes_ = 0;
      if (!ok) {
        client_gone_ = !stalled_;
        CancelLocked(&a);
      } else {
        StartWriteLocked(&a);
        if (paused_ && !cancelled_ && ops_ <= options_.window_ops / 2 &&
            bytes_ <= static_cast<int64_t>(options_.window_bytes / 2)) {
          paused_ = false;
          processing_ = true;
          a.resume = true;
        }
      }
      FinishLocked(&a);
    }
    Run(a);
  }

  void OnDone() override {
    if (counted_) gauges_.streams.fetch_sub(1, std::memory_order_relaxed);
    delete this;
  }

 private:
  // What an event does after releasing mu_, in this order.
  struct Actions {
    bool write = false;         // StartWrite(&out_)
    bool arm = false;           // a new stall alarm at arm_at
    absl::Time arm_at;
    bool cancel_alarm = false;  // Cancel the armed alarm (a hold)
    bool try_cancel = false;    // TryCancel (a hold)
    bool resume = false;        // go on processing request_ at resume_at_
    bool read = false;          // StartRead(&request_)
    bool finish = false;        // the last action
  };

  // One accepted operation of a group, and how it runs.
  struct Taken {
    const v1::AutocommitOp* op;
    enum Kind { kRead, kAsync, kRefused } kind;
    bool tracked;  // its id is in ids_ (erased when its result is ready)
  };

  KvHandler& handler() { return *call_.service().handler(); }

  // Accepts the stream (sends the initial metadata) and starts reading it,
  // or (`leadership` not OK: a replication node that does not lead)
  // finishes it with that status before any read and without headers.
  void Begin(const absl::Status& leadership) {
    {
      absl::MutexLock l(&mu_);
      if (leadership.ok()) {
        read_outstanding_ = true;
      } else {
        finished_ = true;
      }
    }
    if (leadership.ok()) {
      // The stream is accepted: a following client starts its operations
      // once these headers arrive (client/pipeline.cc's invariant 4).
      // OnSendInitialMetadataDone is gRPC's no-op: invariant 4 holds.
      StartSendInitialMetadata();
      StartRead(&request_);
    } else {
      Finish(call_.Finish(leadership));
    }
  }

  // Whether a group must wait for a leadership confirmation (invariant 5):
  // it reads linearizably, or deletes (a delete of a missing key commits
  // nothing, so only a confirmed leader may answer NOT_FOUND, as for the
  // unary Delete).
  bool NeedsLeadership(const std::vector<Taken>& taken) {
    if (!call_.service().clustered()) return false;
    for (const Taken& t : taken) {
      if (t.kind == Taken::kRead && t.op->get().consistency() != v1::STALE) {
        return true;
      }
      if (t.kind == Taken::kAsync && t.op->has_delete_()) return true;
    }
    return false;
  }

  void Adjust(int64_t ops, int64_t bytes) {  // REQUIRES: mu_ held
    ops_ += ops;
    bytes_ += bytes;
    gauges_.ops.fetch_add(ops, std::memory_order_relaxed);
    gauges_.bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  int64_t ReadReserve() {
    return 32 + static_cast<int64_t>(handler().MaxReadBytes());
  }
  bool WindowFullLocked() const {
    return ops_ >= options_.window_ops ||
           bytes_ >= static_cast<int64_t>(options_.window_bytes);
  }

  // The reader role: runs request_'s operations from `next` on, in groups,
  // until the message is done (then reads the next one) or the window is
  // full (then pauses until OnWriteDone resumes it).
  void Process(int next) {
    if (next == 0) {
      refusal_ = handler().ValidateBatchSize(request_.ops_size());
      leadership_ = absl::OkStatus();
    }
    std::vector<Taken> taken;
    while (true) {
      taken.clear();
      Actions a;
      {
        absl::MutexLock l(&mu_);
        if (cancelled_ || next == request_.ops_size() || WindowFullLocked()) {
          processing_ = false;
          if (cancelled_) {
            FinishLocked(&a);
          } else if (next == request_.ops_size()) {
            read_outstanding_ = true;
            a.read = true;
          } else {
            paused_ = true;
            resume_at_ = next;
          }
        } else {
          TakeLocked(&next, &taken);
        }
      }
      if (taken.empty()) return Run(a);
      // Under the read lease the group goes on here (no recursion through
      // AfterLeadership's inline call).
      if (leadership_.ok() && NeedsLeadership(taken) &&
          !call_.service().HoldsReadLease()) {
        // The reader role goes on from the callback (invariant 5).
        auto group = std::make_shared<std::vector<Taken>>(std::move(taken));
        call_.service().AfterLeadership(
            [this, group, next](absl::Status leadership) {
              leadership_ = std::move(leadership);
              RunTaken(*group, leadership_);
              Process(next);
            });
        return;
      }
      RunTaken(taken, leadership_);
    }
  }

  // Accepts up to kGroup operations from request_ at *next. REQUIRES: mu_.
  void TakeLocked(int* next, std::vector<Taken>* taken) {
    while (*next < request_.ops_size() && taken->size() < kGroup &&
           !WindowFullLocked()) {
      const v1::AutocommitOp& op = request_.ops((*next)++);
      Taken t{&op, Taken::kRefused, false};
      if (refusal_.ok() && ids_.insert(op.id()).second) {
        t.tracked = true;
        t.kind = op.has_get() ? Taken::kRead : Taken::kAsync;
      }
      int64_t bytes = 0;
      if (t.kind == Taken::kAsync) {
        ++running_;
        bytes = RequestBytes(op);
      } else if (t.kind == Taken::kRead) {
        bytes = ReadReserve();  // until its result is known (invariant 3)
      }
      Adjust(1, bytes);
      taken->push_back(t);
    }
  }

  // Runs a group: reads and refusals inline (their results queued at the
  // end), the rest handed to the handler (results queued by OnResult).
  // `leadership` not OK (the group's confirmation failed): every operation
  // is answered with it and none runs.
  void RunTaken(const std::vector<Taken>& taken,
                const absl::Status& leadership) {
    std::vector<std::unique_ptr<v1::AutocommitResult>> results(taken.size());
    std::vector<const v1::AutocommitOp*> gets;
    std::vector<v1::AutocommitResult*> get_results;
    for (std::size_t i = 0; i < taken.size(); ++i) {
      const Taken& t = taken[i];
      if (t.kind == Taken::kAsync) {
        auto* slot = new v1::AutocommitResult;
        const int64_t bytes = RequestBytes(*t.op);
        if (!leadership.ok()) {
          Answer(*t.op, leadership, slot);
          OnResult(slot, bytes);
          continue;
        }
        handler().RunAsync(*t.op, slot,
                           [this, slot, bytes] { OnResult(slot, bytes); });
        continue;
      }
      results[i] = std::make_unique<v1::AutocommitResult>();
      if (t.kind == Taken::kRead && !leadership.ok()) {
        Answer(*t.op, leadership, results[i].get());
      } else if (t.kind == Taken::kRead) {
        gets.push_back(t.op);
        get_results.push_back(results[i].get());
      } else {
        Refuse(*t.op, results[i].get());
      }
    }
    handler().ReadMany(gets, get_results, nullptr);
    Actions a;
    {
      absl::MutexLock l(&mu_);
      for (std::size_t i = 0; i < taken.size(); ++i) {
        if (results[i] == nullptr) continue;
        if (taken[i].tracked) ids_.erase(taken[i].op->id());
        if (taken[i].kind == Taken::kRead) Adjust(0, -ReadReserve());
        ReadyLocked(results[i].release());
      }
      StartWriteLocked(&a);
    }
    Run(a);
  }

  static void Answer(const v1::AutocommitOp& op, const absl::Status& status,
                     v1::AutocommitResult* result) {
    result->set_id(op.id());
    result->set_code(static_cast<int>(status.code()));
    result->set_message(std::string(status.message()));
  }

  void Refuse(const v1::AutocommitOp& op, v1::AutocommitResult* result) {
    result->set_id(op.id());
    result->set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
    result->set_message(
        refusal_.ok()
            ? absl::StrCat("duplicate request id ", op.id(),
                           ": an operation with this id is in flight")
            : std::string(refusal_.message()));
  }

  // A result from the handler (any thread). Its request's `request_bytes`
  // were counted while it ran.
  void OnResult(v1::AutocommitResult* result, int64_t request_bytes) {
    Actions a;
    {
      absl::MutexLock l(&mu_);
      --running_;
      ids_.erase(result->id());
      Adjust(0, -request_bytes);
      ReadyLocked(result);
      StartWriteLocked(&a);
      FinishLocked(&a);
    }
    Run(a);
  }

  // Queues `result` for sending (or drops it on a cancelled stream); takes
  // ownership. REQUIRES: mu_ held; the op is counted in ops_.
  void ReadyLocked(v1::AutocommitResult* result) {
    if (cancelled_) {
      Adjust(-1, 0);
      delete result;
      return;
    }
    const int64_t bytes = ResultBytes(*result);
    ready_bytes_ += bytes;
    Adjust(0, bytes);
    ready_.mutable_results()->AddAllocated(result);
  }

  // Moves ready results (up to kMaxMessageBytes) to out_ and starts their
  // write, unless one is outstanding. REQUIRES: mu_ held.
  void StartWriteLocked(Actions* a) {
    if (writing_ || cancelled_ || ready_.results_size() == 0) return;
    int take = 0;
    int64_t bytes = 0;
    for (const v1::AutocommitResult& r : ready_.results()) {
      const int64_t b = ResultBytes(r);
      if (take > 0 && bytes + b > static_cast<int64_t>(kMaxMessageBytes)) break;
      bytes += b;
      ++take;
    }
    if (take == ready_.results_size()) {
      out_.Swap(&ready_);
    } else {
      std::vector<v1::AutocommitResult*> moved(take);
      ready_.mutable_results()->ExtractSubrange(0, take, moved.data());
      for (v1::AutocommitResult* r : moved) out_.mutable_results()->AddAllocated(r);
    }
    ready_bytes_ -= bytes;
    out_bytes_ = bytes;
    writing_ = true;
    write_started_ = absl::Now();
    a->write = true;
    if (!alarm_armed_ && options_.stall_timeout != absl::InfiniteDuration() &&
        options_.stall_timeout > absl::ZeroDuration()) {
      alarm_armed_ = true;
      a->arm = true;
      a->arm_at = write_started_ + options_.stall_timeout;
    }
  }

  // Drops what waits to be sent and cancels the call (a hold until the
  // TryCancel returns). REQUIRES: mu_ held.
  void CancelLocked(Actions* a) {
    if (cancelled_) return;
    cancelled_ = true;
    Adjust(-ready_.results_size(), -ready_bytes_);
    ready_.Clear();
    ready_bytes_ = 0;
    ++holds_;
    a->try_cancel = true;
  }

  void OnAlarm(bool fired) {
    Actions a;
    {
      absl::MutexLock l(&mu_);
      const bool waiting = writing_ && !cancelled_;
      if (fired && waiting &&
          absl::Now() - write_started_ >= options_.stall_timeout) {
        stalled_ = true;
        CancelLocked(&a);
      } else if (fired && waiting) {
        a.arm = true;  // the alarm stays armed
        a.arm_at = write_started_ + options_.stall_timeout;
      }
      if (!a.arm) alarm_armed_ = false;
      FinishLocked(&a);
    }
    Run(a);
  }

  // Marks the stream finished (a->finish) if nothing is outstanding any
  // more; asks an armed alarm to go first. REQUIRES: mu_ held.
  void FinishLocked(Actions* a) {
    if (finished_ || read_outstanding_ || processing_ || running_ > 0 ||
        writing_ || holds_ > 0) {
      return;
    }
    if (!cancelled_ && (!reads_closed_ || paused_ || ready_.results_size() > 0)) {
      return;
    }
    if (alarm_armed_) {
      if (!alarm_cancel_asked_) {
        alarm_cancel_asked_ = true;
        ++holds_;
        a->cancel_alarm = true;
      }
      return;
    }
    finished_ = true;
    a->finish = true;
  }

  // Carries out `a` (see Actions); runs the reader role on if it resumes.
  void Run(Actions a) {
    if (a.write) StartWrite(&out_);
    if (a.arm) {
      // The previous alarm has fired (one is armed at a time); its callback,
      // if still running, holds its own reference to it.
      alarm_ = std::make_unique<grpc::Alarm>();
      alarm_->Set(absl::ToChronoTime(a.arm_at),
                  [this](bool fired) { OnAlarm(fired); });
    }
    while (a.cancel_alarm || a.try_cancel) {
      if (a.cancel_alarm) alarm_->Cancel();  // its callback runs, not fired
      if (a.try_cancel) context_->TryCancel();
      Actions next;
      {
        absl::MutexLock l(&mu_);
        holds_ -= int{a.cancel_alarm} + int{a.try_cancel};
        FinishLocked(&next);
      }
      a.cancel_alarm = next.cancel_alarm;
      a.try_cancel = false;
      a.finish = a.finish || next.finish;
    }
    if (a.resume) return Process(resume_at_);
    if (a.read) StartRead(&request_);
    if (a.finish) DoFinish();
  }

  void DoFinish() {
    grpc::Status status = grpc::Status::OK;
    if (stalled_) {
      status = grpc::Status(
          grpc::StatusCode::CANCELLED,
          absl::StrCat("client read no results for ",
                       absl::FormatDuration(options_.stall_timeout),
                       " (--pipeline_stall_timeout)"));
    } else if (client_gone_) {
      status = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    Finish(call_.Finish(status));
  }

  Call call_;
  grpc::CallbackServerContext* const context_;
  const PipelineOptions& options_;
  PipelinedGauges& gauges_;
  bool counted_ = false;  // in gauges_.streams

  v1::PipelineRequest request_;  // the reader role's (invariant 1)
  absl::Status refusal_;         // of request_ as a whole (reader role)
  absl::Status leadership_;      // request_'s failed confirmation (invariant 5)
  int resume_at_ = 0;            // the reader role's, while paused_
  v1::PipelineResponse out_;     // the writer's (invariant 2)
  std::unique_ptr<grpc::Alarm> alarm_;  // set and cancelled as actions

  absl::Mutex mu_;
  v1::PipelineResponse ready_ ABSL_GUARDED_BY(mu_);
  int64_t ready_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t out_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_set<uint64_t> ids_ ABSL_GUARDED_BY(mu_);  // in flight
  int64_t ops_ ABSL_GUARDED_BY(mu_) = 0;    // invariant 3
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;  // invariant 3
  int running_ ABSL_GUARDED_BY(mu_) = 0;    // ops in the handler
  bool read_outstanding_ ABSL_GUARDED_BY(mu_) = false;
  bool processing_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);
  bool alarm_armed_ ABSL_GUARDED_BY(mu_) = false;
  bool alarm_cancel_asked_ ABSL_GUARDED_BY(mu_) = false;
  int holds_ ABSL_GUARDED_BY(mu_) = 0;  // Cancel/TryCancel calls running
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool stalled_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerBidiReactor<v1::PipelineRequest, v1::PipelineResponse>*
KvService::Pipeline(grpc::CallbackServerContext* context) {
  return new PipelineReactor(this, context);
}

}  // namespace mvkv::server
