#include "server/txn_table.h"

#include <pthread.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace mvkv::server {

TxnTable::Entry::Entry(TxnTable* table, uint64_t id, bool is_handle,
                       std::string peer, std::unique_ptr<Txn> txn,
                       absl::Time now, absl::Duration lease)
    : table_(table),
      id_(id),
      is_handle_(is_handle),
      peer_(std::move(peer)),
      created_(now),
      txn_(std::move(txn)),
      lease_deadline_ns_(is_handle ? absl::ToUnixNanos(created_ + lease)
                                   : INT64_MAX) {}

TxnTable::Entry::~Entry() {
  if (txn_ != nullptr) Finish(absl::AbortedError("entry dropped"));
}

void TxnTable::Entry::Finish(absl::Status fate) {
  if (txn_ == nullptr || committing_) return;
  (void)txn_->Rollback();  // no-op on a committed transaction
  txn_.reset();            // releases the snapshot
  fate_ = std::move(fate);
  table_->OnFinished(this);
}

TxnTable::TxnTable(Database* db, const TxnTableOptions& options)
    : db_(db), options_(options), rng_(std::random_device()()) {
  if (options_.reaper_thread) {
    reaper_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "mvkv-txn-reaper");
      ReaperLoop();
    });
  }
}

TxnTable::~TxnTable() {
  CloseAll();
  if (reaper_.joinable()) reaper_.join();
}

void TxnTable::OnFinished(Entry* entry) {
  open_.fetch_sub(1, std::memory_order_relaxed);
  if (!entry->is_handle_)
    open_sessions_.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard l(mu_);
  entry->finished_at_ = options_.clock();
  if (entry->is_handle_) {
    tombstones_.emplace_back(entry->finished_at_, entry->id_);
    while (tombstones_.size() > options_.max_tombstones) {
      entries_.erase(tombstones_.front().second);
      tombstones_.pop_front();
    }
  }
}

absl::StatusOr<std::shared_ptr<TxnTable::Entry>> TxnTable::Open(
    IsolationLevel isolation, bool is_handle, std::string peer) {
  uint64_t id = 0;
  {
    std::lock_guard l(mu_);
    if (closed_) return absl::UnavailableError("server is shutting down");
    if (open_.load(std::memory_order_relaxed) >= options_.max_open_txns) {
      return absl::ResourceExhaustedError(
          absl::StrCat("too many open transactions (limit ",
                       options_.max_open_txns, ", --max_open_txns)"));
    }
    open_.fetch_add(1, std::memory_order_relaxed);
    do {
      id = rng_();
    } while (id == 0 || entries_.contains(id));
    // Reserve the id; the entry is filled in below, outside the lock.
    entries_[id] = nullptr;
  }
  if (!is_handle) open_sessions_.fetch_add(1, std::memory_order_relaxed);
  auto entry = std::make_shared<Entry>(
      this, id, is_handle, std::move(peer),
      db_->Begin(Database::TxnOptions{.isolation = isolation, .id = id}),
      options_.clock(), options_.txn_lease);
  std::lock_guard l(mu_);
  entries_[id] = entry;
  return entry;
}

absl::StatusOr<std::shared_ptr<TxnTable::Entry>> TxnTable::Find(uint64_t id) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard l(mu_);
    auto it = entries_.find(id);
    if (it != entries_.end()) entry = it->second;
  }
  if (entry == nullptr || !entry->is_handle_) {
    return absl::NotFoundError(
        absl::StrCat("unknown transaction handle ", id,
                     " (never issued, or finished more than ",
                     absl::FormatDuration(options_.tombstone_ttl), " ago)"));
  }
  entry->lease_deadline_ns_.store(
      absl::ToUnixNanos(options_.clock() + options_.txn_lease),
      std::memory_order_relaxed);
  return entry;
}

std::optional<TxnHolder> TxnTable::Holder(uint64_t id) const {
  std::lock_guard l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second == nullptr ||
      it->second->finished_at_ != absl::InfiniteFuture()) {
    return std::nullopt;
  }
  return TxnHolder{it->second->is_handle_ ? "handle" : "session",
                   it->second->peer_};
}

void TxnTable::Remove(const std::shared_ptr<Entry>& entry) {
  {
    auto lock = entry->Lock();
    entry->Finish(absl::FailedPreconditionError("session ended"));
  }
  std::lock_guard l(mu_);
  entries_.erase(entry->id_);
}

void TxnTable::CloseAll() {
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::lock_guard l(mu_);
    closed_ = true;
    for (auto& [id, e] : entries_) {
      if (e != nullptr) all.push_back(e);
    }
    cv_.notify_all();
  }
  for (auto& e : all) {
    auto lock = e->Lock();
    e->Finish(absl::UnavailableError("server is shutting down"));
  }
}

TxnTableCounts TxnTable::Counts() const {
  TxnTableCounts c;
  const int open = open_.load(std::memory_order_relaxed);
  const int sessions = open_sessions_.load(std::memory_order_relaxed);
  c.open_sessions = std::max(sessions, 0);
  c.open_handles = std::max(open - sessions, 0);
  c.expired_leases = expired_leases_.load(std::memory_order_relaxed);
  c.expired_max_age = expired_max_age_.load(std::memory_order_relaxed);
  return c;
}

void TxnTable::Reap(absl::Time now) {
  std::vector<std::shared_ptr<Entry>> candidates;
  {
    std::lock_guard l(mu_);
    while (!tombstones_.empty() &&
           tombstones_.front().first + options_.tombstone_ttl < now) {
      entries_.erase(tombstones_.front().second);
      tombstones_.pop_front();
    }
    for (auto& [id, e] : entries_) {
      if (e != nullptr && e->finished_at_ == absl::InfiniteFuture()) {
        candidates.push_back(e);
      }
    }
  }
  const int64_t now_ns = absl::ToUnixNanos(now);
  for (auto& e : candidates) {
    const bool too_old = e->created_ + options_.max_txn_age < now;
    const bool lease_out =
        e->lease_deadline_ns_.load(std::memory_order_relaxed) < now_ns;
    if (!too_old && !lease_out) continue;
    std::unique_lock lock(e->mu_, std::try_to_lock);
    if (!lock.owns_lock() || e->txn_ == nullptr || e->committing_) {
      continue;  // busy, done, or committing (checked again next round)
    }
    if (lease_out) {
      expired_leases_.fetch_add(1, std::memory_order_relaxed);
      e->Finish(absl::AbortedError(
          absl::StrCat("transaction ", e->id_, " was rolled back: its lease (",
                       absl::FormatDuration(options_.txn_lease),
                       ") expired without a call or KeepAlive")));
    } else {
      expired_max_age_.fetch_add(1, std::memory_order_relaxed);
      e->Finish(absl::AbortedError(absl::StrCat(
          "transaction ", e->id_, " was rolled back: it was open longer than ",
          absl::FormatDuration(options_.max_txn_age), " (--max_txn_age)")));
    }
  }
}

void TxnTable::ReaperLoop() {
  const absl::Duration period =
      std::clamp(std::min(options_.txn_lease, options_.max_txn_age) / 4,
                 absl::Milliseconds(5), absl::Seconds(1));
  std::unique_lock l(mu_);
  while (!closed_) {
    cv_.wait_for(l, absl::ToChronoNanoseconds(period));
    if (closed_) break;
    l.unlock();
    Reap(options_.clock());
    l.lock();
  }
}

}  // namespace mvkv::server
