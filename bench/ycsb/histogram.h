// bench/ycsb/histogram.h — a log-linear latency histogram (HdrHistogram-like,
// ~2 significant digits: 128 linear sub-buckets per power of two, relative
// error < 0.8%), values in nanoseconds. Debian ships no C++ HdrHistogram.
//
// Thread safety: none. Each worker thread records into its own histogram;
// the report merges them after the threads have joined.
#ifndef MVKV_BENCH_YCSB_HISTOGRAM_H_
#define MVKV_BENCH_YCSB_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace mvkv::ycsb {

class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  Histogram() : counts_(kBuckets, 0) {}

  void Record(uint64_t value_ns);
  // `n` values known only by their bucket, each taken as the bucket's upper
  // bound (a timeline's interval histogram, bench/ycsb/live_latency.h).
  void RecordBucket(int bucket, uint64_t n);
  void Merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double Mean() const;

  // The smallest recorded-bucket upper bound v such that at least
  // `percentile`% of the values are <= v (clamped to max()). 0 when empty.
  // REQUIRES: 0 <= percentile <= 100.
  uint64_t Percentile(double percentile) const;

  // Bucket arithmetic, exposed for tests.
  static int BucketOf(uint64_t v);
  static uint64_t BucketHigh(int bucket);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_HISTOGRAM_H_
