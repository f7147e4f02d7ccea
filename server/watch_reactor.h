// The Watch RPC's server side (rpc Watch in proto/kv.proto): one stream,
// many watches (mvkv::Watch, each a cursor into the engine's change
// buffer), and the only place that decides when a watch's next event is
// pulled.
//
// Flow control is the memory bound: at most one response is being written
// per stream, and a watch's next event is pulled from the engine only when
// the previous write completed. A client that stops reading stalls its
// stream's writes, so the server holds one response and the watches'
// cursors, nothing more, however far behind the client falls; the engine
// ends a watch whose cursor the buffer overtook (ResourceExhausted) and the
// client reads that once it reads again.
//
// Batches (WatchCreateRequest.max_commits_per_response > 1): when a write
// completes, a ready watch's response packs every commit the engine has
// ready for it, up to the count and ~1 MiB; the first result that does not
// fit (a commit, a progress, an end) is held in the watch's slot and sent
// first next time. So a stream holds its response being written plus at
// most one pulled result per watch, however slow its client.
//
// Shared responses (WatchCreateRequest.share_responses): the write's first
// response, if its watch shares, becomes a `batch` with the next response
// of each other sharing watch queued at that moment, within the same
// ~1 MiB; a commit that does not fit is held the same way and its watch
// goes first next time. One write per round of ready watches instead of
// one per watch, and the same bound.
//
// Threads: nothing here blocks. Every step of a stream (answer requests,
// pull one event, start one read or write, finish) runs in Pump(), which
// one thread at a time runs (see WatchStream::Kick): gRPC's threads after a
// read or write completes, a worker of the Executor after an engine watch
// became ready (the engine's notifier thread only hands off to it, once
// per round of wakes of the stream's watches; with the executor's queue
// full it pumps itself, which never blocks either), or
// the shutdown thread.
#ifndef MVKV_SERVER_WATCH_REACTOR_H_
#define MVKV_SERVER_WATCH_REACTOR_H_

#include <memory>
#include <mutex>
#include <unordered_map>

#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"

namespace mvkv::server {

class KvService;
class WatchStream;

// The open Watch streams of a service, so that Shutdown can end them (a
// watch never ends by itself). Thread-safe.
class WatchStreams final {
 public:
  // Ends every open stream with `status` and every later one at its start.
  void EndAll(const grpc::Status& status);

  // For WatchStream: false (the stream must end with `*status`) after
  // EndAll.
  bool Add(WatchStream* stream, std::weak_ptr<WatchStream> weak,
           grpc::Status* status);
  void Remove(WatchStream* stream);

 private:
  std::mutex mu_;
  std::unordered_map<WatchStream*, std::weak_ptr<WatchStream>> open_;
  bool closed_ = false;  // guarded by mu_
  grpc::Status close_status_;  // guarded by mu_
};

// A new Watch stream's reactor (it deletes itself when gRPC is done).
grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse>* NewWatchReactor(
    KvService* service, grpc::CallbackServerContext* context);

}  // namespace mvkv::server

#endif  // MVKV_SERVER_WATCH_REACTOR_H_
