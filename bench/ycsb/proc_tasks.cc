#include "bench/ycsb/proc_tasks.h"

#include <dirent.h>
#include <fnmatch.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mvkv::ycsb {

absl::StatusOr<TaskInfo> ReadTask(pid_t pid, pid_t tid) {
  const std::string path = absl::StrCat("/proc/", pid, "/task/", tid, "/stat");
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::NotFoundError(absl::StrCat("no thread ", tid, " in process ", pid));
  }
  // "TID (COMM) STATE PPID ..." — COMM may hold spaces and parentheses.
  const size_t open = line.find('('), close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return absl::InternalError("cannot parse " + path + ": " + line);
  }
  TaskInfo t;
  t.tid = tid;
  t.comm = line.substr(open + 1, close - open - 1);
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> f;
  for (std::string w; rest >> w;) f.push_back(w);
  // After COMM: [0] state ... [11] utime [12] stime (fields 3, 14, 15).
  uint64_t utime = 0, stime = 0;
  if (f.size() < 13 || f[0].size() != 1 || !absl::SimpleAtoi(f[11], &utime) ||
      !absl::SimpleAtoi(f[12], &stime)) {
    return absl::InternalError("cannot parse " + path + ": " + line);
  }
  t.state = f[0][0];
  t.cpu_ticks = utime + stime;
  return t;
}

absl::StatusOr<std::vector<TaskInfo>> ListTasks(pid_t pid) {
  const std::string dir = absl::StrCat("/proc/", pid, "/task");
  DIR* d = pid > 0 ? opendir(dir.c_str()) : nullptr;
  if (d == nullptr) return absl::NotFoundError(absl::StrCat("no process ", pid));
  std::vector<TaskInfo> tasks;
  while (dirent* e = readdir(d)) {
    pid_t tid = 0;
    if (!absl::SimpleAtoi(e->d_name, &tid)) continue;
    absl::StatusOr<TaskInfo> t = ReadTask(pid, tid);
    if (t.ok()) tasks.push_back(*std::move(t));  // else it just exited
  }
  closedir(d);
  if (tasks.empty()) return absl::NotFoundError(absl::StrCat("no process ", pid));
  std::sort(tasks.begin(), tasks.end(),
            [](const TaskInfo& a, const TaskInfo& b) { return a.tid < b.tid; });
  return tasks;
}

std::map<pid_t, uint64_t> CpuTicks(const std::vector<TaskInfo>& tasks) {
  std::map<pid_t, uint64_t> ticks;
  for (const TaskInfo& t : tasks) ticks[t.tid] = t.cpu_ticks;
  return ticks;
}

std::vector<TaskInfo> Candidates(const std::vector<TaskInfo>& tasks,
                                 const ThreadSelector& s) {
  if (s.kind != ThreadSelector::kName) return tasks;
  std::vector<TaskInfo> out;
  for (const TaskInfo& t : tasks) {
    if (fnmatch(s.pattern.c_str(), t.comm.c_str(), 0) == 0) out.push_back(t);
  }
  return out;
}

absl::StatusOr<std::vector<TaskInfo>> SelectThreads(
    const std::vector<TaskInfo>& tasks, const ThreadSelector& s, int count,
    const std::map<pid_t, uint64_t>& cpu_before, uint64_t seed) {
  std::vector<TaskInfo> pool = Candidates(tasks, s);
  if (static_cast<int>(pool.size()) < count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot freeze ", count, " threads: the process has ", tasks.size(),
        " threads",
        s.kind == ThreadSelector::kName
            ? absl::StrCat(", ", pool.size(), " of them named like '", s.pattern, "'")
            : ""));
  }
  if (s.kind == ThreadSelector::kBusiest) {
    auto gained = [&](const TaskInfo& t) {
      auto it = cpu_before.find(t.tid);
      const uint64_t before = it == cpu_before.end() ? 0 : it->second;
      return t.cpu_ticks >= before ? t.cpu_ticks - before : 0;
    };
    std::stable_sort(pool.begin(), pool.end(), [&](const TaskInfo& a, const TaskInfo& b) {
      if (gained(a) != gained(b)) return gained(a) > gained(b);
      return a.cpu_ticks > b.cpu_ticks;
    });
  } else if (s.kind == ThreadSelector::kRandom) {
    std::mt19937_64 rng(seed);
    std::shuffle(pool.begin(), pool.end(), rng);
  }
  pool.resize(count);
  return pool;
}

std::string DescribeTasks(const std::vector<TaskInfo>& tasks) {
  return absl::StrJoin(tasks, ",", [](std::string* out, const TaskInfo& t) {
    absl::StrAppend(out, t.tid, ":", t.comm);
  });
}

}  // namespace mvkv::ycsb
