// bench/engine/lever.h — engine_bench's `lever` scenario: one operation
// stream, the "Lever mix", run on the engine and, in the same process, on two
// concurrent hash maps, libcuckoo's cuckoohash_map and oneTBB's
// concurrent_hash_map, so the engine's rate reads as a ratio to theirs.
//
// THE LEVER MIX
//   Named after the Lever crate (Rust), whose README reports "25+ million
//   operations under 1.9 seconds" for its tables. Those numbers come from the
//   bustle harness's read-heavy workload (a port of libcuckoo's universal
//   benchmark): Mix::read_heavy = 94% read, 2% insert, 1% remove, 3% update,
//   and 0.75 x 2^25 = 25,165,824 operations. This stream keeps that mix and
//   that count and draws its keys as follows (bustle instead walks per-thread
//   arrays of fresh 64-bit keys on an empty table):
//   - Keys: K = LeverOptions::keys strings "user%012u" of i in [0, K)
//     (K = 2^20 by default); keys [0, K/2) are loaded before the clock starts,
//     every value is LeverOptions::value.
//   - Thread t of T runs ops / T operations. It draws x from std::mt19937_64
//     seeded with t + 7, takes key index (x >> 8) mod K, and by x mod 100:
//     0-93 read (the value is copied out), 94-95 insert, 96 remove, 97-99
//     update. Insert and update are both an upsert (write the key whether or
//     not it exists), so a read may miss and a remove may find nothing.
//   - Every target sees the same per-thread sequences; the interleaving of
//     threads is whatever the scheduler makes of it.
//   - mvkv runs each operation as its own transaction (Database::Get, Put,
//     Delete: autocommit, snapshot isolation for Get). The hash maps run the
//     operations directly (find, insert_or_assign / accessor insert, erase).
//     Nothing is reserved up front: each container grows as it fills.
//
// Thread safety: RunLever is called from one thread; it starts its own.
#ifndef MVKV_BENCH_ENGINE_LEVER_H_
#define MVKV_BENCH_ENGINE_LEVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mvkv::bench {

struct LeverOptions {
  int64_t ops = 25165824;  // 0.75 x 2^25, split evenly over the threads
  int64_t keys = 1 << 20;  // key range; the lower half is loaded first
  int threads = 2;
  std::string value = std::string(8, 'v');
};

// One target's run of the stream.
struct LeverRun {
  std::string target;  // "mvkv", "libcuckoo" or "tbb"
  double seconds = 0;  // the timed stream, without the load
  // The process's CPU time over the timed stream: on a shared machine
  // ops / cpu_seconds leaves out the time the threads were preempted.
  double cpu_seconds = 0;
  int64_t ops = 0;
  int64_t reads = 0;
  int64_t read_hits = 0;  // reads that found their key (a sanity check)
  int64_t writes = 0;     // upserts and removes
  double ops_per_s() const { return ops / seconds; }
  double ops_per_cpu_s() const { return ops / cpu_seconds; }
};

// Names accepted by RunLever, in their default order.
inline constexpr const char* kLeverTargets[] = {"mvkv", "libcuckoo", "tbb"};

// Loads and runs the stream on each of `targets`, one after the other, each
// in a fresh container that is destroyed before the next one starts.
// Returns InvalidArgument (naming it) for an unknown target, before running
// anything.
absl::StatusOr<std::vector<LeverRun>> RunLever(const LeverOptions& options,
                                               const std::vector<std::string>& targets);

}  // namespace mvkv::bench

#endif  // MVKV_BENCH_ENGINE_LEVER_H_
