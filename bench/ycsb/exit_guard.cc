#include "bench/ycsb/exit_guard.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

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
