// A test double for mvkv::Durability: keeps persisted keys in memory, and
// its PersistBatch can be held shut, so a test can keep commits in flight
// (published, not yet durable, callbacks not yet run) for as long as it
// needs, then let them through.
//
// Thread safety: thread-safe; PersistBatch blocks while the gate is shut.
#ifndef MVKV_MVCC_TESTING_GATED_DURABILITY_H_
#define MVKV_MVCC_TESTING_GATED_DURABILITY_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mvcc/durability.h"

namespace mvkv::testing_support {

class GatedDurability final : public Durability {
 public:
  absl::Status PersistBatch(absl::Span<const DurableCommit> batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++held_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --held_;
    for (const DurableCommit& c : batch) {
      for (const DurableWrite& w : c.writes) {
        persisted_.emplace(std::string(w.key), c.commit_ts);
      }
    }
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> Load(
      const std::function<void(std::string_view, std::string_view, uint64_t)>&)
      override {
    return 0;
  }

  // Shut: every PersistBatch from now on waits until the gate opens.
  void SetOpen(bool open) {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = open;
    cv_.notify_all();
  }
  // Blocks until a batch is held at the shut gate.
  void WaitForHeldBatch() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return held_ > 0; });
  }
  bool Persisted(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return persisted_.count(key) > 0;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int held_ = 0;
  std::multimap<std::string, uint64_t> persisted_;
};

}  // namespace mvkv::testing_support

#endif  // MVKV_MVCC_TESTING_GATED_DURABILITY_H_
