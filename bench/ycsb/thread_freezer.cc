#include "bench/ycsb/thread_freezer.h"

#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/ycsb/proc_tasks.h"

namespace mvkv::ycsb {
namespace {

constexpr int kCapSysPtrace = 19;  // linux/capability.h

// The value of "Key:" in a /proc status file, or "" when absent.
std::string StatusField(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (absl::StartsWith(line, key + ":")) {
      return std::string(absl::StripAsciiWhitespace(line.substr(key.size() + 1)));
    }
  }
  return "";
}

bool HasCapSysPtrace() {
  uint64_t caps = 0;
  const std::string eff = StatusField("/proc/self/status", "CapEff");
  return absl::SimpleHexAtoi(eff, &caps) && (caps >> kCapSysPtrace & 1) != 0;
}

absl::Status PtraceError(pid_t pid, pid_t tid, int err) {
  const std::string why = PtraceDiagnosis(pid, tid, err);
  if (err == ESRCH) return absl::NotFoundError(why);
  return absl::PermissionDeniedError(why);
}

}  // namespace

std::string PtraceDiagnosis(pid_t pid, pid_t tid, int err) {
  std::vector<std::string> why;
  const std::string task = absl::StrCat("/proc/", pid, "/task/", tid, "/status");
  if (err == ESRCH) why.push_back("the thread or process does not exist (exited?)");
  const std::string tracer = StatusField(task, "TracerPid");
  if (!tracer.empty() && tracer != "0") {
    why.push_back(absl::StrCat("the thread is already traced by pid ", tracer,
                               " (a debugger or strace?)"));
  }
  std::ifstream yama("/proc/sys/kernel/yama/ptrace_scope");
  int scope = -1;
  if (yama >> scope && scope > 0) {
    why.push_back(
        scope == 1 ? "kernel.yama.ptrace_scope=1 allows ptrace of descendants only: "
                     "let the harness start the target (--start_server, --start_etcd), "
                     "give it CAP_SYS_PTRACE, or set ptrace_scope to 0"
        : scope == 2 ? "kernel.yama.ptrace_scope=2: only CAP_SYS_PTRACE may ptrace"
                     : "kernel.yama.ptrace_scope=3: ptrace is disabled until reboot");
  }
  const bool cap = HasCapSysPtrace();
  const std::vector<std::string> uids =
      absl::StrSplit(StatusField(task, "Uid"), '\t', absl::SkipEmpty());
  if (!uids.empty() && uids[0] != std::to_string(getuid()) && !cap) {
    why.push_back(absl::StrCat("the target runs as uid ", uids[0], ", the harness as uid ",
                               getuid(), " without CAP_SYS_PTRACE"));
  }
  if (err == EPERM && why.empty()) {
    why.push_back(absl::StrCat(
        cap ? "the harness has CAP_SYS_PTRACE; " : "same user, no CAP_SYS_PTRACE; ",
        "the target may be non-dumpable (setuid, prctl PR_SET_DUMPABLE 0), or a "
        "seccomp filter or container policy forbids ptrace (docker: --cap-add=SYS_PTRACE)"));
  }
  return absl::StrCat("ptrace(PTRACE_SEIZE) of thread ", tid, " of pid ", pid, ": ",
                      std::strerror(err), ": ", absl::StrJoin(why, "; "));
}

absl::Status CheckPtrace(pid_t pid) {
  if (pid == getpid()) {
    return absl::FailedPreconditionError(
        "a thread: stall cannot freeze the harness's own threads (--server_pid is ycsb)");
  }
  absl::StatusOr<std::vector<TaskInfo>> tasks = ListTasks(pid);
  if (!tasks.ok()) return tasks.status();
  const pid_t tid = tasks->front().tid;
  int err = 0;
  // The probe's tracer is this short-lived thread: its end detaches the
  // (never stopped) thread again.
  std::thread([&] {
    if (ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) err = errno;
  }).join();
  return err == 0 ? absl::OkStatus() : PtraceError(pid, tid, err);
}

absl::StatusOr<std::unique_ptr<FrozenThreads>> FrozenThreads::Freeze(
    pid_t pid, const std::vector<pid_t>& tids, absl::Duration stop_timeout) {
  std::unique_ptr<FrozenThreads> f(new FrozenThreads());
  for (pid_t tid : tids) {
    if (ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) == 0) {
      f->tracees_.push_back(Tracee{tid});
      continue;
    }
    const int err = errno;
    if (err == ESRCH) continue;  // exited since it was chosen
    f->Release();
    return PtraceError(pid, tid, err);
  }
  for (Tracee& t : f->tracees_) {
    if (ptrace(PTRACE_INTERRUPT, t.tid, nullptr, nullptr) != 0) t.state = Tracee::kGone;
  }
  const absl::Time deadline = absl::Now() + stop_timeout;
  for (Tracee& t : f->tracees_) f->WaitStop(t, deadline);
  return f;
}

void FrozenThreads::WaitStop(Tracee& t, absl::Time deadline) {
  while (t.state == Tracee::kRunning) {
    int status = 0;
    const pid_t r = waitpid(t.tid, &status, __WALL | WNOHANG);
    if (r == t.tid && WIFSTOPPED(status)) {
      t.state = Tracee::kStopped;
      // PTRACE_EVENT_STOP (interrupt or group stop): nothing to deliver;
      // a signal-delivery-stop: the signal goes on when the thread resumes.
      t.signal = (status >> 16) == 0 ? WSTOPSIG(status) : 0;
    } else if (r == t.tid || (r < 0 && errno != EINTR)) {
      t.state = Tracee::kGone;  // exited, or no longer ours
    } else if (absl::Now() >= deadline) {
      return;
    } else {
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
}

FrozenThreads::~FrozenThreads() { Release(); }

std::vector<pid_t> FrozenThreads::Release() {
  std::vector<pid_t> left;
  for (Tracee& t : tracees_) {
    if (t.state == Tracee::kRunning) {  // its stop never came: ask again
      ptrace(PTRACE_INTERRUPT, t.tid, nullptr, nullptr);
      WaitStop(t, absl::Now() + absl::Milliseconds(500));
    }
    if (t.state == Tracee::kStopped &&
        ptrace(PTRACE_DETACH, t.tid, nullptr,
               reinterpret_cast<void*>(static_cast<intptr_t>(t.signal))) != 0) {
      int status = 0;
      waitpid(t.tid, &status, __WALL | WNOHANG);  // died while frozen: reap it
    }
    if (t.state == Tracee::kRunning) left.push_back(t.tid);
  }
  tracees_.clear();
  return left;
}

std::vector<pid_t> FrozenThreads::stopped() const {
  std::vector<pid_t> out;
  for (const Tracee& t : tracees_) {
    if (t.state == Tracee::kStopped) out.push_back(t.tid);
  }
  return out;
}

}  // namespace mvkv::ycsb
