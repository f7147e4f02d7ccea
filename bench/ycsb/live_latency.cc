#include "bench/ycsb/live_latency.h"

namespace mvkv::ycsb {
namespace {
void Bump(std::atomic<uint64_t>& c) {  // single writer: no read-modify-write
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
}  // namespace

LiveLatency::LiveLatency()
    : counts_(new std::atomic<uint64_t>[Histogram::kBuckets]),
      collected_(Histogram::kBuckets, 0) {
  for (int i = 0; i < Histogram::kBuckets; ++i) {
    counts_[i].store(0, std::memory_order_relaxed);
  }
}

void LiveLatency::Done(uint64_t latency_ns, bool error) {
  Bump(counts_[Histogram::BucketOf(latency_ns)]);
  if (error) Bump(errors_);
  in_flight_.store(0, std::memory_order_relaxed);
}

uint64_t LiveLatency::Collect(Histogram* out) {
  for (int i = 0; i < Histogram::kBuckets; ++i) {
    const uint64_t now = counts_[i].load(std::memory_order_relaxed);
    if (now != collected_[i]) out->RecordBucket(i, now - collected_[i]);
    collected_[i] = now;
  }
  const uint64_t errors = errors_.load(std::memory_order_relaxed);
  const uint64_t new_errors = errors - errors_collected_;
  errors_collected_ = errors;
  return new_errors;
}

}  // namespace mvkv::ycsb
