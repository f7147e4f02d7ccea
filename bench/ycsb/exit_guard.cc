#include "bench/ycsb/exit_guard.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

namespace mvkv::ycsb {
namespace {

struct Hooks {
  std::mutex mu;  // held while hooks run: removal waits for them
  std::map<int, std::function<void()>> fns;  // by registration order
  int next_id = 0;
};

// The signal being handled, 0 before one arrives. Written once by the guard
// thread before it runs the hooks (release), read by AwaitStopIfStopping
// (acquire); nothing else is published through it.
std::atomic<int> stop_signal{0};

Hooks& TheHooks() {
  static Hooks* hooks = new Hooks();  // never destroyed: used at exit
  return *hooks;
}

sigset_t StopSignals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGHUP);
  return s;
}

[[noreturn]] void OnStopSignals() {
  const sigset_t signals = StopSignals();
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  stop_signal.store(sig, std::memory_order_release);
  std::fprintf(stderr, "\nycsb: %s: resuming frozen threads, releasing stalls, "
               "stopping started servers\n", strsignal(sig));
  Hooks& h = TheHooks();
  {
    std::lock_guard<std::mutex> l(h.mu);
    for (auto it = h.fns.rbegin(); it != h.fns.rend(); ++it) it->second();
  }
  std::fflush(stderr);
  _exit(128 + sig);
}

}  // namespace

void InstallExitGuard() {
  static std::once_flag once;
  std::call_once(once, [] {
    const sigset_t signals = StopSignals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread(OnStopSignals).detach();
  });
}

void AwaitStopIfStopping() {
  if (stop_signal.load(std::memory_order_acquire) == 0) return;
  // Bound: the guard thread's _exit once its hooks have run.
  while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
}

ExitHook::ExitHook(std::function<void()> fn) {
  Hooks& h = TheHooks();
  std::lock_guard<std::mutex> l(h.mu);
  id_ = h.next_id++;
  h.fns.emplace(id_, std::move(fn));
}

ExitHook::~ExitHook() {
  Hooks& h = TheHooks();
  std::lock_guard<std::mutex> l(h.mu);
  h.fns.erase(id_);
}

}  // namespace mvkv::ycsb
