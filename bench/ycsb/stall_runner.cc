// The stalls of a run, one thread each: wait for T, take hold (park
// threads, open snapshots, freeze threads of the target, park server
// threads), wait for the end (T+D, the run's end, or the exit guard), let
// go. See bench/ycsb/stall_spec.h for the kinds.
#include <cstdio>
#include <functional>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/ycsb/proc_tasks.h"
#include "bench/ycsb/runner_internal.h"
#include "bench/ycsb/thread_freezer.h"
#include "mvcc/parked_readers.h"

namespace mvkv::ycsb::runner_internal {
namespace {

// When a stall must let go, whatever its D. A thread: stall ends when the
// run's time is up: workers blocked on a frozen server could not finish.
// REQUIRES: shared->mu held.
bool Ended(const Shared& shared, const Stall& s) {
  return shared.abort_stalls || shared.finished ||
         (s.kind == Stall::kThread && shared.stopping);
}

// Waits for T; false when the run ended first.
bool WaitForStart(Shared* shared, const Stall& s, Clock::time_point t0) {
  std::unique_lock<std::mutex> l(shared->mu);
  shared->cv.wait_until(l, At(t0, s.at_s), [&] { return Ended(*shared, s); });
  return !Ended(*shared, s);
}

// Waits for T+D (D > 0) or Ended; runs `tick` (if any) about every second.
void WaitForEnd(Shared* shared, const Stall& s, Clock::time_point t0,
                const std::function<void()>& tick = nullptr) {
  const bool timed = s.duration_s > 0;
  const Clock::time_point end = At(t0, s.at_s + s.duration_s);
  std::unique_lock<std::mutex> l(shared->mu);
  for (;;) {
    Clock::time_point next = Clock::now() + std::chrono::seconds(1);
    if (timed) next = std::min(next, end);
    if (shared->cv.wait_until(l, next, [&] { return Ended(*shared, s); })) return;
    if (timed && Clock::now() >= end) return;
    if (tick) {
      l.unlock();
      tick();
      l.lock();
    }
  }
}

void Hold(Shared* shared, Clock::time_point t0, StallEvent* e, std::string threads) {
  std::lock_guard<std::mutex> l(shared->mu);
  e->start_s = Since(t0);
  e->threads = std::move(threads);
  shared->holding.fetch_add(1, std::memory_order_relaxed);
}

void LetGo(Shared* shared, Clock::time_point t0, StallEvent* e) {
  {
    std::lock_guard<std::mutex> l(shared->mu);
    e->end_s = Since(t0);
    shared->holding.fetch_sub(1, std::memory_order_relaxed);
  }
  shared->cv.notify_all();
}

void Failed(Shared* shared, const Stall& s, const absl::Status& status) {
  AddNote(shared, absl::StrCat("stall ", s.text, " failed: ", status.ToString()));
}

void ParkHere(const Stall& s, Shared* shared, Clock::time_point t0, StallEvent* e) {
  ParkedReaders parked;  // in the engine's own reclaim domain
  parked.Park(s.count);
  Hold(shared, t0, e, absl::StrCat(s.count, " mvkv-parked (harness)"));
  WaitForEnd(shared, s, t0);
  parked.Release();
  LetGo(shared, t0, e);
}

void HoldSnapshots(Target& target, const Stall& s, const std::string& key,
                   Shared* shared, Clock::time_point t0, StallEvent* e) {
  std::vector<std::unique_ptr<StalledSnapshot>> held;
  for (int i = 0; i < s.count; ++i) {
    absl::StatusOr<std::unique_ptr<StalledSnapshot>> snap = target.OpenStalledSnapshot(key);
    if (!snap.ok()) {
      Failed(shared, s, snap.status());
      break;
    }
    held.push_back(std::move(*snap));
  }
  Hold(shared, t0, e, absl::StrCat(held.size(), " snapshots"));
  WaitForEnd(shared, s, t0, [&] {
    for (auto& h : held) h->KeepAlive();
  });
  held.clear();
  LetGo(shared, t0, e);
}

void ParkOnServer(Target& target, const Stall& s, Shared* shared,
                  Clock::time_point t0, StallEvent* e) {
  absl::StatusOr<std::unique_ptr<ParkedServerThreads>> parked =
      target.ParkServerThreads(s.count);
  if (!parked.ok()) return Failed(shared, s, parked.status());
  Hold(shared, t0, e, absl::StrCat(s.count, " mvkv-parked (server)"));
  WaitForEnd(shared, s, t0);
  if (absl::Status st = (*parked)->Release(); !st.ok()) Failed(shared, s, st);
  LetGo(shared, t0, e);
}

// This thread is the tracer: it freezes, holds and releases.
void FreezeThreads(Target& target, const RunConfig& c, int index, const Stall& s,
                   Shared* shared, Clock::time_point t0, StallEvent* e) {
  const pid_t pid = target.server_pid();
  absl::StatusOr<std::vector<TaskInfo>> before = ListTasks(pid);
  const std::map<pid_t, uint64_t> cpu_before =
      before.ok() ? CpuTicks(*before) : std::map<pid_t, uint64_t>();
  if (!WaitForStart(shared, s, t0)) return;
  absl::StatusOr<std::vector<TaskInfo>> tasks = ListTasks(pid);
  if (!tasks.ok()) return Failed(shared, s, tasks.status());
  const uint64_t seed = s.select.seed_given ? s.select.seed : c.seed * 1000003 + index;
  absl::StatusOr<std::vector<TaskInfo>> chosen =
      SelectThreads(*tasks, s.select, s.count, cpu_before, seed);
  if (!chosen.ok()) return Failed(shared, s, chosen.status());
  std::vector<pid_t> tids;
  for (const TaskInfo& t : *chosen) tids.push_back(t.tid);
  absl::StatusOr<std::unique_ptr<FrozenThreads>> frozen = FrozenThreads::Freeze(pid, tids);
  if (!frozen.ok()) return Failed(shared, s, frozen.status());
  std::string threads = DescribeTasks(*chosen);
  if (s.select.kind == ThreadSelector::kRandom) absl::StrAppend(&threads, " seed=", seed);
  if ((*frozen)->stopped().size() != tids.size()) {
    AddNote(shared, absl::StrCat("stall ", s.text, ": only ", (*frozen)->stopped().size(),
                                 " of ", tids.size(), " threads stopped within 2 s"));
  }
  std::fprintf(stderr, "ycsb: froze %s of pid %d at %.3f s\n", threads.c_str(), pid,
               Since(t0));
  Hold(shared, t0, e, threads);
  WaitForEnd(shared, s, t0);
  const std::vector<pid_t> left = (*frozen)->Release();
  LetGo(shared, t0, e);
  std::fprintf(stderr, "ycsb: released them at %.3f s\n", e->end_s);
  if (!left.empty()) {
    AddNote(shared, absl::StrCat("stall ", s.text, ": ", left.size(),
                                 " threads never stopped; detached when the stall thread ended"));
  }
}

}  // namespace

void StallThread(Target& target, const RunConfig& c, int index, Shared* shared,
                 Clock::time_point t0, StallEvent* e) {
  const Stall& s = c.stalls[index];
  e->text = s.text;
  if (s.kind == Stall::kThread) return FreezeThreads(target, c, index, s, shared, t0, e);
  if (!WaitForStart(shared, s, t0)) return;
  switch (s.kind) {
    case Stall::kReclaim:
      return ParkHere(s, shared, t0, e);
    case Stall::kTxn:
      return HoldSnapshots(target, s, KeyName(0, c.spec.ordered_inserts), shared, t0, e);
    case Stall::kServerReclaim:
      return ParkOnServer(target, s, shared, t0, e);
    case Stall::kThread:
      return;
  }
}

void ReleaseStallsNow(Shared* shared) {
  std::unique_lock<std::mutex> l(shared->mu);
  shared->abort_stalls = true;
  shared->cv.notify_all();
  shared->cv.wait_for(l, std::chrono::seconds(3),
                      [&] { return shared->holding.load(std::memory_order_relaxed) == 0; });
}

}  // namespace mvkv::ycsb::runner_internal

