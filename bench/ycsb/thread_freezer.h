// bench/ycsb/thread_freezer.h — freezes chosen threads of another process
// with ptrace while its other threads run on: the harness's thread: stall.
//
// Freeze() attaches to each thread with PTRACE_SEIZE (which by itself stops
// nothing) and stops it with PTRACE_INTERRUPT; the thread sits in a
// ptrace-stop (state 't' in /proc/PID/task/TID/stat) until Release()
// detaches it with PTRACE_DETACH, re-injecting a signal it was stopped on.
// Nothing else in the process is disturbed: signals for the process go to
// its other threads; signals sent to a frozen thread wait until it resumes.
//
// Never left stopped: Linux makes the *thread* that attached the tracer,
// and when that thread ends (returns, the harness exits, crashes or is
// SIGKILLed) every tracee it still holds is detached and, unless the whole
// process is in a group stop (SIGSTOP), resumes at once. The harness also
// releases explicitly on SIGINT/SIGTERM/SIGHUP (bench/ycsb/exit_guard.h).
// What can keep a thread stopped: the harness itself being stopped (SIGSTOP,
// a debugger) while it holds the freeze.
//
// Permission: the target must run as the harness's user (and be dumpable)
// or the harness needs CAP_SYS_PTRACE; under Yama (kernel.yama.ptrace_scope)
// 1 only descendants (targets the harness starts), 2 only CAP_SYS_PTRACE,
// 3 nobody. A thread already traced (a debugger, strace) cannot be frozen.
// CheckPtrace() finds out before a run and says which of these applies.
//
// Thread safety: a FrozenThreads must be used (created, released,
// destroyed) on one thread only — ptrace's tracer is a thread, not a
// process — and that thread must outlive the freeze. Different objects may
// live on different threads.
#ifndef MVKV_BENCH_YCSB_THREAD_FREEZER_H_
#define MVKV_BENCH_YCSB_THREAD_FREEZER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mvkv::ycsb {

class FrozenThreads final {
 public:
  // Attaches to and stops `tids` (threads of process `pid`), waiting up to
  // `stop_timeout` for each to reach its stop (a thread in uninterruptible
  // sleep stops when it leaves it). Threads that exit meanwhile are skipped.
  // PermissionDenied (with PtraceDiagnosis' reasons) or NotFound when a
  // thread cannot be attached; then nothing stays attached.
  // REQUIRES: the calling thread performs every later call on the result.
  static absl::StatusOr<std::unique_ptr<FrozenThreads>> Freeze(
      pid_t pid, const std::vector<pid_t>& tids,
      absl::Duration stop_timeout = absl::Seconds(2));

  ~FrozenThreads();  // Release()
  FrozenThreads(const FrozenThreads&) = delete;
  FrozenThreads& operator=(const FrozenThreads&) = delete;

  // Resumes and detaches every thread. Idempotent. Returns the threads that
  // could not be detached explicitly (they are detached when the calling
  // thread ends), normally none.
  std::vector<pid_t> Release();

  // The threads in a ptrace-stop now.
  std::vector<pid_t> stopped() const;

 private:
  struct Tracee {
    pid_t tid = 0;
    enum { kRunning, kStopped, kGone } state = kRunning;
    int signal = 0;  // delivered on detach (a signal-delivery-stop's)
  };
  FrozenThreads() = default;
  void WaitStop(Tracee& t, absl::Time deadline);

  std::vector<Tracee> tracees_;
};

// OK when this process may ptrace threads of `pid`: tries PTRACE_SEIZE on
// one of them from a short-lived thread (which stops nothing; the thread's
// end detaches it). NotFound for no such process; FailedPrecondition for
// the harness itself; PermissionDenied naming the cause otherwise.
absl::Status CheckPtrace(pid_t pid);

// Why ptrace of thread `tid` of `pid` failed with `err`: the errno text plus
// what applies of Yama's ptrace_scope, the users, CAP_SYS_PTRACE, an
// existing tracer, and container policy.
std::string PtraceDiagnosis(pid_t pid, pid_t tid, int err);

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_THREAD_FREEZER_H_
