// bench/ycsb/stall_spec.h — what a --stall flag asks for, parsed:
//
//   KIND:K[@T][+D][:SELECT]
//
//   reclaim:K@T          K harness threads parked in the embedded engine's
//                        reclaim domain (in-process targets only)
//   txn:K@T              K transactions holding their snapshots
//   thread:K@T[:SELECT]  K threads of the target process frozen with ptrace
//                        (bench/ycsb/thread_freezer.h)
//   server-reclaim:K@T   K threads of mvkv_server parked in its reclaim
//                        domain through mvkv.v1.Admin (proto/admin.proto)
//
// T (default 0) is when the stall starts, D how long it lasts (default: to
// the end of the run), both seconds after the run phase starts: "2", "2s",
// "0.3s", "300ms". SELECT, for thread: only, picks the K threads: `busy`
// (default: the most CPU time during the run so far), `name=GLOB` (glob
// over /proc/PID/task/*/comm, e.g. name=grpc*), `random` or `random=SEED`.
//
// Thread safety: plain values and a pure function.
#ifndef MVKV_BENCH_YCSB_STALL_SPEC_H_
#define MVKV_BENCH_YCSB_STALL_SPEC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace mvkv::ycsb {

struct ThreadSelector {
  enum Kind { kBusiest, kName, kRandom } kind = kBusiest;
  std::string pattern;     // kName: a glob (fnmatch) over the thread's comm
  uint64_t seed = 0;       // kRandom
  bool seed_given = false;  // kRandom: false = derived from --seed
};

struct Stall {
  enum Kind { kReclaim, kTxn, kThread, kServerReclaim } kind = kReclaim;
  int count = 1;
  double at_s = 0;        // seconds after the run phase starts
  double duration_s = 0;  // > 0: released at at_s + duration_s; 0: at the end
  ThreadSelector select;  // kThread only
  std::string text;       // the flag as given
};

// Parses one stall (see the file comment). InvalidArgument, naming what is
// wrong, for anything else: unknown kind, K < 1, a bad T or D, D <= 0, an
// unknown selector, a selector on a kind other than thread:.
absl::StatusOr<Stall> ParseStall(const std::string& text);

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_STALL_SPEC_H_
