// null_server: the mvkv.v1.KV service with handlers that answer at once with
// a fixed value and keep nothing: what gRPC alone costs on this machine. It
// runs as its own process on the transport settings of mvkv_server
// (server/transport.h) and speaks the same proto, so the harness drives it
// like mvkv_server (--target=null://HOST:PORT, --start_null) and every
// networked result has a same-run ratio to gRPC's own cost.
//
// Get, TxnGet, Session gets and the gets of Batch and Pipeline return
// --value_bytes bytes; writes return an increasing commit_ts; Scan streams
// one empty chunk; Stats is all zeros; other calls return an empty OK. Logs
// the same JSON "serving" line as mvkv_server (with the port). SIGINT or
// SIGTERM: stop, exit 0.
//
// Watch: each Put and Delete (alone, in a Batch or a Pipeline) is a commit
// of one change, stamped with its commit_ts and the clock
// (commit_time_unix_ns), that the writing call's own thread hands to every
// open watch holding its key and, if the stream is not writing, writes:
// gRPC's own cost of a watch event, with no change buffer and no thread
// between the write and the send, for watch_rpc_bench's `null` target.
// Watches start now (start_ts 0) and have no progress timer (anything
// else ends the watch INVALID_ARGUMENT); responses follow
// max_commits_per_response and share_responses as mvkv_server's do. Unlike
// mvkv_server it keeps every unsent commit (no bound for a slow client)
// and orders only one writer's commits (concurrent writes to one watch may
// arrive in either order).
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "flags/usage.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"
#include "server/log.h"
#include "server/transport.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "HOST:PORT to serve on (port 0: a free one, logged).");
ABSL_FLAG(int32_t, value_bytes, 1100,
          "Size of the value every read returns (the harness passes its "
          "records' size).");
ABSL_FLAG(int64_t, max_request_bytes, 4 << 20,
          "Largest request accepted, as mvkv_server's flag.");

namespace mvkv::null_server {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

class NullWatchStream;

// The open Watch streams, for the writes to publish to. Thread-safe.
class NullWatches final {
 public:
  void Add(NullWatchStream* stream);
  // After it returns no Publish touches `stream`.
  void Remove(NullWatchStream* stream);
  // Commit `ts`, one change, to every stream, on the caller's thread.
  void Publish(const std::string& key, const std::string& value, bool deleted,
               uint64_t ts);

 private:
  std::atomic<int> open_count_{0};      // open_.size(): no lock without watches
  std::shared_mutex mu_;                // Publish shared, Add/Remove unique
  std::vector<NullWatchStream*> open_;  // guarded by mu_
};

class NullKv final : public v1::KV::CallbackService {
 public:
  explicit NullKv(std::string value) : value_(std::move(value)) {}

  ServerUnaryReactor* Get(CallbackServerContext* context,
                          const v1::GetRequest* request,
                          v1::GetResponse* response) override {
    Fill(request->key(), response->mutable_kv());
    return Done(context);
  }
  ServerUnaryReactor* Put(CallbackServerContext* context,
                          const v1::PutRequest* request,
                          v1::PutResponse* response) override {
    response->set_commit_ts(Write(request->key(), request->value(), false));
    return Done(context);
  }
  ServerUnaryReactor* Delete(CallbackServerContext* context,
                             const v1::DeleteRequest* request,
                             v1::DeleteResponse* response) override {
    response->set_commit_ts(Write(request->key(), "", true));
    response->set_existed(true);
    return Done(context);
  }
  ServerUnaryReactor* TxnGet(CallbackServerContext* context,
                             const v1::TxnGetRequest* request,
                             v1::GetResponse* response) override {
    Fill(request->key(), response->mutable_kv());
    return Done(context);
  }
  ServerUnaryReactor* Stats(CallbackServerContext* context,
                            const v1::StatsRequest* /*request*/,
                            v1::StatsResponse* /*response*/) override {
    return Done(context);
  }
  ServerUnaryReactor* Batch(CallbackServerContext* context,
                            const v1::BatchRequest* request,
                            v1::BatchResponse* response) override {
    for (const v1::AutocommitOp& op : request->ops()) {
      Answer(op, response->add_results());
    }
    return Done(context);
  }
  grpc::ServerWriteReactor<v1::ScanResponse>* Scan(
      CallbackServerContext* context,
      const v1::ScanRequest* /*request*/) override;
  grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>* Session(
      CallbackServerContext* context) override;
  grpc::ServerBidiReactor<v1::PipelineRequest, v1::PipelineResponse>*
  Pipeline(CallbackServerContext* context) override;
  grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse>* Watch(
      CallbackServerContext* context) override;

