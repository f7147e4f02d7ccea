// bench/ycsb/exit_guard.h — what the harness does when it is told to stop
// in the middle of a run (SIGINT, SIGTERM, SIGHUP): run the cleanup hooks
// registered now, newest first — the run's hook resumes frozen threads and
// releases parked server threads, then each started server's hook stops it
// — and exit with 128 + the signal. Without this a killed harness would
// leave the servers it started running (with the kernel's detach on the
// tracer's death, frozen threads resume either way; thread_freezer.h).
//
// Thread safety: Install() once, first thing in main, before any other
// thread exists. Hooks may be added and removed from any thread; removing
// one waits while the hooks are running.
#ifndef MVKV_BENCH_YCSB_EXIT_GUARD_H_
#define MVKV_BENCH_YCSB_EXIT_GUARD_H_

#include <functional>

namespace mvkv::ycsb {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread, so in every
// thread started after it, and starts the thread that takes them with
// sigwait and runs the hooks. Children the harness spawns unblock them
// before exec (process.cc).
void InstallExitGuard();

// Returns at once unless a stop signal is being handled; then never returns
// (the guard thread exits the process with 128 + the signal when its hooks
// are done). For error exits that a stop can cause — a started server the
// hooks stopped looks like a failed one — so the harness exits 128 + the
// signal, not with that error.
void AwaitStopIfStopping();

// A cleanup hook, registered for this object's lifetime.
class ExitHook final {
 public:
  explicit ExitHook(std::function<void()> fn);
  ~ExitHook();
  ExitHook(const ExitHook&) = delete;
  ExitHook& operator=(const ExitHook&) = delete;

 private:
  int id_;
};

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_EXIT_GUARD_H_
