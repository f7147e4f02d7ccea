// bench/ycsb/generators.h — YCSB's key and operation generators, written from
// the definitions of YCSB's CoreWorkload (Cooper et al., SoCC 2010):
//   - Uniform over [lo, hi].
//   - Zipfian over [lo, hi] with constant theta (Gray et al., "Quickly
//     generating billion-record synthetic databases", SIGMOD 1994): zeta(n)
//     precomputed, extended incrementally when the item count grows.
//   - ScrambledZipfian: a zipfian over a fixed space of 10^10 items (theta
//     0.99, zeta precomputed) hashed with FNV-1a-64 into [lo, hi], so the
//     popular keys are spread over the key space instead of clustered.
//   - SkewedLatest: zipfian on the distance from the newest acknowledged
//     insert, so recent inserts are the most popular.
//   - InsertCounter: the insert key sequence shared by every thread, with
//     acknowledgement so readers never pick a key whose insert has not
//     finished (YCSB's AcknowledgedCounterGenerator).
//
// Thread safety: Random and the generators are per-thread (not thread-safe);
// InsertCounter is thread-safe.
#ifndef MVKV_BENCH_YCSB_GENERATORS_H_
#define MVKV_BENCH_YCSB_GENERATORS_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>

namespace mvkv::ycsb {

// FNV-1a over the 8 little-endian bytes of `v` (YCSB's Utils.fnvhash64),
// with the sign bit cleared as Java's Math.abs would leave it non-negative.
uint64_t FnvHash64(uint64_t v);

// xoshiro256** seeded by splitmix64: fast, good enough for load generation.
class Random {
 public:
  explicit Random(uint64_t seed);
  uint64_t Next();
  double NextDouble();                 // [0, 1)
  uint64_t Uniform(uint64_t n);        // [0, n), REQUIRES: n > 0
 private:
  uint64_t s_[4];
};

class InsertCounter {
 public:
  explicit InsertCounter(uint64_t start) : next_(start), limit_(start - 1) {}
  // Claims the next key number to insert.
  uint64_t Next() { return next_.fetch_add(1, std::memory_order_relaxed); }
  // Marks `v`'s insert finished; LastValue() advances over a contiguous run.
  void Acknowledge(uint64_t v);
  // The highest key number such that it and every lower one are inserted.
  uint64_t LastValue() const { return limit_.load(std::memory_order_acquire); }
 private:
  std::atomic<uint64_t> next_;   // relaxed: only uniqueness matters
  std::atomic<uint64_t> limit_;  // release in Acknowledge, acquire in LastValue
  std::mutex mu_;
  std::set<uint64_t> pending_;   // guarded by mu_
};

class UniformGenerator {
 public:
  UniformGenerator(uint64_t lo, uint64_t hi) : lo_(lo), hi_(hi) {}
  uint64_t Next(Random& r) { return lo_ + r.Uniform(hi_ - lo_ + 1); }
 private:
  uint64_t lo_, hi_;
};

class ZipfianGenerator {
 public:
  static constexpr double kDefaultTheta = 0.99;
  // Items lo..hi; rank 0 (lo) is the most popular.
  ZipfianGenerator(uint64_t lo, uint64_t hi, double theta = kDefaultTheta);
  // As above with zeta(hi - lo + 1, theta) already known.
  ZipfianGenerator(uint64_t lo, uint64_t hi, double theta, double zetan);
  uint64_t Next(Random& r) { return NextWithCount(r, items_); }
  // Draws from the first `count` items (zeta extended when count grew).
  uint64_t NextWithCount(Random& r, uint64_t count);

  static double Zeta(uint64_t from, uint64_t to, double theta, double initial);
  double zetan() const { return zetan_; }

 private:
  void SetCount(uint64_t count);
  uint64_t lo_, items_;
  double theta_, alpha_, zeta2_, zetan_, eta_;
  uint64_t count_for_zeta_;
};

class ScrambledZipfianGenerator {
 public:
  static constexpr uint64_t kItems = 10000000000ULL;
  static constexpr double kZetan = 26.46902820178302;  // zeta(1e10, 0.99)
  ScrambledZipfianGenerator(uint64_t lo, uint64_t hi);
  uint64_t Next(Random& r) { return lo_ + FnvHash64(zipf_.Next(r)) % count_; }
 private:
  uint64_t lo_, count_;
  ZipfianGenerator zipf_;
};

class SkewedLatestGenerator {
 public:
  explicit SkewedLatestGenerator(const InsertCounter* basis);
  uint64_t Next(Random& r);
 private:
  const InsertCounter* basis_;
  ZipfianGenerator zipf_;
};

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_GENERATORS_H_
