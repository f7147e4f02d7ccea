// Test helpers for thread: stalls: tests/ycsb/counter_threads run as a
// child (its counters mapped into the test), thread states read straight
// from /proc (independently of the code under test), bounded waits.
#ifndef MVKV_TESTS_YCSB_COUNTERS_H_
#define MVKV_TESTS_YCSB_COUNTERS_H_

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/ycsb/proc_tasks.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"

namespace mvkv::ycsb::testing_counters {

using mvkv::testing::NewTempDir;
using mvkv::testing::Runfile;

// Polls `done` every millisecond for at most `timeout`.
inline bool WaitFor(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Independent of the code under test: field 3 of /proc/PID/task/TID/stat.
inline char StateOf(pid_t pid, pid_t tid) {
  const std::string s = ReadFile(absl::StrCat("/proc/", pid, "/task/", tid, "/stat"));
  const size_t close = s.rfind(')');
  return close == std::string::npos || close + 2 >= s.size() ? '?' : s[close + 2];
}

// Threads of `pid` in a ptrace-stop or a job-control stop ('t' or 'T').
inline std::vector<pid_t> StoppedThreads(pid_t pid) {
  std::vector<pid_t> out;
  const std::string dir = absl::StrCat("/proc/", pid, "/task");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t tid = 0;
    if (!absl::SimpleAtoi(e->d_name, &tid)) continue;
    const char st = StateOf(pid, tid);
    if (st == 't' || st == 'T') out.push_back(tid);
  }
  closedir(d);
  return out;
}

// tests/ycsb/counter_threads, running until destroyed.
class Counters {
 public:
  explicit Counters(int n, int hot = -1) : n_(n) {
    const std::string dir = NewTempDir("counters");
    const std::string file = dir + "/counters", out = dir + "/out";
    pid_ = testing::SpawnProcess({Runfile("tests/ycsb/counter_threads"), file,
                                  std::to_string(n), std::to_string(hot)},
                                 out);
    EXPECT_GT(pid_, 0);
    EXPECT_TRUE(WaitFor([&] { return absl::StrContains(ReadFile(out), "ready"); }))
        << "counter_threads did not start";
    const int fd = open(file.c_str(), O_RDONLY);
    map_ = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    EXPECT_NE(map_, MAP_FAILED);
    const std::vector<TaskInfo> tasks = ListTasks(pid_).value();
    for (const TaskInfo& t : tasks) tids_[t.comm] = t.tid;
  }
  ~Counters() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    munmap(map_, 4096);
  }
  pid_t pid() const { return pid_; }
  pid_t tid(int i) const { return tids_.at(absl::StrCat("counter-", i)); }
  uint64_t count(int i) const {
    return static_cast<const std::atomic<uint64_t>*>(map_)[i].load(std::memory_order_relaxed);
  }
  // Waits until every counter but `except` gained `by`.
  bool OthersAdvance(int except, uint64_t by) const {
    std::vector<uint64_t> start;
    for (int i = 0; i < n_; ++i) start.push_back(count(i));
    return WaitFor([&] {
      for (int i = 0; i < n_; ++i) {
        if (i != except && count(i) < start[i] + by) return false;
      }
      return true;
    });
  }

 private:
  int n_;
  pid_t pid_ = -1;
  void* map_ = nullptr;
  std::map<std::string, pid_t> tids_;
};

}  // namespace mvkv::ycsb::testing_counters

#endif  // MVKV_TESTS_YCSB_COUNTERS_H_