  void Fill(const std::string& key, v1::KeyValue* kv) {
    kv->set_key(key);
    kv->set_value(value_);
    kv->set_commit_ts(1);
  }
  void Answer(const v1::AutocommitOp& op, v1::AutocommitResult* result) {
    result->set_id(op.id());
    if (op.has_get()) {
      Fill(op.get().key(), result->mutable_get()->mutable_kv());
    } else if (op.has_put()) {
      result->mutable_put()->set_commit_ts(
          Write(op.put().key(), op.put().value(), false));
    } else {
      result->mutable_delete_()->set_commit_ts(
          Write(op.delete_().key(), "", true));
      result->mutable_delete_()->set_existed(true);
    }
  }
  uint64_t NextTs() { return ts_.fetch_add(1, std::memory_order_relaxed); }
  // The newest commit_ts handed out (0: none yet).
  uint64_t LastTs() const { return ts_.load(std::memory_order_relaxed) - 1; }
  // A write's commit_ts, published to the watches first.
  uint64_t Write(const std::string& key, const std::string& value,
                 bool deleted) {
    const uint64_t ts = NextTs();
    watches_.Publish(key, value, deleted, ts);
    return ts;
  }

 private:
  static ServerUnaryReactor* Done(CallbackServerContext* context) {
    ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  const std::string value_;
  std::atomic<uint64_t> ts_{1};  // relaxed: only uniqueness matters
  NullWatches watches_;
};

class NullScan final : public grpc::ServerWriteReactor<v1::ScanResponse> {
 public:
  NullScan() { StartWriteAndFinish(&chunk_, grpc::WriteOptions(), grpc::Status::OK); }
  void OnDone() override { delete this; }

 private:
  v1::ScanResponse chunk_;
};

// Answers each request at once, one write at a time.
class NullSession final
    : public grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse> {
 public:
  explicit NullSession(NullKv* kv) : kv_(kv) { StartRead(&request_); }
  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);
    response_.Clear();
    if (request_.has_get()) Fill();
    if (request_.has_commit()) {
      response_.mutable_commit()->set_commit_ts(kv_->NextTs());
    }
    if (request_.has_begin()) response_.mutable_begin()->set_txn_id(1);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::CANCELLED);
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  void Fill() { kv_->Fill(request_.get().key(), response_.mutable_get()->mutable_kv()); }

  NullKv* const kv_;
  v1::SessionRequest request_;
  v1::SessionResponse response_;
};

// Answers every operation of a message at once; reads the next message
// while results are written (one write outstanding, the rest queued).
class NullPipeline final
    : public grpc::ServerBidiReactor<v1::PipelineRequest,
                                     v1::PipelineResponse> {
 public:
  explicit NullPipeline(NullKv* kv) : kv_(kv) { StartRead(&request_); }
  void OnReadDone(bool ok) override {
    bool write = false, finish = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!ok) {
        closed_ = true;
        finish = FinishLocked();
      } else {
        for (const v1::AutocommitOp& op : request_.ops()) {
          kv_->Answer(op, ready_.add_results());
        }
        if (!writing_) {
          out_.Swap(&ready_);
          writing_ = write = true;
        }
      }
    }
    if (write) StartWrite(&out_);
    if (ok) StartRead(&request_);
    if (finish) Finish(grpc::Status::OK);
  }
  void OnWriteDone(bool ok) override {
    bool write = false, finish = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      out_.Clear();
      writing_ = false;
      if (!ok) closed_ = true;  // the call is dead: the read fails too
      if (ok && ready_.results_size() > 0) {
        out_.Swap(&ready_);
        writing_ = write = true;
      } else {
        finish = FinishLocked();
      }
    }
    if (write) StartWrite(&out_);
    if (finish) Finish(grpc::Status::OK);
  }
  void OnDone() override { delete this; }

 private:
  // Once, when the client has half-closed and every result is written.
  bool FinishLocked() {
    if (finished_ || !closed_ || writing_) return false;
    finished_ = true;
    return true;
  }

  NullKv* const kv_;
  v1::PipelineRequest request_;
  v1::PipelineResponse out_;
  std::mutex mu_;
  v1::PipelineResponse ready_;  // guarded by mu_
  bool writing_ = false;        // guarded by mu_
  bool closed_ = false;         // guarded by mu_
  bool finished_ = false;       // guarded by mu_
};

