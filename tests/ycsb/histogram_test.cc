// Histogram: bucket arithmetic, percentiles within the stated relative error,
// and merge equal to recording everything in one histogram.
#include "bench/ycsb/histogram.h"

#include "gtest/gtest.h"

namespace mvkv::ycsb {
namespace {

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 128; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(50), 63u);
  EXPECT_EQ(h.Percentile(100), 127u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 127u);
}

TEST(HistogramTest, BucketsAreMonotonicAndCoverTheirValues) {
  int last = -1;
  for (uint64_t v = 1; v < (1ULL << 62); v = v * 3 / 2 + 1) {
    const int b = Histogram::BucketOf(v);
    EXPECT_GE(b, last);
    EXPECT_GE(Histogram::BucketHigh(b), v);
    EXPECT_LE(Histogram::BucketHigh(b) - v, v / 128 + 1) << v;
    last = b;
  }
  EXPECT_LT(Histogram::BucketOf(UINT64_MAX), Histogram::kBuckets);
}

TEST(HistogramTest, PercentilesOfAUniformRangeAreWithinOnePercent) {
  Histogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.Record(v * 10);
  for (double p : {50.0, 95.0, 99.0, 99.9}) {
    const double want = p / 100 * 1000000;
    EXPECT_NEAR(h.Percentile(p), want, want * 0.01) << p;
  }
  EXPECT_EQ(h.Percentile(100), 1000000u);
  EXPECT_NEAR(h.Mean(), 500005, 1);
}

TEST(HistogramTest, MergeEqualsRecordingEverythingInOne) {
  Histogram a, b, all;
  for (uint64_t v = 1; v < 50000; v += 7) {
    (v % 2 ? a : b).Record(v * 31);
    all.Record(v * 31);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  for (double p : {1.0, 50.0, 99.0, 99.99}) EXPECT_EQ(a.Percentile(p), all.Percentile(p));
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
}

TEST(HistogramTest, RecordBucketCountsAtTheBucketsUpperBound) {
  Histogram h;
  const int b = Histogram::BucketOf(10000);
  h.RecordBucket(b, 3);
  h.RecordBucket(Histogram::BucketOf(10), 1);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.max(), Histogram::BucketHigh(b));
  EXPECT_EQ(h.Percentile(50), Histogram::BucketHigh(b));
  EXPECT_EQ(h.min(), 10u);
}

TEST(HistogramTest, EmptyHistogramReportsZero) {
  Histogram h;
  EXPECT_EQ(h.Percentile(99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.Mean(), 0);
}

}  // namespace
}  // namespace mvkv::ycsb
