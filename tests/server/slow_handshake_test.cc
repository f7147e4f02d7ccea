// A server whose HTTP/2 handshake is slow (a loaded machine: the server's
// SETTINGS frame arrives hundreds of milliseconds after the TCP connect)
// must still be reachable by the client library. Seen in CI at load ~17:
// ycsb's first Health check failed "connection attempt timed out before
// receiving SETTINGS frame", because the client gave every connection
// attempt only GRPC_ARG_MIN_RECONNECT_BACKOFF_MS (gRPC's minimum connect
// timeout) = 100 ms.
//
// Property: through a proxy that holds every new connection for kHold
// before it forwards a byte, the first Health, Put and Get on a fresh
// client succeed. Deterministic: the delay is the proxy's, not the load's.
// Not tagged concurrent, like the other tests here: a TSan build of
// mvkv_server stops on a report inside the uninstrumented libgrpc (an epoll
// descriptor) before it serves.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

constexpr absl::Duration kHold = absl::Milliseconds(400);

// Copies bytes both ways between a and b until either side closes or
// `stop` is set (polls every 50 ms). Closes both.
void Pump(int a, int b, const std::atomic<bool>* stop) {
  char buf[16384];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  while (!stop->load(std::memory_order_acquire)) {
    if (::poll(fds, 2, 50) < 0) break;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      closed = n <= 0 || ::write(fds[1 - i].fd, buf, n) != n;
    }
    if (closed) break;
  }
  ::close(a);
  ::close(b);
}

// Listens on 127.0.0.1:port(); each accepted connection waits kHold, then
// is joined to 127.0.0.1:upstream.
class SlowProxy {
 public:
  explicit SlowProxy(int upstream) : upstream_(upstream) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(listener_, 16);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~SlowProxy() {
    stop_.store(true, std::memory_order_release);
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    for (std::thread& t : pumps_) t.join();
    ::close(listener_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(std::memory_order_acquire); }

 private:
  void Accept() {
    while (!stop_.load(std::memory_order_acquire)) {
      const int in = ::accept(listener_, nullptr, nullptr);
      if (in < 0) return;  // shut down
      accepted_.fetch_add(1, std::memory_order_acq_rel);
      pumps_.emplace_back([this, in] {
        absl::SleepFor(kHold);
        const int out = testing::ConnectLoopback(upstream_);
        if (out < 0) {
          ::close(in);
          return;
        }
        Pump(in, out, &stop_);
      });
    }
  }

  const int upstream_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};  // release by ~SlowProxy, acquire by loops
  std::atomic<int> accepted_{0};   // acq_rel by Accept, acquire by the test
  std::thread acceptor_;
  std::vector<std::thread> pumps_;  // the acceptor's until it is joined
};

TEST(SlowHandshakeTest, AClientReachesAServerWhoseHandshakeTakes400ms) {
  auto server = testing::ServerProcess::Start({});
  ASSERT_TRUE(server.ok()) << server.status();
  {
    SlowProxy proxy((*server)->port());
    client::ClientOptions options;
    options.server = absl::StrCat("127.0.0.1:", proxy.port());
    options.timeout = absl::Seconds(10);
    auto client = client::Client::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    const absl::Status health = (*client)->Health();
    EXPECT_TRUE(health.ok()) << health;
    auto put = (*client)->Put("k", "v");
    ASSERT_TRUE(put.ok()) << put.status();
    auto got = (*client)->Get("k");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->value, "v");
    EXPECT_GE(proxy.accepted(), 1);
  }
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace mvkv
