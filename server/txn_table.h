// The server's open transactions: session transactions (bound to a Session
// stream) and handles (unary clients, kept alive by a lease).
//
// Every open transaction is an Entry in one table, so one limit
// (max_open_txns) covers both kinds and one reaper thread rolls back what
// outlived its lease (handles) or max_txn_age (both kinds). A rolled-back or
// finished handle stays in the table as a tombstone for a while, so a late
// call on it gets ABORTED ("lease expired") or FAILED_PRECONDITION
// ("committed") instead of NOT_FOUND.
//
// Thread safety: TxnTable is thread-safe. An Entry's transaction is used only
// with the Entry's mutex held (Entry::Lock), which serialises a client's calls
// against each other and against the reaper; the reaper only try-locks. A
// commit is the exception: it is marked under the lock (BeginCommit), then
// runs without it (the engine's async commit), and ends under the lock
// (EndCommit). While it runs, nobody else touches the transaction and
// nothing (reaper, CloseAll, Remove) finishes the entry: the commit's end
// does.
#ifndef MVKV_SERVER_TXN_TABLE_H_
#define MVKV_SERVER_TXN_TABLE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mvcc/db.h"

namespace mvkv::server {

struct TxnTableOptions {
  // Open transactions (sessions and handles together) at most.
  int max_open_txns = 1024;
  // A transaction open longer than this is rolled back by the reaper.
  absl::Duration max_txn_age = absl::Minutes(10);
  // A handle with no call for this long is rolled back by the reaper.
  absl::Duration txn_lease = absl::Seconds(10);
  // How long a finished handle answers with its fate before it is forgotten
  // (then NOT_FOUND), and how many finished handles are remembered at most
  // (the oldest are forgotten first), so memory stays bounded at any rate.
  absl::Duration tombstone_ttl = absl::Minutes(5);
  std::size_t max_tombstones = 65536;
  // The clock for ages, leases and tombstones. Tests pass a fake one and
  // drive Reap() themselves (reaper_thread = false).
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  bool reaper_thread = true;
};

// What holds an open transaction, for Stats (who pins the oldest snapshot).
struct TxnHolder {
  const char* kind = "";  // "session" or "handle"
  std::string peer;       // the client's address, as gRPC reports it
};

struct TxnTableCounts {
  uint64_t open_sessions = 0;
  uint64_t open_handles = 0;
  uint64_t expired_leases = 0;
  uint64_t expired_max_age = 0;
};

class TxnTable final {
 public:
  class Entry final {
   public:
    // The transaction's one id: its Txn::id(), its handle, and the txn_id
    // every message and Stats use.
    uint64_t id() const { return id_; }
    bool is_handle() const { return is_handle_; }
    const std::string& peer() const { return peer_; }
    // Locks the entry for the duration of one operation on txn().
    std::unique_lock<std::mutex> Lock() { return std::unique_lock(mu_); }
    // REQUIRES: Lock() held. The open transaction, or nullptr once finished.
    Txn* txn() { return txn_.get(); }
    // REQUIRES: Lock() held and txn() == nullptr. Why the transaction ended:
    // FailedPrecondition (committed / rolled back by the client) or Aborted
    // (rolled back by the server, with the reason).
    const absl::Status& fate() const { return fate_; }
    // REQUIRES: Lock() held. Ends the transaction (rolling it back if still
    // open) and records `fate`. No-op while a commit is in flight.
    void Finish(absl::Status fate);
    // REQUIRES: Lock() held. The entry's commit is in flight: txn() must not
    // be used by anyone but the committer until EndCommit.
    bool committing() const { return committing_; }
    // REQUIRES: Lock() held, txn() != nullptr, !committing().
    void BeginCommit() { committing_ = true; }
    // REQUIRES: Lock() held, committing(). Finishes the entry with `fate`.
    void EndCommit(absl::Status fate) {
      committing_ = false;
      Finish(std::move(fate));
    }

    Entry(TxnTable* table, uint64_t id, bool is_handle, std::string peer,
          std::unique_ptr<Txn> txn, absl::Time now, absl::Duration lease);
    ~Entry();

   private:
    friend class TxnTable;
    TxnTable* const table_;
    const uint64_t id_;
    const bool is_handle_;
    const std::string peer_;
    const absl::Time created_;
    std::mutex mu_;
    std::unique_ptr<Txn> txn_;
    bool committing_ = false;
    absl::Status fate_;
    // Lease deadline in absl::ToUnixNanos; relaxed: a heuristic the reaper
    // reads, renewed by callers without the lock.
    std::atomic<int64_t> lease_deadline_ns_;
    absl::Time finished_at_ = absl::InfiniteFuture();  // guarded by table_->mu_
  };

  TxnTable(Database* db, const TxnTableOptions& options);
  // Rolls back everything still open. REQUIRES: no Entry is in use.
  ~TxnTable();
  TxnTable(const TxnTable&) = delete;
  TxnTable& operator=(const TxnTable&) = delete;

  // Begins a transaction for the client at `peer`, with a random
  // unguessable id that the engine's Txn carries too (so every message about
  // it names the id the client holds). A handle has a lease; a session entry
  // is not findable by id (Find) and has no lease.
  // ResourceExhausted past max_open_txns; Unavailable after CloseAll().
  absl::StatusOr<std::shared_ptr<Entry>> Open(IsolationLevel isolation,
                                              bool is_handle,
                                              std::string peer);

  // Who holds the open transaction `id`; nullopt if none does (finished,
  // unknown, or a transaction the table does not own).
  std::optional<TxnHolder> Holder(uint64_t id) const;

  // The handle `id`, its lease renewed. NotFound if unknown (or forgotten).
  absl::StatusOr<std::shared_ptr<Entry>> Find(uint64_t id);

  // Removes a session entry (rolling it back if open). Handles are removed
  // by the reaper once their tombstone ages out.
  void Remove(const std::shared_ptr<Entry>& entry);

  // Rolls back every open transaction and refuses new ones (shutdown).
  void CloseAll();

  TxnTableCounts Counts() const;
  absl::Duration lease() const { return options_.txn_lease; }

  // One reaper pass at `now` (the reaper thread calls it with the clock's
  // time; tests without the thread call it themselves).
  void Reap(absl::Time now);

 private:
  void ReaperLoop();
  void OnFinished(Entry* entry);

  Database* const db_;
  const TxnTableOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;  // guarded by mu_
  std::unordered_map<uint64_t, std::shared_ptr<Entry>> entries_;  // mu_
  // Finished handles in finishing order (ids; mu_).
  std::deque<std::pair<absl::Time, uint64_t>> tombstones_;
  std::mt19937_64 rng_;       // guarded by mu_
  std::atomic<int> open_{0};  // relaxed: counts, limit checked under mu_
  std::atomic<int> open_sessions_{0};         // relaxed: statistics
  std::atomic<uint64_t> expired_leases_{0};   // relaxed: statistics
  std::atomic<uint64_t> expired_max_age_{0};  // relaxed: statistics
  std::thread reaper_;
};

}  // namespace mvkv::server

#endif  // MVKV_SERVER_TXN_TABLE_H_
