// A raft_uv_transport that wraps libraft's TCP transport and tunes every
// connection it hands to libraft, incoming or outgoing:
//   * TCP_NODELAY: Raft's messages are small request/response pairs; with
//     Nagle's algorithm a message sent while the previous one is unacked
//     waits for the peer's delayed ACK (up to 40 ms on Linux).
//   * TCP_USER_TIMEOUT = peer_send_timeout: libraft's uv transport writes
//     every message to a connected peer at once (it bounds only the queue of
//     a disconnected peer, to 3), so a peer that stops reading (SIGSTOP, a
//     hung process) leaves the socket connected, its window closes, and
//     libuv queues every later message in memory, each holding references
//     to log entries that compaction can then not free. With the timeout the
//     kernel closes such a connection; the queued writes fail, libraft drops
//     them, moves the follower back to probing (one message per heartbeat)
//     and later catches it up by snapshot.
//
// A failed listen gets a message saying why (libraft's says "I/O error").
//
// Thread safety: the loop thread only, like the transport it wraps; the
// inner transport's listen and connect are serialized across every
// instance in the process (they use strtok: transport.cc).
#ifndef MVKV_REPLICATION_INTERNAL_TRANSPORT_H_
#define MVKV_REPLICATION_INTERNAL_TRANSPORT_H_

#include <string>

#include "replication/internal/libraft.h"

namespace mvkv::replication_internal {

class TunedTransport final {
 public:
  // Wraps `inner` (already set up by raft_uv_tcp_init; not owned, must
  // outlive this). Pass transport() to raft_uv_init.
  TunedTransport(raft_uv_transport* inner, unsigned user_timeout_ms);
  TunedTransport(const TunedTransport&) = delete;
  TunedTransport& operator=(const TunedTransport&) = delete;

  raft_uv_transport* transport() { return &outer_; }

 private:
  static int Init(raft_uv_transport* t, raft_id id, const char* address);
  static int Listen(raft_uv_transport* t, raft_uv_accept_cb cb);
  static int Connect(raft_uv_transport* t, raft_uv_connect* req, raft_id id,
                     const char* address, raft_uv_connect_cb cb);
  static void Close(raft_uv_transport* t, raft_uv_transport_close_cb cb);
  static void OnAccept(raft_uv_transport* inner, raft_id id,
                       const char* address, uv_stream_s* stream);
  static void OnConnect(raft_uv_connect* inner_req, uv_stream_s* stream,
                        int status);
  static void OnClosed(raft_uv_transport* inner);
  static TunedTransport* Of(raft_uv_transport* t);
  void Tune(uv_stream_s* stream) const;
  void CopyError();

  raft_uv_transport outer_{};  // libraft uses outer_.data itself
  raft_uv_transport* inner_;   // inner_->data points back here
  std::string address_;        // this node's, from Init
  unsigned user_timeout_ms_;
  raft_uv_accept_cb accept_cb_ = nullptr;
  raft_uv_transport_close_cb close_cb_ = nullptr;
};

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_TRANSPORT_H_