// One Watch stream: its watches, each with the commits not yet sent, and
// one write outstanding. Writes that find it idle start the next write on
// their own thread; a completed write starts the next on gRPC's.
class NullWatchStream final
    : public grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse> {
 public:
  NullWatchStream(CallbackServerContext* context, NullKv* kv,
                  NullWatches* watches)
      : context_(context), kv_(kv), watches_(watches) {
    watches_->Add(this);
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    bool read = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (ok) {
        Handle(request_);
        read = !finished_;
      } else {
        read_closed_ = true;
      }
    }
    if (read) StartRead(&request_);
    Pump();
  }
  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      writing_ = false;
      if (!ok) broken_ = true;
    }
    Pump();
  }
  // Ends the stream now: after a half-close with nothing to write, no
  // reaction would come.
  void OnCancel() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      broken_ = true;
    }
    Pump();
  }
  void OnDone() override {
    watches_->Remove(this);
    delete this;
  }

  // Commit `ts` to the watches holding `key`.
  void Offer(const std::string& key, const std::string& value, bool deleted,
             uint64_t ts, int64_t now_ns) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (finished_) return;
      for (auto& [id, w] : watches_by_id_) {
        if (!w.Holds(key)) continue;
        v1::WatchCommit& c = w.pending.emplace_back();
        c.set_commit_ts(ts);
        c.set_commit_time_unix_ns(now_ns);
        v1::WatchChange* change = c.add_changes();
        change->set_key(key);
        if (w.values) change->set_value(value);
        change->set_deleted(deleted);
        Queue(id, w);
      }
    }
    Pump();
  }

 private:
  struct Watch {
    v1::WatchCreateRequest::TargetCase kind;
    std::string start, end;  // key / prefix in start; range [start, end)
    bool values = true;
    uint32_t max_commits = 1;
    bool share = false;
    std::deque<v1::WatchCommit> pending;
    bool queued = false;  // in ready_
    bool Holds(const std::string& key) const {
      switch (kind) {
        case v1::WatchCreateRequest::kKey:
          return key == start;
        case v1::WatchCreateRequest::kRange:
          return key >= start && (end.empty() || key < end);
        default:
          return key.compare(0, start.size(), start) == 0;
      }
    }
  };
  // About mvkv_server's cap on one response.
  static constexpr std::size_t kResponseBytes = 1 << 20;

  // Starts the next write, or finishes, as the state asks.
  void Pump() {
    bool write = false, finish = false;
    grpc::Status status;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (finished_ || writing_) return;
      if (broken_ || (read_closed_ && context_->IsCancelled())) {
        finish = true;
        status = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      } else if (Fill()) {
        write = writing_ = true;
      } else if (read_closed_ && watches_by_id_.empty()) {
        finish = true;
      }
      if (finish) finished_ = true;
    }
    if (write) StartWrite(&out_);
    if (finish) Finish(status);
  }
  void Handle(const v1::WatchRequest& request) {
    if (request.has_create()) return Create(request.create());
    if (request.has_cancel()) {
      const uint64_t id = request.cancel().watch_id();
      if (watches_by_id_.erase(id) == 0) {
        return Ended(id, grpc::StatusCode::NOT_FOUND,
                     absl::StrCat("cancel: no watch ", id, " on this stream"));
      }
      // A watch is in ready_ exactly while queued, with commits to send:
      // a new watch of the same id must not inherit the old one's place.
      std::erase(ready_, id);
      return Ended(id, grpc::StatusCode::CANCELLED,
                   absl::StrCat("watch ", id, " cancelled by the client"));
    }
    if (request.has_progress()) {
      const uint64_t id = request.progress().watch_id();
      if (id != 0 && watches_by_id_.count(id) == 0) {
        return Ended(
            id, grpc::StatusCode::NOT_FOUND,
            absl::StrCat("progress: no watch ", id, " on this stream"));
      }
      for (auto& [wid, w] : watches_by_id_) {
        if (id != 0 && wid != id) continue;
        // Sent before the watch's unsent commits, so it names the commit
        // before the oldest of them.
        uint64_t ts = kv_->LastTs();
        for (const v1::WatchCommit& c : w.pending) {
          ts = std::min<uint64_t>(ts, c.commit_ts() - 1);
        }
        v1::WatchResponse& r = control_.emplace_back();
        r.set_watch_id(wid);
        r.mutable_progress()->set_ts(ts);
      }
      return;
    }
    Ended(0, grpc::StatusCode::INVALID_ARGUMENT,
          "WatchRequest with nothing set (create, cancel or progress)");
  }
  void Create(const v1::WatchCreateRequest& request) {
    uint64_t id = request.watch_id();
    if (id == 0) {
      id = 1;
      while (watches_by_id_.count(id) != 0) ++id;
    } else if (watches_by_id_.count(id) != 0) {
      return Ended(
          id, grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("watch id ", id, " is already open on this stream"));
    }
    if (request.start_ts() != 0 || request.progress_interval_ms() != 0) {
      return Ended(id, grpc::StatusCode::INVALID_ARGUMENT,
                   "null_server watches start now (start_ts 0) and have no "
                   "progress timer (progress_interval_ms 0)");
    }
    Watch w;
    w.kind = request.target_case();
    switch (w.kind) {
      case v1::WatchCreateRequest::kKey:
        w.start = request.key();
        break;
      case v1::WatchCreateRequest::kRange:
        w.start = request.range().start();
        w.end = request.range().end();
        break;
      default:
        w.start = request.prefix();
    }
    w.values = !request.keys_only();
    w.max_commits = std::max<uint32_t>(1, request.max_commits_per_response());
    w.share = request.share_responses();
    watches_by_id_.emplace(id, std::move(w));
    v1::WatchResponse& r = control_.emplace_back();
    r.set_watch_id(id);
    r.mutable_created()->set_start_ts(kv_->LastTs() + 1);
  }
  void Ended(uint64_t id, grpc::StatusCode code, std::string message) {
    v1::WatchResponse& r = control_.emplace_back();
    r.set_watch_id(id);
    r.mutable_ended()->set_code(static_cast<int>(code));
    r.mutable_ended()->set_message(std::move(message));
  }
  void Queue(uint64_t id, Watch& w) {
    if (w.queued) return;
    w.queued = true;
    ready_.push_back(id);
  }
  // The next response into out_: a control response, else the first
  // queued watch's commits. False if there is none.
  bool Fill() {
    out_.Clear();
    if (!control_.empty()) {
      out_ = std::move(control_.front());
      control_.pop_front();
      return true;
    }
    while (!ready_.empty()) {
      const uint64_t id = ready_.front();
      ready_.pop_front();
      auto it = watches_by_id_.find(id);
      if (it == watches_by_id_.end()) continue;  // none: Cancel erases it
      Watch& w = it->second;
      w.queued = false;
      std::size_t bytes = 0;
      Pack(id, w, &bytes, &out_);
      if (!w.pending.empty()) Queue(id, w);
      if (w.share) Share(id, bytes);
      return true;
    }
    return false;
  }
  // Turns out_, watch first_id's response of `bytes`, into a `batch` with
  // one response of each other sharing watch queued now (one pass; the
  // watches that do not share keep their places), as mvkv_server does.
  void Share(uint64_t first_id, std::size_t bytes) {
    v1::WatchResponse first = std::move(out_);
    out_.Clear();
    auto* responses = out_.mutable_batch()->mutable_responses();
    *responses->Add() = std::move(first);
    std::size_t n = ready_.size();
    if (n > 0 && ready_.back() == first_id) --n;
    std::vector<uint64_t> unshared;
    for (; n > 0 && bytes < kResponseBytes; --n) {
      const uint64_t id = ready_.front();
      ready_.pop_front();
      auto it = watches_by_id_.find(id);
      if (it == watches_by_id_.end()) continue;
      Watch& w = it->second;
      if (!w.share) {
        unshared.push_back(id);
        continue;
      }
      w.queued = false;
      Pack(id, w, &bytes, responses->Add());
      if (!w.pending.empty()) Queue(id, w);
    }
    for (auto it = unshared.rbegin(); it != unshared.rend(); ++it) {
      ready_.push_front(*it);
    }
    if (responses->size() == 1) {
      first = std::move(*responses->Mutable(0));
      out_ = std::move(first);
    }
  }
  // Watch `id`'s next commits into *out: up to max_commits and about
  // kResponseBytes (counted in *bytes), at least one.
  void Pack(uint64_t id, Watch& w, std::size_t* bytes, v1::WatchResponse* out) {
    out->set_watch_id(id);
    auto size = [](const v1::WatchCommit& c) {
      return c.changes(0).key().size() + c.changes(0).value().size() + 1;
    };
    if (w.max_commits == 1 || w.pending.size() == 1) {
      *bytes += size(w.pending.front());
      *out->mutable_commit() = std::move(w.pending.front());
      w.pending.pop_front();
      return;
    }
    v1::WatchCommits* commits = out->mutable_commits();
    for (uint32_t i = 0; i < w.max_commits && !w.pending.empty(); ++i) {
      if (i > 0 && *bytes + size(w.pending.front()) > kResponseBytes) break;
      *bytes += size(w.pending.front());
      *commits->add_commits() = std::move(w.pending.front());
      w.pending.pop_front();
    }
  }

  CallbackServerContext* const context_;
  NullKv* const kv_;
  NullWatches* const watches_;
  v1::WatchRequest request_;  // the read outstanding
  v1::WatchResponse out_;     // the write outstanding
  std::mutex mu_;
  std::map<uint64_t, Watch> watches_by_id_;  // guarded by mu_
  std::deque<uint64_t> ready_;               // guarded by mu_
  std::deque<v1::WatchResponse> control_;    // guarded by mu_
  bool writing_ = false;                     // guarded by mu_
  bool read_closed_ = false;                 // guarded by mu_
  bool broken_ = false;    // guarded by mu_: a write failed or cancelled
  bool finished_ = false;  // guarded by mu_
};

