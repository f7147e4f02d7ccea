#include "replication/internal/applier.h"

#include <pthread.h>

#include <utility>

#include "replication/internal/libraft.h"

namespace mvkv::replication_internal {

void RaftFree::operator()(char* p) const { raft_free(p); }

Applier::Applier(Replica* replica, OnAccepted on_accepted, OnFailed on_failed)
    : replica_(replica),
      on_accepted_(std::move(on_accepted)),
      on_failed_(std::move(on_failed)),
      thread_([this] {
        pthread_setname_np(pthread_self(), "mvkv-apply");
        Run();
      }) {}

Applier::~Applier() { Stop(); }

void Applier::Push(ApplierItem item) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return;
  items_.push_back(std::move(item));
  cv_.notify_one();
}

std::size_t Applier::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return items_.size() + (busy_ ? 1 : 0);
}

void Applier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    items_.clear();
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void Applier::Run() {
  while (true) {
    ApplierItem item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      busy_ = false;
      cv_.wait(lock, [&] { return stop_ || !items_.empty(); });
      if (stop_) return;
      item = std::move(items_.front());
      items_.pop_front();
      busy_ = true;
    }
    absl::Status s = Execute(item);
    if (s.ok()) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;  // the engine closing under us: not a failure
      stop_ = true;
      items_.clear();
      busy_ = false;
    }
    on_failed_(std::move(s));
    return;
  }
}

absl::Status Applier::Execute(ApplierItem& item) {
  switch (item.kind) {
    case ApplierItem::Kind::kApply:
      return replica_->Apply(item.batch.commits);
    case ApplierItem::Kind::kRestore: {
      // Checked by the loop thread when libraft handed it over.
      absl::StatusOr<replication::SnapshotReader> reader =
          replication::SnapshotReader::Open(
              std::string_view(item.snapshot.get(), item.snapshot_size));
      if (!reader.ok()) return reader.status();
      return replica_->Restore(reader->header().snapshot_ts,
                               [&](SnapshotEntry* e) { return reader->Next(e); });
    }
    case ApplierItem::Kind::kAccept: {
      absl::StatusOr<uint64_t> last = replica_->AcceptLocalCommits();
      if (!last.ok()) return last.status();
      on_accepted_(item.term, *last);
      return absl::OkStatus();
    }
    case ApplierItem::Kind::kRefuse:
      return replica_->RefuseLocalCommits(std::move(item.refusal));
  }
  return absl::OkStatus();
}

}  // namespace mvkv::replication_internal
