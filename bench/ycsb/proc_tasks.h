// bench/ycsb/proc_tasks.h — the threads of another process as Linux shows
// them in /proc/PID/task/TID/stat (name, scheduler state, CPU time), and
// the choice of which of them a thread: stall freezes.
//
// Thread safety: plain functions; /proc is read anew on every call.
#ifndef MVKV_BENCH_YCSB_PROC_TASKS_H_
#define MVKV_BENCH_YCSB_PROC_TASKS_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/ycsb/stall_spec.h"

namespace mvkv::ycsb {

struct TaskInfo {
  pid_t tid = 0;
  std::string comm;      // the thread's name (at most 15 characters)
  char state = '?';      // R running, S sleeping, D disk, t traced-stopped, T stopped, Z ...
  uint64_t cpu_ticks = 0;  // utime + stime, in clock ticks
};

// One thread of `pid`; NotFound when it (or the process) does not exist.
absl::StatusOr<TaskInfo> ReadTask(pid_t pid, pid_t tid);

// Every thread of `pid`, by tid; NotFound when there is no process `pid`.
absl::StatusOr<std::vector<TaskInfo>> ListTasks(pid_t pid);

// CPU ticks per tid, for SelectThreads' busy ranking.
std::map<pid_t, uint64_t> CpuTicks(const std::vector<TaskInfo>& tasks);

// The threads `selector` may pick from: all of `tasks`, or those whose comm
// matches its glob.
std::vector<TaskInfo> Candidates(const std::vector<TaskInfo>& tasks,
                                 const ThreadSelector& selector);

// Picks `count` threads of `tasks`: kBusiest the most CPU ticks gained since
// `cpu_before` (ties: the most in total, then the lowest tid), kName the
// first `count` matches by tid, kRandom a uniform sample drawn with `seed`.
// InvalidArgument, saying how many there are, when fewer than `count` can
// be picked.
absl::StatusOr<std::vector<TaskInfo>> SelectThreads(
    const std::vector<TaskInfo>& tasks, const ThreadSelector& selector,
    int count, const std::map<pid_t, uint64_t>& cpu_before, uint64_t seed);

// "tid:comm,tid:comm" for logs and reports.
std::string DescribeTasks(const std::vector<TaskInfo>& tasks);

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_PROC_TASKS_H_
