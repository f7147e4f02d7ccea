// A test double for mvkv::Durability: keeps persisted keys, and owned copies
// of the batches, in memory; its PersistBatch can be held shut, so a test
// can keep commits in flight (published, not yet durable, callbacks not yet
// run) for as long as it needs, then let them through; and it can answer
// BatchNotCommittedError instead of persisting (a replicated log's "this
// batch did not commit").
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
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mvcc/durability.h"

namespace mvkv::testing_support {

// A batch with owned bytes, as a log would hold it.
struct OwnedBatch {
  struct Write {
    std::string key, value;
    bool tombstone;
  };
  std::vector<std::pair<uint64_t, std::vector<Write>>> commits;

  // The DurableCommit view of it (valid while this and *writes live).
  std::vector<DurableCommit> View(
      std::vector<std::vector<DurableWrite>>* writes) const {
    writes->clear();
    for (const auto& [ts, ws] : commits) {
      auto& out = writes->emplace_back();
      for (const Write& w : ws) out.push_back({w.key, w.value, w.tombstone});
    }
    std::vector<DurableCommit> view;
    for (std::size_t i = 0; i < commits.size(); ++i) {
      view.push_back({commits[i].first, (*writes)[i]});
    }
    return view;
  }
};

class GatedDurability final : public Durability {
 public:
  absl::Status PersistBatch(absl::Span<const DurableCommit> batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++held_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --held_;
    if (not_committed_) {
      return BatchNotCommittedError("test: this batch did not commit");
    }
    OwnedBatch& owned = batches_.emplace_back();
    for (const DurableCommit& c : batch) {
      auto& ws = owned.commits.emplace_back(c.commit_ts,
                                            std::vector<OwnedBatch::Write>{});
      for (const DurableWrite& w : c.writes) {
        persisted_.emplace(std::string(w.key), c.commit_ts);
        ws.second.push_back(
            {std::string(w.key), std::string(w.value), w.tombstone});
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
  // From now on PersistBatch answers BatchNotCommittedError (when `v`).
  void SetNotCommitted(bool v) {
    std::lock_guard<std::mutex> lock(mu_);
    not_committed_ = v;
  }
  // Every batch persisted so far, in order.
  std::vector<OwnedBatch> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  bool not_committed_ = false;
  int held_ = 0;
  std::multimap<std::string, uint64_t> persisted_;
  std::vector<OwnedBatch> batches_;
};

}  // namespace mvkv::testing_support

#endif  // MVKV_MVCC_TESTING_GATED_DURABILITY_H_
