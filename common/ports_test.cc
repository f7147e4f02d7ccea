// FreePort: ports handed out in one process are distinct (the last 256),
// bindable when returned, and drawn below the kernel's ephemeral range
// when that range leaves room, also when several threads ask at once.
#include "common/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace mvkv::common {
namespace {

int EphemeralLow() {
  int low = 32768, high = 0;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%d %d", &low, &high) != 2) low = 32768;
    std::fclose(f);
  }
  return low;
}

bool Bindable(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

TEST(FreePortTest, DistinctBindableAndBelowTheEphemeralRange) {
  const int low = EphemeralLow();
  std::set<int> seen;
  for (int i = 0; i < 256; ++i) {
    const int port = FreePort();
    ASSERT_GT(port, 0);
    EXPECT_TRUE(seen.insert(port).second) << "port " << port << " twice, call " << i;
    EXPECT_TRUE(Bindable(port)) << port;
    if (low - 1 - 10000 >= 1000) {
      EXPECT_GE(port, 10000);
      EXPECT_LT(port, low);
    }
  }
}

TEST(FreePortTest, ThreadsAskingAtOnceGetDistinctPorts) {
  constexpr int kThreads = 4, kEach = 60;  // 240 <= the 256 remembered
  std::mutex mu;
  std::vector<int> all;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<int> mine;
      for (int i = 0; i < kEach; ++i) mine.push_back(FreePort());
      std::lock_guard<std::mutex> lock(mu);
      all.insert(all.end(), mine.begin(), mine.end());
    });
  }
  for (std::thread& t : threads) t.join();
  const std::set<int> distinct(all.begin(), all.end());
  EXPECT_EQ(distinct.size(), all.size());
  EXPECT_EQ(distinct.count(0), 0u);
}

}  // namespace
}  // namespace mvkv::common
