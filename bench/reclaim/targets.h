// bench/reclaim/targets.h — one interface over every (scheme, structure)
// pair the benchmark drives: the project's schemes (Crystalline-W, EBR) and
// liburcu through reclaim/'s own list and hash map, and xenium (EBR, HP) and
// libcds (HP) through their own structures.
#ifndef MVKV_BENCH_RECLAIM_TARGETS_H_
#define MVKV_BENCH_RECLAIM_TARGETS_H_

#include <cstdint>
#include <memory>
#include <string>

namespace mvkv::bench {

class Target {
 public:
  virtual ~Target() = default;
  virtual bool Insert(std::uint64_t key) = 0;
  virtual bool Remove(std::uint64_t key) = 0;
  virtual bool Contains(std::uint64_t key) = 0;
  // Per-thread setup/teardown (libcds attaches threads), on that thread.
  virtual void ThreadEnter() {}
  virtual void ThreadExit() {}
  // Retired-but-unreclaimed objects now, or -1 if this target cannot count.
  virtual std::int64_t Unreclaimed() = 0;
  // Runs on the stalling thread: enter a critical section, protect a
  // pointer, then call park() (which blocks until the run ends) and leave.
  // Returns false if the target has no stall mode.
  virtual bool StallWhile(void (*park)(void*), void* arg) = 0;
};

// `scheme`: crystalline, ebr, urcu, xenium_ebr, xenium_hp, cds_hp.
// `structure`: hashmap, list. `counting`: build with the instrumentation
// Unreclaimed() needs where it costs something (xenium, libcds).
// Returns nullptr for an unknown pair.
std::unique_ptr<Target> MakeTarget(const std::string& scheme, const std::string& structure,
                                   bool counting);

// Guard enter+leave loop (`with_protect`: plus one protected load).
// Returns nanoseconds per iteration, or -1 for schemes without a guard.
double GuardCostNs(const std::string& scheme, bool with_protect, std::uint64_t iterations);

// Called once in main before any target (libcds global init).
void InitPeers();

}  // namespace mvkv::bench

#endif  // MVKV_BENCH_RECLAIM_TARGETS_H_
