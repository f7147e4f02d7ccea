#include "bench/ycsb/histogram.h"

#include <algorithm>
#include <cmath>

namespace mvkv::ycsb {

int Histogram::BucketOf(uint64_t v) {
  if (v < static_cast<uint64_t>(kSub)) return static_cast<int>(v);
  const int msb = 63 - __builtin_clzll(v);
  const int shift = msb - kSubBits;  // v >> shift is in [kSub, 2*kSub)
  return (shift + 1) * kSub + static_cast<int>((v >> shift) - kSub);
}

uint64_t Histogram::BucketHigh(int bucket) {
  if (bucket < kSub) return static_cast<uint64_t>(bucket);
  const int shift = bucket / kSub - 1;
  const uint64_t m = static_cast<uint64_t>(bucket % kSub + kSub);
  if (shift + kSubBits + 1 >= 64 && m == 2 * kSub - 1) return UINT64_MAX;
  return ((m + 1) << shift) - 1;
}

void Histogram::Record(uint64_t v) {
  ++counts_[BucketOf(v)];
  ++count_;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  sum_ += v;
}

void Histogram::RecordBucket(int bucket, uint64_t n) {
  if (n == 0) return;
  const uint64_t v = BucketHigh(bucket);
  counts_[bucket] += n;
  count_ += n;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  sum_ += static_cast<long double>(v) * n;
}

void Histogram::Merge(const Histogram& o) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  sum_ += o.sum_;
}

double Histogram::Mean() const {
  return count_ == 0 ? 0 : static_cast<double>(sum_ / count_);
}

uint64_t Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * count_));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(BucketHigh(i), max_);
  }
  return max_;
}

}  // namespace mvkv::ycsb
