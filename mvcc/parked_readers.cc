#include "mvcc/parked_readers.h"

#include <pthread.h>

#include <atomic>

#include "mvcc/reclaim_scheme.h"

namespace mvkv {

ParkedReaders::~ParkedReaders() { Release(); }

void ParkedReaders::Park(int count) {
  std::lock_guard<std::mutex> p(park_mu_);
  std::unique_lock<std::mutex> l(mu_);
  const int target = holding_ + count;
  for (int i = 0; i < count; ++i) threads_.emplace_back([this] { Hold(); });
  cv_.wait(l, [&] { return holding_ == target; });
}

int ParkedReaders::Release() {
  std::lock_guard<std::mutex> p(park_mu_);
  {
    std::lock_guard<std::mutex> l(mu_);
    releasing_ = true;
  }
  cv_.notify_all();
  const int released = static_cast<int>(threads_.size());
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  std::lock_guard<std::mutex> l(mu_);
  releasing_ = false;
  return released;
}

int ParkedReaders::parked() const {
  std::lock_guard<std::mutex> l(mu_);
  return holding_;
}

void ParkedReaders::Hold() {
  pthread_setname_np(pthread_self(), "mvkv-parked");
  // A root the reader "loads": protecting it activates the guard's
  // reservation at today's era, as a reader's first protected load does.
  static const std::atomic<reclaim::Node*> root{nullptr};
  EngineReclaimDomain::Guard guard;  // the engine's own (default) domain
  guard.Protect(root, 0);
  std::unique_lock<std::mutex> l(mu_);
  ++holding_;
  cv_.notify_all();
  cv_.wait(l, [this] { return releasing_; });
  --holding_;
}

}  // namespace mvkv
