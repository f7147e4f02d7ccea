#include "replication/internal/transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

namespace mvkv::replication_internal {
namespace {

// One connect request in flight: libraft's request, and ours to the inner
// transport whose callback forwards to it.
struct PendingConnect {
  raft_uv_connect inner_req;
  raft_uv_connect* outer_req;
  raft_uv_connect_cb outer_cb;
  TunedTransport* self;
};

}  // namespace

TunedTransport::TunedTransport(raft_uv_transport* inner,
                               unsigned user_timeout_ms)
    : inner_(inner), user_timeout_ms_(user_timeout_ms) {
  inner_->data = this;
  outer_.impl = this;
  outer_.init = &Init;
  outer_.listen = &Listen;
  outer_.connect = &Connect;
  outer_.close = &Close;
}

TunedTransport* TunedTransport::Of(raft_uv_transport* t) {
  return static_cast<TunedTransport*>(t->impl);
}

void TunedTransport::CopyError() {
  std::memcpy(outer_.errmsg, inner_->errmsg, sizeof(outer_.errmsg));
}

void TunedTransport::Tune(uv_stream_s* stream) const {
  // Both kinds of stream libraft's TCP transport makes are uv_tcp_t.
  uv_tcp_nodelay(reinterpret_cast<uv_tcp_t*>(stream), 1);
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(stream), &fd) == 0) {
    const unsigned ms = user_timeout_ms_;
    // Best effort: a kernel without it keeps the default behaviour.
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
  }
}

int TunedTransport::Init(raft_uv_transport* t, raft_id id,
                         const char* address) {
  TunedTransport* self = Of(t);
  const int rv = self->inner_->init(self->inner_, id, address);
  if (rv != 0) self->CopyError();
  return rv;
}

int TunedTransport::Listen(raft_uv_transport* t, raft_uv_accept_cb cb) {
  TunedTransport* self = Of(t);
  self->accept_cb_ = cb;
  const int rv = self->inner_->listen(self->inner_, &OnAccept);
  if (rv != 0) self->CopyError();
  return rv;
}

void TunedTransport::OnAccept(raft_uv_transport* inner, raft_id id,
                              const char* address, uv_stream_s* stream) {
  auto* self = static_cast<TunedTransport*>(inner->data);
  self->Tune(stream);
  self->accept_cb_(&self->outer_, id, address, stream);
}

int TunedTransport::Connect(raft_uv_transport* t, raft_uv_connect* req,
                            raft_id id, const char* address,
                            raft_uv_connect_cb cb) {
  TunedTransport* self = Of(t);
  auto* pending = new PendingConnect{{}, req, cb, self};
  pending->inner_req.data = pending;
  const int rv = self->inner_->connect(self->inner_, &pending->inner_req, id,
                                       address, &OnConnect);
  if (rv != 0) {
    self->CopyError();
    delete pending;
  }
  return rv;
}

void TunedTransport::OnConnect(raft_uv_connect* inner_req, uv_stream_s* stream,
                               int status) {
  auto* pending = static_cast<PendingConnect*>(inner_req->data);
  if (status == 0) pending->self->Tune(stream);
  raft_uv_connect* outer_req = pending->outer_req;
  raft_uv_connect_cb cb = pending->outer_cb;
  delete pending;
  cb(outer_req, stream, status);
}

void TunedTransport::Close(raft_uv_transport* t,
                           raft_uv_transport_close_cb cb) {
  TunedTransport* self = Of(t);
  self->close_cb_ = cb;
  self->inner_->close(self->inner_, &OnClosed);
}

void TunedTransport::OnClosed(raft_uv_transport* inner) {
  auto* self = static_cast<TunedTransport*>(inner->data);
  if (self->close_cb_ != nullptr) self->close_cb_(&self->outer_);
}

}  // namespace mvkv::replication_internal
