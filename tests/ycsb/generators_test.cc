// Generators match their definitions within tolerance: zipfian item
// frequencies against 1/(i+1)^theta/zeta(n), the scrambled zipfian's hottest
// key against 1/zeta(10^10), latest against the zipfian on the distance from
// the newest insert, uniform by a chi-square bound. Fixed seeds.
#include "bench/ycsb/generators.h"

#include <cmath>
#include <map>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace mvkv::ycsb {
namespace {

constexpr int kDraws = 400000;

TEST(GeneratorsTest, FnvHashMatchesKnownValuesAndIsNonNegative) {
  // FNV-1a-64 of eight zero bytes, sign bit cleared.
  EXPECT_EQ(FnvHash64(0), 0xa8c7f832281a39c5ULL & 0x7fffffffffffffffULL);
  EXPECT_NE(FnvHash64(1), FnvHash64(2));
  for (uint64_t i = 0; i < 1000; ++i) EXPECT_LT(FnvHash64(i), 1ULL << 63);
}

TEST(GeneratorsTest, UniformPassesChiSquare) {
  Random rng(42);
  UniformGenerator g(10, 109);
  std::vector<int> counts(100, 0);
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = g.Next(rng);
    ASSERT_GE(v, 10u);
    ASSERT_LE(v, 109u);
    ++counts[v - 10];
  }
  const double expected = kDraws / 100.0;
  double chi2 = 0;
  for (int c : counts) chi2 += (c - expected) * (c - expected) / expected;
  EXPECT_LT(chi2, 99 + 5 * std::sqrt(2 * 99.0));  // dof 99, ~5 sigma
}

TEST(GeneratorsTest, ZipfianTopItemsMatchTheory) {
  const uint64_t n = 1000;
  const double theta = 0.99;
  Random rng(7);
  ZipfianGenerator g(0, n - 1, theta);
  const double zetan = ZipfianGenerator::Zeta(0, n, theta, 0);
  EXPECT_NEAR(g.zetan(), zetan, 1e-9);
  std::vector<int> counts(n, 0);
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = g.Next(rng);
    ASSERT_LT(v, n);
    ++counts[v];
  }
  // Ranks 0 and 1 are exact in the algorithm; deeper ranks are Gray's
  // approximation, checked in aggregate.
  for (int i = 0; i < 2; ++i) {
    const double p = 1.0 / std::pow(i + 1, theta) / zetan;
    EXPECT_NEAR(counts[i] / double(kDraws), p, p * 0.03) << i;
  }
  double want_top10 = 0, got_top10 = 0;
  for (int i = 0; i < 10; ++i) {
    want_top10 += 1.0 / std::pow(i + 1, theta) / zetan;
    got_top10 += counts[i] / double(kDraws);
  }
  EXPECT_NEAR(got_top10, want_top10, want_top10 * 0.08);
  EXPECT_GT(counts[0], counts[10] * 5);
}

TEST(GeneratorsTest, ZipfianExtendsZetaIncrementally) {
  Random rng(1);
  ZipfianGenerator g(0, 99);
  g.NextWithCount(rng, 500);
  EXPECT_NEAR(g.zetan(), ZipfianGenerator::Zeta(0, 500, 0.99, 0), 1e-9);
}

TEST(GeneratorsTest, ScrambledZipfianSpreadsTheHotKeyAndKeepsItsWeight) {
  const uint64_t n = 100000;
  Random rng(3);
  ScrambledZipfianGenerator g(0, n - 1);
  std::map<uint64_t, int> counts;
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = g.Next(rng);
    ASSERT_LT(v, n);
    ++counts[v];
  }
  int hottest = 0;
  uint64_t hot_key = 0;
  for (auto [k, c] : counts) {
    if (c > hottest) hottest = c, hot_key = k;
  }
  const double p = 1.0 / ScrambledZipfianGenerator::kZetan;  // rank 0 of 1e10
  EXPECT_NEAR(hottest / double(kDraws), p, p * 0.1);
  EXPECT_EQ(hot_key, FnvHash64(0) % n);  // the hot key is not key 0
  EXPECT_NE(hot_key, 0u);
}

TEST(GeneratorsTest, LatestFavoursTheNewestAcknowledgedInsert) {
  InsertCounter counter(1000);  // keys 0..999 loaded
  Random rng(11);
  SkewedLatestGenerator g(&counter);
  const double zetan = ZipfianGenerator::Zeta(0, 1000, 0.99, 0);
  int newest = 0;
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = g.Next(rng);
    ASSERT_LE(v, 999u);
    newest += v == 999;
  }
  EXPECT_NEAR(newest / double(kDraws), 1 / zetan, 0.03 / zetan);
  counter.Acknowledge(counter.Next());  // key 1000 inserted
  int now_newest = 0;
  for (int i = 0; i < 10000; ++i) now_newest += g.Next(rng) == 1000;
  EXPECT_GT(now_newest, 10000 / zetan * 0.8);
}

TEST(GeneratorsTest, InsertCounterAdvancesOnlyOverContiguousAcks) {
  InsertCounter c(10);
  EXPECT_EQ(c.LastValue(), 9u);
  const uint64_t a = c.Next(), b = c.Next(), d = c.Next();
  c.Acknowledge(d);
  c.Acknowledge(b);
  EXPECT_EQ(c.LastValue(), 9u);
  c.Acknowledge(a);
  EXPECT_EQ(c.LastValue(), 12u);
}

TEST(GeneratorsTest, InsertCounterIsSafeAcrossThreads) {
  InsertCounter c(1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) c.Acknowledge(c.Next());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.LastValue(), 20000u);
}

}  // namespace
}  // namespace mvkv::ycsb
