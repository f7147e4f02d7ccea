// Test program for thread: stalls: N threads named counter-0 .. counter-N-1,
// each incrementing its own counter in a shared file that the test maps
// too, so the test sees which threads run. Thread HOT (if given) spins; the
// others pause ~100 us per increment. Prints "ready" once every thread has
// counted, then runs until killed.
//
//   counter_threads FILE N [HOT]
//
// It allows any process to ptrace it (PR_SET_PTRACER_ANY), so the test
// works under Yama ptrace_scope=1, where only ancestors could otherwise.
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: counter_threads FILE N [HOT]\n");
    return 2;
  }
  const int n = std::atoi(argv[2]);
  const int hot = argc > 3 ? std::atoi(argv[3]) : -1;
  const int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
  if (fd < 0 || n < 1 || n > 64 || ftruncate(fd, 4096) != 0) return 2;
  void* map = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return 2;
  auto* counters = static_cast<std::atomic<uint64_t>*>(map);
#ifdef PR_SET_PTRACER
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);  // fails without Yama: fine
#endif
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([=] {
      const std::string name = "counter-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      for (;;) {
        // relaxed: the test only watches the value move.
        counters[i].fetch_add(1, std::memory_order_relaxed);
        if (i != hot) usleep(100);
      }
    });
  }
  for (int i = 0; i < n; ++i) {
    while (counters[i].load(std::memory_order_relaxed) == 0) usleep(1000);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) pause();
}
