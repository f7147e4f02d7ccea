#include "replication/internal/transport.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

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

// Held around the inner transport's listen and connect. Both parse the
// "host:port" they are given with strtok (libraft 0.15's uvIpParse), whose
// state is one per process: two nodes in one process (tests/replication's
// in-process clusters) parsing at once on their loop threads could read each
// other's buffers (a TSan report in CI). Both calls only parse and start
// libuv requests, so holding it is short; it is never held across a
// callback.
std::mutex& ParseMutex() {
  static std::mutex* mu = new std::mutex;  // never destroyed
  return *mu;
}

// Why listening on "host:port" fails, found by binding a socket there the
// way libuv does (libraft's TCP transport reports only RAFT_IOERR): e.g.
// "Address already in use"; "" if the probe binds.
std::string WhyListenFails(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return "no port in the address";
  const std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int rv = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
      rv != 0) {
    return ::gai_strerror(rv);
  }
  std::string why;
  const int fd =
      ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = std::strerror(errno);
  } else {
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
      why = std::strerror(errno);
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return why;
}

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
  self->address_ = address;
  const int rv = self->inner_->init(self->inner_, id, address);
  if (rv != 0) self->CopyError();
  return rv;
}

int TunedTransport::Listen(raft_uv_transport* t, raft_uv_accept_cb cb) {
  TunedTransport* self = Of(t);
  self->accept_cb_ = cb;
  int rv;
  {
    std::lock_guard<std::mutex> lock(ParseMutex());
    rv = self->inner_->listen(self->inner_, &OnAccept);
  }
  if (rv != 0) {
    self->CopyError();
    if (self->outer_.errmsg[0] == '\0') {
      const std::string why = WhyListenFails(self->address_);
      std::snprintf(self->outer_.errmsg, sizeof(self->outer_.errmsg),
                    "cannot listen on %s%s%s", self->address_.c_str(),
                    why.empty() ? "" : ": ", why.c_str());
    }
  }
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
  int rv;
  {
    std::lock_guard<std::mutex> lock(ParseMutex());
    rv = self->inner_->connect(self->inner_, &pending->inner_req, id, address,
                               &OnConnect);
  }
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
