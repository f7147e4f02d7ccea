#include "common/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>

namespace mvkv::common {
namespace {

// Binds a listener-style socket to 127.0.0.1:port (0: the kernel picks),
// then closes it; returns the port it was bound to, or 0 if it could not be.
int BindOnce(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  const int one = 1;  // as the servers bind: TIME_WAIT does not block it
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof(addr);
  int bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

// The kernel's ephemeral range, from which every outgoing connection (the
// tests' own clients, gRPC channels, Raft peers) takes its local port.
void EphemeralRange(int* low, int* high) {
  *low = 32768;
  *high = 60999;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    int l = 0, h = 0;
    if (std::fscanf(f, "%d %d", &l, &h) == 2 && l > 0 && h >= l) {
      *low = l;
      *high = h;
    }
    std::fclose(f);
  }
}

}  // namespace

int FreePort() {
  // Why not bind(0): the kernel answers from the ephemeral range, so between
  // this call and the server's own bind any outgoing connection of a
  // concurrent test may take the port (a server that then exits with
  // "Address already in use"). A random port below the range is never handed
  // out that way, and tests running beside this one pick from over 20,000 ports.
  int low = 0, high = 0;
  EphemeralRange(&low, &high);
  int first = 10000, last = low - 1;
  if (last - first < 1000) {  // an unusual range: use the ports above it
    first = high + 1;
    last = 65535;
  }
  // The last ports handed out here: a random pick may repeat one that its
  // caller has not bound yet (a cluster takes six at once).
  // std::mutex, not absl's: the TSan builds link Debian's uninstrumented
  // Abseil.
  static std::mutex mu;
  static std::deque<int>* recent = new std::deque<int>();
  static constexpr std::size_t kRecent = 256;
  std::lock_guard<std::mutex> lock(mu);
  auto handed_out = [&](int port) {
    return std::find(recent->begin(), recent->end(), port) != recent->end();
  };
  auto hand_out = [&](int port) {
    if (port == 0) return 0;
    recent->push_back(port);
    if (recent->size() > kRecent) recent->pop_front();
    return port;
  };
  static std::mt19937 rng(std::random_device{}());  // guarded by mu
  if (last - first >= 100) {
    std::uniform_int_distribution<int> pick(first, last);
    for (int attempt = 0; attempt < 100; ++attempt) {
      const int port = pick(rng);
      if (!handed_out(port) && BindOnce(port) == port) return hand_out(port);
    }
  }
  for (int attempt = 0; attempt < 100; ++attempt) {  // the kernel's choice
    const int port = BindOnce(0);
    if (port == 0 || !handed_out(port)) return hand_out(port);
  }
  return 0;
}

}  // namespace mvkv::common