void NullWatches::Add(NullWatchStream* stream) {
  std::unique_lock<std::shared_mutex> l(mu_);
  open_.push_back(stream);
  open_count_.store(static_cast<int>(open_.size()), std::memory_order_relaxed);
}

void NullWatches::Remove(NullWatchStream* stream) {
  std::unique_lock<std::shared_mutex> l(mu_);
  open_.erase(std::find(open_.begin(), open_.end(), stream));
  open_count_.store(static_cast<int>(open_.size()), std::memory_order_relaxed);
}

void NullWatches::Publish(const std::string& key, const std::string& value,
                          bool deleted, uint64_t ts) {
  // Relaxed: a watch created concurrently with a write may or may not get
  // it, as with any server (its start_ts says which).
  if (open_count_.load(std::memory_order_relaxed) == 0) return;
  const int64_t now = absl::GetCurrentTimeNanos();
  std::shared_lock<std::shared_mutex> l(mu_);
  for (NullWatchStream* stream : open_) {
    stream->Offer(key, value, deleted, ts, now);
  }
}

grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse>* NullKv::Watch(
    CallbackServerContext* context) {
  return new NullWatchStream(context, this, &watches_);
}

grpc::ServerWriteReactor<v1::ScanResponse>* NullKv::Scan(
    CallbackServerContext* /*context*/, const v1::ScanRequest* /*request*/) {
  return new NullScan();
}

grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>*
NullKv::Session(CallbackServerContext* /*context*/) {
  return new NullSession(this);
}

grpc::ServerBidiReactor<v1::PipelineRequest, v1::PipelineResponse>*
NullKv::Pipeline(CallbackServerContext* /*context*/) {
  return new NullPipeline(this);
}

int Main() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  NullKv service(std::string(std::max(0, absl::GetFlag(FLAGS_value_bytes)), 'v'));
  grpc::ServerBuilder builder;
  server::ConfigureTransport(
      {.max_request_bytes =
           static_cast<int>(absl::GetFlag(FLAGS_max_request_bytes))},
      &builder);
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    server::Log("error", "cannot start", {{"listen", listen}});
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus(
      v1::KV::service_full_name(), true);
  server::Log("info", "serving",
              {{"listen", listen}, {"port", absl::StrCat(port)}, {"service", "null"}});
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace
}  // namespace mvkv::null_server

int main(int argc, char** argv) {
  mvkv::flags::SetUsage(
      "the mvkv.v1.KV service with null handlers (fixed answers, nothing "
      "stored; Watch sends each write on from the writing call's thread): "
      "gRPC's own cost, for the null targets of ycsb and watch_rpc_bench.\n"
      "Usage: null_server [--listen=HOST:PORT] [--value_bytes=N]");
  absl::ParseCommandLine(argc, argv);
  return mvkv::null_server::Main();
}