namespace mvkv::ycsb {

absl::Status CheckStalls(Target& target, const RunConfig& c) {
  int server_reclaims = 0;
  for (const Stall& s : c.stalls) {
    const std::string what = absl::StrCat("--stall=", s.text, ": ");
    if (s.kind == Stall::kServerReclaim) {
      if (++server_reclaims > 1) {
        return absl::InvalidArgumentError(what + "one server-reclaim stall per run");
      }
      if (absl::Status st = target.CanParkServerThreads(); !st.ok()) return st;
      continue;
    }
    if (s.kind != Stall::kThread) continue;
    if (target.in_process()) {
      return absl::InvalidArgumentError(
          what + "thread: freezes threads of another process with ptrace; " + target.name() +
          " runs inside the harness (use reclaim: or txn: for it)");
    }
    const pid_t pid = target.server_pid();
    if (pid <= 0) {
      return absl::InvalidArgumentError(
          what + "thread: needs the target's process: let the harness start it "
                 "(--start_server, --start_etcd) or give --server_pid=PID");
    }
    absl::StatusOr<std::vector<TaskInfo>> tasks = ListTasks(pid);
    if (!tasks.ok()) return absl::NotFoundError(what + std::string(tasks.status().message()));
    absl::StatusOr<std::vector<TaskInfo>> chosen = SelectThreads(*tasks, s.select, s.count, {}, 0);
    if (!chosen.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(what, "pid ", pid, ": ",
                                                     chosen.status().message()));
    }
    if (c.ops > 0 && s.duration_s <= 0) {
      return absl::InvalidArgumentError(
          what + "in an --ops run a thread: stall needs +D (workers blocked on a "
                 "frozen target might never finish their operations)");
    }
    if (absl::Status st = CheckPtrace(pid); !st.ok()) {
      return absl::Status(st.code(), what + std::string(st.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace mvkv::ycsb
