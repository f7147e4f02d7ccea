#include "bench/ycsb/generators.h"

#include <cmath>

namespace mvkv::ycsb {

uint64_t FnvHash64(uint64_t v) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (int i = 0; i < 8; ++i) {
    h ^= v & 0xff;
    h *= 1099511628211ULL;
    v >>= 8;
  }
  return h & 0x7fffffffffffffffULL;
}

namespace {
uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Random::Random(uint64_t seed) {
  for (uint64_t& s : s_) s = SplitMix(seed);
}

uint64_t Random::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Random::NextDouble() { return (Next() >> 11) * 0x1.0p-53; }

uint64_t Random::Uniform(uint64_t n) {
  return static_cast<uint64_t>(
      (static_cast<unsigned __int128>(Next()) * n) >> 64);
}

void InsertCounter::Acknowledge(uint64_t v) {
  std::lock_guard<std::mutex> l(mu_);
  pending_.insert(v);
  uint64_t limit = limit_.load(std::memory_order_relaxed);
  while (!pending_.empty() && *pending_.begin() == limit + 1) {
    pending_.erase(pending_.begin());
    ++limit;
  }
  limit_.store(limit, std::memory_order_release);  // pairs with LastValue
}

double ZipfianGenerator::Zeta(uint64_t from, uint64_t to, double theta,
                              double initial) {
  double sum = initial;
  for (uint64_t i = from; i < to; ++i) sum += 1.0 / std::pow(i + 1, theta);
  return sum;
}

ZipfianGenerator::ZipfianGenerator(uint64_t lo, uint64_t hi, double theta)
    : ZipfianGenerator(lo, hi, theta, Zeta(0, hi - lo + 1, theta, 0)) {}

ZipfianGenerator::ZipfianGenerator(uint64_t lo, uint64_t hi, double theta,
                                   double zetan)
    : lo_(lo),
      items_(hi - lo + 1),
      theta_(theta),
      alpha_(1.0 / (1.0 - theta)),
      zeta2_(Zeta(0, 2, theta, 0)),
      zetan_(zetan),
      count_for_zeta_(items_) {
  eta_ = (1 - std::pow(2.0 / items_, 1 - theta_)) / (1 - zeta2_ / zetan_);
}

void ZipfianGenerator::SetCount(uint64_t count) {
  if (count > count_for_zeta_) {
    zetan_ = Zeta(count_for_zeta_, count, theta_, zetan_);
  } else {
    zetan_ = Zeta(0, count, theta_, 0);
  }
  count_for_zeta_ = count;
  eta_ = (1 - std::pow(2.0 / count, 1 - theta_)) / (1 - zeta2_ / zetan_);
}

uint64_t ZipfianGenerator::NextWithCount(Random& r, uint64_t count) {
  if (count != count_for_zeta_) SetCount(count);
  const double u = r.NextDouble();
  const double uz = u * zetan_;
  if (uz < 1.0) return lo_;
  if (uz < 1.0 + std::pow(0.5, theta_)) return lo_ + 1;
  const uint64_t rank = static_cast<uint64_t>(
      count * std::pow(eta_ * u - eta_ + 1, alpha_));
  return lo_ + (rank < count ? rank : count - 1);
}

ScrambledZipfianGenerator::ScrambledZipfianGenerator(uint64_t lo, uint64_t hi)
    : lo_(lo),
      count_(hi - lo + 1),
      zipf_(0, kItems - 1, ZipfianGenerator::kDefaultTheta, kZetan) {}

SkewedLatestGenerator::SkewedLatestGenerator(const InsertCounter* basis)
    : basis_(basis),
      zipf_(0, basis->LastValue(), ZipfianGenerator::kDefaultTheta) {}

uint64_t SkewedLatestGenerator::Next(Random& r) {
  const uint64_t max = basis_->LastValue();
  return max - zipf_.NextWithCount(r, max + 1);
}

}  // namespace mvkv::ycsb
