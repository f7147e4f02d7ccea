// mvkv: a transactional, in-memory, multi-version key-value engine.
//
// A Database holds byte-string keys and values in memory, each key with a
// chain of versions stamped by commit timestamps. Reads never block and never
// wait for writers: a reader pins a reclamation guard, walks the indexes and a
// version chain, and picks the newest version at or below its snapshot. All
// writes flow through one ordered commit pipeline whose single writer
// validates, installs and publishes commits; concurrent commits are grouped
// into batches (group commit).
//
// Isolation levels (per transaction):
//   * kSnapshot (default): every read sees the state at the transaction's
//     start; commit fails with Aborted if another transaction committed a
//     write to any key this one writes after it started (first committer
//     wins). Write skew is possible.
//   * kSerializable: snapshot reads, plus commit-time validation (in the
//     single writer, so it is exact) that nothing this transaction read or
//     scanned, including the absence of keys in a scanned range, was changed
//     by a commit after its snapshot. Write skew and phantoms abort.
//   * kReadCommitted: every read sees the latest committed state at the time
//     of the read (a scan is one snapshot); commit never conflicts: the last
//     writer wins.
// Every transaction reads its own uncommitted writes. Read-only transactions
// never enter the pipeline.
//
// Commits come in two forms with the same outcomes. The blocking ones
// (Txn::Commit, Database::Put/Delete) return once the commit is visible and
// durable, parking the calling thread meanwhile (in memory, with the default
// layout, a commit that finds the pipeline idle runs on the calling thread
// instead: no hand-off at all). The asynchronous ones
// (Txn::CommitAsync, Database::PutAsync/DeleteAsync) return at once and call
// a CommitCallback when the commit is done, so a server can have any number
// of commits in flight without a thread per commit (see CommitCallback).
//
// Watches (Database::Watch) stream committed changes to a key, a range or a
// prefix: one event per commit that touched the range, in commit order, each
// exactly once, starting at the next commit or at a past commit timestamp
// still in the change buffer. Every watch is only a cursor into one shared
// buffer of Options::watch_buffer_bytes, so a watcher that stops reading
// costs no memory: it is cancelled with ResourceExhausted when the buffer
// moves past it, and no watcher ever slows a writer (see class Watch). One
// thread may serve many watches (Watch::WaitAny) and reuse one event's
// storage for all of them (Watch::NextInto).
//
// Thread safety: Database is thread-safe. A Txn is used by one thread at a
// time (it may move between threads); different Txns run concurrently.
// TVar<T> handles may be shared between threads; their values are read and
// written only inside transactions.
//
// Errors are absl::Status with canonical codes (map 1:1 to gRPC):
//   NotFound            the key has no live version at the snapshot.
//   Aborted             a conflict; the message names the key. Retrying the
//                       whole transaction may succeed (see Transact()).
//   FailedPrecondition  the transaction already committed or rolled back.
//   OutOfRange          snapshot too old: the engine released this
//                       transaction's snapshot (see IsSnapshotTooOld());
//                       a watch start that is no longer buffered
//                       ("compacted", see WatchRestartTs()).
//   InvalidArgument     empty or oversized key, oversized value, bad range.
//   ResourceExhausted   the commit pipeline is full and did not drain in time
//                       (async commits: is full; they never wait for room);
//                       too many watches; a watch that fell behind.
//   Unavailable         the database is shutting down, or commits stopped
//                       after a durability failure.
#ifndef MVKV_MVCC_DB_H_
#define MVKV_MVCC_DB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/retry.h"
#include "mvcc/durability.h"

namespace mvkv {

enum class IsolationLevel { kSnapshot, kSerializable, kReadCommitted };

// What each isolation level does, one row per level (see the file comment);
// the engine consults only this table, so a new level is one more row.
struct IsolationTraits {
  const char* name;        // "snapshot", "serializable", "read_committed"
  bool has_snapshot;       // registers a snapshot at Begin; reads use it
  bool reads_latest;       // each read sees the newest committed state
  bool records_reads;      // keeps the keys read and the ranges scanned
  bool validates_reads;    // commit fails if any of those changed since
  bool validates_writes;   // commit fails if a written key changed since
};
// The row of `level`.
const IsolationTraits& Traits(IsolationLevel level);

// Limits on input, shared by every layer above the engine: the server
// configures them (--max_key_bytes, --max_value_bytes) and validates its
// requests with the same functions the engine uses.
struct Limits {
  // Keys are 1..max_key_bytes bytes, values 0..max_value_bytes.
  std::size_t max_key_bytes = 4096;
  std::size_t max_value_bytes = 16 << 20;
};

// InvalidArgument, naming the limit, for an empty or oversized key, an
// oversized value, or a scan range with an oversized bound or with a
// non-empty end <= start (an empty end means "to the last key"); OK
// otherwise.
absl::Status ValidateKey(std::string_view key, const Limits& limits);
absl::Status ValidateValue(std::string_view value, const Limits& limits);
absl::Status ValidateRange(std::string_view start, std::string_view end,
                           const Limits& limits);

// The range that holds exactly `key`: [key, SingleKeyEnd(key)).
std::string SingleKeyEnd(std::string_view key);

struct Options {
  // Limits on input; larger keys or values get InvalidArgument.
  Limits limits;
  // Commits in flight at once: the commit pipeline's ring (rounded up to a
  // power of two), in [1, 2^24].
  std::size_t commit_ring_size = 1024;
  // How long a committer waits for room in a full pipeline before giving up
  // with ResourceExhausted.
  absl::Duration commit_queue_timeout = absl::Seconds(10);
  // Persistence. Not owned; must outlive the Database. nullptr = memory only.
  Durability* durability = nullptr;
  // Commit pipeline layout. false (default): one thread runs install,
  // persist and complete for each ring batch in order (one hand-off per
  // commit; the batch is persisted once, so commits still group; without
  // durability a commit, blocking or async, that finds the ring idle is
  // installed and completed on its own thread, taking the writer role).
  // true: each stage has its own thread, so the next batch installs while
  // this one persists, at the price of two more hand-offs per commit: worth
  // it only with cores to spare.
  bool staged_pipeline = false;

  // Limits on what stalled or forgotten transactions may hold. Past either,
  // the oldest offending transaction's snapshot is released: its next read
  // or its commit fails with snapshot too old (OutOfRange, see
  // IsSnapshotTooOld), and the versions only it needed are pruned. Nobody
  // else sees an error.
  //   max_snapshot_age: a snapshot older than this is released.
  //   max_retained_bytes: when the bytes of versions kept only for
  //     old snapshots (Stats::retained_bytes) exceed this, the oldest
  //     snapshots are released until they fit. 0 = no budget.
  absl::Duration max_snapshot_age = absl::InfiniteDuration();
  uint64_t max_retained_bytes = 0;
  // How often the pipeline's writer checks those limits and prunes a slice
  // of the chains no commit has touched (the background pass), even when no
  // commits arrive. InfiniteDuration() disables the tick (limits are then
  // checked only when commits arrive).
  absl::Duration maintenance_interval = absl::Milliseconds(100);

  // Watches (see class Watch). The change buffer every watch reads: the
  // key changes of the newest commits, fed by the commit pipeline after
  // each commit is visible, oldest dropped first. Its bytes are allocated
  // at Open but only touched as commits fill it, so its resident size is
  // min(bytes committed so far, watch_buffer_bytes). How far back a watch
  // may start and how far a watcher may fall behind before it is cancelled
  // both come from this size. A commit takes 32 bytes plus, per key
  // written, 16 bytes and the key and the value each rounded up to 8: the
  // default 64 MiB holds the last ~400,000 commits of one 16-byte key and
  // a 100-byte value. 0 disables watches (Watch() is FailedPrecondition,
  // commits skip the buffer); otherwise at least 4096.
  std::size_t watch_buffer_bytes = std::size_t{64} << 20;
  // Watches open at once; one more is ResourceExhausted. >= 1.
  std::size_t max_watches = 10000;
};

// One key-value pair returned by Scan.
struct KeyValue {
  std::string key;
  std::string value;
  uint64_t commit_ts = 0;  // commit timestamp of the version read
};

// Bounds on one page of a scan (Txn::Scan with ScanLimits).
struct ScanLimits {
  std::size_t max_pairs = 0;  // 0 = no limit
  // Once the page holds at least one pair, stop before it exceeds this many
  // bytes of keys and values: 0 = no limit. A page always holds one pair
  // when the range has one, however large.
  std::size_t max_bytes = 0;
};

// One page of a scan.
struct ScanPage {
  std::vector<KeyValue> kvs;
  // True when the range holds more live pairs after the last one returned;
  // resume_key is then the first of them (the start of the next page).
  bool more = false;
  std::string resume_key;
};

// A value and the commit timestamp of the version it came from.
struct ReadResult {
  std::string value;
  uint64_t commit_ts = 0;
};

// The engine's accounting; every field is cheap to read.
struct Stats {
  uint64_t live_keys = 0;       // keys whose newest version is not a tombstone
  uint64_t index_keys = 0;      // records in the indexes (live + tombstoned)
  uint64_t versions = 0;        // versions in all chains (incl. tombstones)
  uint64_t version_bytes = 0;   // bytes held by those versions
  uint64_t visible_ts = 0;      // newest visible commit timestamp
  uint64_t commits = 0;         // committed write transactions
  uint64_t aborts_write_conflict = 0;
  uint64_t aborts_read_conflict = 0;   // serializable validation
  uint64_t aborts_snapshot_too_old = 0;
  uint64_t active_snapshots = 0;
  // Account 1, reclaim backlog (stalled threads): objects and bytes retired
  // to reclaim/ and not yet freed because some thread's guard may see them.
  // Process-wide: the default reclaim domain is shared by all databases.
  uint64_t reclaim_unreclaimed_objects = 0;
  uint64_t reclaim_unreclaimed_bytes = 0;
  // Account 2, version retention (stalled transactions): versions and bytes
  // kept only because some snapshot older than the newest may read them
  // (every version but the newest of each chain), and who holds them.
  uint64_t retained_versions = 0;
  uint64_t retained_bytes = 0;
  uint64_t oldest_snapshot_ts = 0;        // 0 when no snapshot is open
  uint64_t oldest_snapshot_txn_id = 0;   // Txn::id() of its transaction
  absl::Duration oldest_snapshot_age = absl::ZeroDuration();
  // Commit pipeline.
  uint64_t pipeline_batches = 0;      // group commits
  uint64_t pipeline_occupancy = 0;    // requests in the ring now
  // Watches.
  uint64_t watches = 0;                // open now
  uint64_t watch_buffered_bytes = 0;   // change-buffer bytes holding commits
  uint64_t watch_oldest_ts = 0;        // oldest start_ts a watch may use
  uint64_t watch_events = 0;           // commit events returned, ever
  uint64_t watch_slow_cancellations = 0;  // watches that fell behind, ever
};

class Database;
class Replica;  // mvcc/replica.h
class Txn;

// The completion of an asynchronous commit (Txn::CommitAsync,
// Database::PutAsync/DeleteAsync). Called exactly once with the status the
// blocking form would have returned:
//   * inline, on the caller's thread, before the async call returns, when
//     the commit ends without entering the pipeline: invalid input, a
//     finished transaction, a released snapshot, a read-only transaction
//     (OK), a full pipeline (ResourceExhausted: the async forms never wait
//     for room), shutdown or stopped commits (Unavailable);
//   * otherwise on the pipeline's completion thread, in commit-timestamp
//     order, after the commit is durable and visible: a Get or Begin started
//     inside the callback sees it. In memory, with the default layout, a
//     commit that finds the pipeline idle is committed and called back on
//     the caller's thread before the async call returns, with the same
//     guarantees (commit order, after it is visible): so a caller must not
//     hold, across the async call, a lock its callback takes.
// On the completion thread (or inline after a commit) the callback delays
// every commit behind it: it must be short and must not block. It may read
// the database, begin and use transactions, and call the async commit forms
// (a full pipeline then fails inline, it never waits), but it must not call
// a blocking commit (Txn::Commit, Put, Delete, Transact, Sweep): that waits
// for the writer role it runs under and never returns. A callback still pending when the Database is
// destroyed runs during the destructor's drain (with its commit's real
// outcome, or Unavailable if the pipeline stopped before reaching it).
using CommitCallback = absl::AnyInvocable<void(absl::Status) &&>;

namespace mvcc_internal {
struct Record;
struct Version;
struct TxnState;
class Engine;
class WatchCore;
// Allocates a typed version for a TVar (see TVar<T>).
Version* NewTypedVersion(std::size_t size, std::size_t align,
                         void (*destroy)(void*), void** payload);
}  // namespace mvcc_internal

// True if `status` is the snapshot-too-old error (OutOfRange, message
// starting "snapshot too old"; common::IsSnapshotTooOld).
inline bool IsSnapshotTooOld(const absl::Status& status) {
  return common::IsSnapshotTooOld(status);
}

// A typed transactional variable: a value of type T with its own version
// chain, read and written inside the same transactions, at the same
// timestamps and under the same isolation rules as keys. A transaction that
// writes TVars and keys commits all of them atomically or none.
//
// T must be copy-constructible. Values are immutable once committed: Set()
// stores a new value, it never mutates a committed one in place, so readers
// never see a half-written T.
template <class T>
class TVar final {
 public:
  TVar() = default;  // an empty handle; every use is InvalidArgument

  bool valid() const { return record_ != nullptr; }

 private:
  friend class Database;
  friend class Txn;
  explicit TVar(std::shared_ptr<mvcc_internal::Record> record)
      : record_(std::move(record)) {}
  std::shared_ptr<mvcc_internal::Record> record_;
};

// A transaction. Obtained from Database::Begin(); ends with Commit() or
// Rollback() (the destructor rolls back an open transaction).
class Txn final {
 public:
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // Reads `key`: this transaction's own write if any, else the newest version
  // at the snapshot (kReadCommitted: the newest committed now).
  // NotFound if absent or deleted; InvalidArgument for a bad key;
  // FailedPrecondition after Commit/Rollback; OutOfRange (snapshot too old).
  absl::StatusOr<std::string> Get(std::string_view key);
  // Get() with the commit timestamp of the version read (0 for this
  // transaction's own write). Same codes; under kSerializable the key is
  // validated at commit exactly as for Get().
  absl::StatusOr<ReadResult> GetWithTimestamp(std::string_view key);

  // GetWithTimestamp() for each of `keys`, read as one batch whose cache
  // misses overlap (see Database::MultiGet); element i is keys[i]'s result:
  // its value, NotFound or InvalidArgument. The whole call fails, reading
  // nothing, with FailedPrecondition after Commit/Rollback, and with
  // OutOfRange when the snapshot was released. Under kSerializable every
  // key read is validated at commit as for Get().
  absl::StatusOr<std::vector<absl::StatusOr<ReadResult>>> MultiGet(
      absl::Span<const std::string_view> keys);

  // Buffers a write, visible to this transaction's reads at once and to
  // others after Commit(). InvalidArgument for a bad key or value (nothing is
  // buffered); FailedPrecondition after Commit/Rollback.
  absl::Status Put(std::string_view key, std::string_view value);

  // Buffers a delete. Deleting a missing key is not an error.
  absl::Status Delete(std::string_view key);

  // Returns up to `limit` pairs (0 = no limit) with start <= key < end in key
  // order, merged with this transaction's own writes. An empty `end` means
  // "to the last key". InvalidArgument if end is set and end <= start.
  // Under kSerializable the range [start, end) (up to the last key returned,
  // when the limit cut it short) is validated at commit, phantoms included.
  absl::StatusOr<std::vector<KeyValue>> Scan(std::string_view start,
                                             std::string_view end,
                                             std::size_t limit = 0);
  // Scan() one page at a time: at most `limits` (see ScanLimits), with
  // whether the range goes on and where. Continue with start = resume_key.
  // Under kSerializable only the range up to the page's last pair is
  // validated when the page was cut short (up to `end` otherwise). Same
  // codes as Scan().
  absl::StatusOr<ScanPage> Scan(std::string_view start, std::string_view end,
                                const ScanLimits& limits);

  // Reads a TVar (own write first). InvalidArgument for an empty handle.
  template <class T>
  absl::StatusOr<T> Read(const TVar<T>& var);

  // Buffers a new value for a TVar.
  template <class T>
  absl::Status Write(const TVar<T>& var, T value);

  // Validates and commits. Returns OK once the commit is visible to new
  // reads and durable in the configured mode. Aborted on a conflict (the
  // message names the key); OutOfRange if the snapshot was released;
  // ResourceExhausted if the pipeline stayed full; Unavailable on shutdown;
  // FailedPrecondition if already finished. On any error nothing of this
  // transaction is visible. A transaction with no writes commits without
  // entering the pipeline.
  absl::Status Commit();

  // Commit() without waiting: validates and hands the transaction to the
  // commit pipeline, then returns; `done` gets what Commit() would have
  // returned (see CommitCallback for where and when it runs). When `done`
  // runs the transaction is finished: committed (commit_ts() is set) if the
  // status is OK, rolled back otherwise, and its snapshot is released.
  //
  // Ownership: the pipeline keeps what it needs (the buffered writes, the
  // read set) alive by itself, so this Txn may be destroyed at any time
  // after the call, even before `done` runs, and `done` may own it (e.g.
  // capture the std::unique_ptr<Txn> to read commit_ts() inside). CommitAsync
  // does not touch this Txn after handing it over.
  // Between the call and `done`, every other method returns
  // FailedPrecondition ("commit in progress"), changes nothing, and is safe
  // to call from the owning thread; Commit()/CommitAsync() included.
  void CommitAsync(CommitCallback done);

  // Discards the buffered writes and releases the snapshot. Idempotent on an
  // open transaction; FailedPrecondition after Commit() or while a
  // CommitAsync is in progress.
  absl::Status Rollback();

  // The snapshot timestamp (0 for kReadCommitted, which has none).
  uint64_t snapshot_ts() const;
  // The commit timestamp; 0 until a successful Commit() with writes (or a
  // CommitAsync whose `done` got OK).
  uint64_t commit_ts() const;
  uint64_t id() const;
  IsolationLevel isolation() const;

 private:
  friend class Database;
  explicit Txn(std::shared_ptr<mvcc_internal::TxnState> state);

  // Calls copy(payload, out) on the version this transaction sees, while it
  // is protected from reclamation.
  absl::Status ReadTyped(const std::shared_ptr<mvcc_internal::Record>& record,
                         void (*copy)(const void* payload, void* out),
                         void* out);
  absl::Status WriteTyped(const std::shared_ptr<mvcc_internal::Record>& record,
                          mvcc_internal::Version* version);

  // Shared with an async commit in flight (see CommitAsync).
  std::shared_ptr<mvcc_internal::TxnState> state_;
};

// ---- Watches. ----

// The keys a watch follows. Build one with the factories; a range is
// [start, end) in byte order, an empty end meaning "to the last key".
struct WatchRange {
  enum class Kind { kKey, kInterval, kPrefix };
  Kind kind = Kind::kInterval;
  std::string start;
  std::string end;

  // Exactly `key` (which must not be empty).
  static WatchRange Key(std::string_view key);
  // [start, end); an empty end = to the last key, so Interval("", "") is
  // every key.
  static WatchRange Interval(std::string_view start, std::string_view end);
  // Every key that starts with `prefix`; "" = every key.
  static WatchRange Prefix(std::string_view prefix);

  bool Contains(std::string_view key) const {
    return key >= start && (end.empty() || key < end);
  }
};

// Database::Watch's start_ts for "from the next commit on".
inline constexpr uint64_t kWatchFromNow = 0;

struct WatchOptions {
  // false: key-only events (every value empty). A key-only watch copies no
  // value bytes, and a commit too large for the change buffer with its
  // values still reaches it (see Watch::Next).
  bool values = true;
  // A progress event (WatchEvent::kProgress) whenever this long has passed
  // without an event from this watch; InfiniteDuration() = only on
  // RequestProgress(). At least 1 ms when set.
  absl::Duration progress_interval = absl::InfiniteDuration();
  // The watch's id, for Watch::id() and every message about the watch.
  // 0 = the engine numbers it. A server passes the id its client holds.
  uint64_t id = 0;
};

// One key's change in a commit.
struct WatchChange {
  std::string key;
  std::string value;     // the new value; empty for a delete or key-only
  bool deleted = false;  // a Delete (also of a key that did not exist)
};

struct WatchEvent {
  enum class Type {
    // One commit: all of its changes to the watched range, in key order.
    kCommit,
    // No changes: every change in the range committed at or before
    // commit_ts has been returned; every later event has a greater one.
    kProgress,
  };
  Type type = Type::kCommit;
  uint64_t commit_ts = 0;
  std::vector<WatchChange> changes;  // kCommit: at least one
  // kCommit: this database's clock when the commit entered its change
  // buffer (the pipeline's completion step, once the commit was visible;
  // on a follower, when it applied it), like Kafka's LogAppendTime: how
  // old the event is (Now() - commit_time, on a synced clock).
  // kProgress: absl::InfinitePast().
  absl::Time commit_time = absl::InfinitePast();
};

// The commit timestamp a terminal watch error names, from its payload:
//   OutOfRange "compacted" (Database::Watch or Watch::Next): the oldest
//     start_ts still available; the changes before it are gone, so a
//     client re-reads the range (e.g. a Scan in a Txn at snapshot S) and
//     watches again from S + 1 (always available: see Database::Watch).
//   ResourceExhausted (Watch::Next, the watch fell behind): the start_ts
//     to resume from: everything before it was returned.
// nullopt for any other status.
std::optional<uint64_t> WatchRestartTs(const absl::Status& status);

// One watch: a range and a cursor into the database's change buffer.
// Obtained from Database::Watch; the consumer pulls events with Next() (or
// asks to be called when Next() has something, NotifyWhenReady()).
//
// Events: one kCommit event per commit that changed a key in the range
// (Put or Delete; TVars are not watched), in commit-timestamp order, each
// exactly once, with all of that commit's changes to the range; they are
// visible (a read started after Next returned sees the commit). Progress
// events (kProgress) say how far the watch is current when it has nothing
// else to say: on RequestProgress() and every
// WatchOptions::progress_interval. To resume after the watch ends, watch
// again from (last commit_ts returned) + 1, or WatchRestartTs() of the
// ResourceExhausted error.
//
// Memory: the watch holds a cursor, its range and a key-sized scratch
// buffer, nothing else, however far behind it is; the change buffer is
// shared and fixed in size. When the
// newest commits overwrite the oldest unread one, the watch ends with
// ResourceExhausted (Stats::watch_slow_cancellations counts it when Next
// finds out). Writers never wait for a watch and never copy anything for
// one: a commit is appended once for all watches, and waking blocked
// watchers costs the committing thread one load when none is blocked, and
// at most two futex wakes (of a lone blocked consumer and of the watch
// notifier) when some are, however many.
//
// Thread safety: Next(), NextInto(), NotifyWhenReady(), WaitAny() and the
// destructor are called by one thread at a time (the consumer; it may
// change). Cancel(), RequestProgress() and the accessors may be called from
// any thread at any time. A Watch may outlive its Database: Next() then
// returns what was buffered, then Unavailable.
class Watch final {
 public:
  // Ends the watch and frees it; an armed NotifyWhenReady callback is
  // dropped without running. REQUIRES: not concurrent with Next.
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // The next event, waiting for one until `deadline`
  // (absl::InfinitePast() = never wait). Errors:
  //   DeadlineExceeded   nothing before the deadline; the watch goes on.
  //   FailedPrecondition a NotifyWhenReady callback is armed; goes on.
  // and, once returned, every later call returns the same terminal error:
  //   ResourceExhausted  the watch fell behind the change buffer; the
  //                      message and WatchRestartTs() name the start_ts to
  //                      resume from.
  //   OutOfRange         "compacted": a commit in the range was too large
  //                      for the change buffer with its values (a watch
  //                      with values), or any commit was too large even
  //                      without them (its keys are unknown), so it was
  //                      never buffered; WatchRestartTs() is that commit's
  //                      timestamp + 1.
  //   Cancelled          Cancel() was called.
  //   Unavailable        the database closed and every commit buffered
  //                      before it was returned.
  // Progress: blocking only while there is nothing to return; otherwise
  // it decodes at most every commit buffered after the cursor (skipping
  // those outside the range) and never waits for a writer.
  absl::StatusOr<WatchEvent> Next(absl::Time deadline = absl::InfiniteFuture());
  // As Next, with the event written over *event (every field), whose
  // changes' strings are reused: a consumer that passes the same WatchEvent
  // each time allocates nothing per event once they are large enough. OK
  // with the event; any other status is Next's error, and *event is then
  // unspecified.
  absl::Status NextInto(WatchEvent* event,
                        absl::Time deadline = absl::InfiniteFuture());

  // Calls `ready` once, on the database's watch notifier thread (never a
  // commit thread), as soon as Next() would return without waiting: an
  // event, a progress event or a terminal error is there. Until it runs,
  // Next() is FailedPrecondition. `ready` must be short (a hand-off: it
  // delays every other watch's callback); it may destroy this Watch.
  // After the database closed it runs inline. FailedPrecondition (and
  // `ready` is dropped) if a callback is armed already.
  absl::Status NotifyWhenReady(absl::AnyInvocable<void() &&> ready);

  // One thread serving many watches: waits until at least one of `watches`
  // has something for Next() (an event, a progress event or a terminal
  // error: Next(absl::InfinitePast()) then returns it without waiting), or
  // until `deadline` (absl::InfinitePast() = only look). OK with the
  // indexes into `watches` of those that have, ascending, in *ready;
  // DeadlineExceeded with *ready empty if none had by the deadline.
  // While this thread is the only one blocked on the database's watches
  // (in Next or WaitAny), the committing thread wakes it itself, with no
  // notifier hand-off between: a commit reaches a thread serving 100
  // watches as quickly as one blocked in a lone Next.
  // Errors (nothing waited for): InvalidArgument for no watches or watches
  // of different databases; FailedPrecondition if one has a
  // NotifyWhenReady callback armed.
  // REQUIRES: the caller is the consumer of every watch in `watches` (see
  // the thread-safety note), each listed once.
  static absl::Status WaitAny(absl::Span<Watch* const> watches,
                              absl::Time deadline,
                              std::vector<std::size_t>* ready);

  // Asks for a progress event: the next Next() that finds nothing else to
  // return (at once, if the watch is current) returns kProgress.
  void RequestProgress();
  // Ends the watch: Next() returns Cancelled from now on (a blocked Next
  // wakes), an armed callback runs. Idempotent.
  void Cancel();

  uint64_t id() const;
  const WatchRange& range() const;
  // The first commit timestamp the watch may return (start_ts, or the
  // next commit's for kWatchFromNow).
  uint64_t start_ts() const;

 private:
  friend class Database;
  explicit Watch(std::unique_ptr<mvcc_internal::WatchCore> core);
  std::unique_ptr<mvcc_internal::WatchCore> core_;
};

class Database final {
 public:
  // Opens an empty in-memory database (or, with options.durability set,
  // loads the durable state first). InvalidArgument for bad options; any
  // error from the durability layer's Load is returned as is.
  static absl::StatusOr<std::unique_ptr<Database>> Open(
      const Options& options = Options());

  // Drains the commit pipeline (every acknowledged commit stays committed),
  // running the callbacks of async commits still in flight, and frees
  // everything. REQUIRES: no Txn of this database is alive and no call is in
  // progress (a CommitCallback still pending is fine: it runs here). Watches
  // may stay open, even blocked in Watch::Next: they return what was
  // buffered, then Unavailable; armed NotifyWhenReady callbacks run here.
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Autocommit single-key operations; each is its own transaction.
  // Get reads the newest committed version (never blocks): NotFound if
  // absent, InvalidArgument for a bad key.
  absl::StatusOr<std::string> Get(std::string_view key);
  absl::StatusOr<ReadResult> GetWithTimestamp(std::string_view key);
  // Get for hot loops: true with the value assigned to *value (reusing its
  // buffer) if `key` is present, false if absent (a miss builds no Status
  // message and allocates nothing); InvalidArgument for a bad key.
  absl::StatusOr<bool> GetIfPresent(std::string_view key, std::string* value);
  // GetWithTimestamp() for a batch of keys, faster than one call per key:
  // the engine prefetches the group's index slots, then its records, then
  // its versions, before reading any of them, so a batch pays its cache
  // misses in parallel rather than one after another (groups of 16 keys
  // share one reclaim guard). Element i of the result is keys[i]'s: value
  // and commit timestamp, NotFound, or InvalidArgument for a bad key (the
  // other keys are read all the same). Each key is read as Get reads it,
  // linearizably at some moment during the call; the batch is not one
  // snapshot (Txn::MultiGet is). Keys may repeat. Never blocks.
  std::vector<absl::StatusOr<ReadResult>> MultiGet(
      absl::Span<const std::string_view> keys);
  // Put/Delete return once committed (see Txn::Commit for the errors;
  // single-key autocommit writes never conflict).
  absl::Status Put(std::string_view key, std::string_view value);
  absl::Status Delete(std::string_view key);
  // Put/Delete without waiting: `done` gets what Put/Delete would have
  // returned (see CommitCallback for where and when it runs; InvalidArgument
  // for a bad key or value is inline). The key and value are copied: the
  // caller's buffers may go as soon as the call returns.
  void PutAsync(std::string_view key, std::string_view value,
                CommitCallback done);
  void DeleteAsync(std::string_view key, CommitCallback done);
  // A consistent scan at one snapshot (see Txn::Scan).
  absl::StatusOr<std::vector<KeyValue>> Scan(std::string_view start,
                                             std::string_view end,
                                             std::size_t limit = 0);

  // Starts a transaction at the current snapshot.
  std::unique_ptr<Txn> Begin(
      IsolationLevel isolation = IsolationLevel::kSnapshot);
  struct TxnOptions {
    IsolationLevel isolation = IsolationLevel::kSnapshot;
    // The transaction's id: Txn::id(), every message about it, and
    // Stats::oldest_snapshot_txn_id. 0 = the engine numbers it. A server
    // passes the id its client holds, so errors and stats name that id.
    uint64_t id = 0;
  };
  std::unique_ptr<Txn> Begin(const TxnOptions& options);

  struct TransactOptions {
    IsolationLevel isolation = IsolationLevel::kSnapshot;
    // When and how often to retry: common/retry.h (the one policy for the
    // engine, the server and the client library).
    common::RetryPolicy retry;
  };
  // Runs fn in a new transaction and commits it, retrying from scratch, as
  // a new transaction, on a conflict or snapshot too old (from fn or from
  // Commit; see common::IsRetryable) with jittered exponential back-off.
  // fn returning any other error rolls back and returns it. When
  // retry.max_attempts attempts fail, returns the last error ("gave up
  // after N attempts: ..."). InvalidArgument for a bad retry policy.
  absl::Status Transact(const std::function<absl::Status(Txn&)>& fn,
                        const TransactOptions& options);
  absl::Status Transact(const std::function<absl::Status(Txn&)>& fn) {
    return Transact(fn, TransactOptions());
  }

  // Prunes every version chain now (chains are otherwise pruned when a
  // commit touches them) and removes deleted keys that no snapshot can see
  // from the indexes. Runs in the commit pipeline's single writer; returns
  // when done. Unavailable on shutdown.
  absl::Status Sweep();

  // Writes a consistent copy of the durable state to `dir` (which must not
  // exist); Database::Open with durability pointed at it opens the copy.
  // FailedPrecondition for an in-memory database; otherwise the durability
  // layer's status (e.g. AlreadyExists for an existing dir).
  absl::Status Checkpoint(const std::string& dir);

  // Creates a TVar holding `initial`, visible at every snapshot.
  template <class T>
  TVar<T> NewTVar(T initial);

  // Starts a watch on `range` from `start_ts` (kWatchFromNow: from the next
  // commit on; otherwise a commit timestamp, inclusive). Any start_ts from
  // Stats::watch_oldest_ts to visible_ts + 1 works, so a client that read
  // the range at snapshot S can always watch from S + 1 right after.
  // Errors (nothing is created):
  //   InvalidArgument    empty or oversized key, a prefix or bound over the
  //                      key limit, end <= start, start_ts in the future
  //                      (after the newest visible commit + 1), a progress
  //                      interval under 1 ms.
  //   OutOfRange         "compacted": start_ts is older than the oldest
  //                      change still buffered; WatchRestartTs() names the
  //                      oldest start_ts available.
  //   ResourceExhausted  Options::max_watches watches are open.
  //   FailedPrecondition watches are disabled (watch_buffer_bytes = 0).
  //   Unavailable        the database is closing.
  absl::StatusOr<std::unique_ptr<mvkv::Watch>> Watch(
      const WatchRange& range, uint64_t start_ts = kWatchFromNow,
      const WatchOptions& options = WatchOptions());

  Stats GetStats() const;

  // The input limits of Options::limits (for validating requests before
  // they reach the engine, with ValidateKey etc.).
  const Limits& limits() const;

 private:
  friend class Replica;  // the replication entry points (mvcc/replica.h)
  explicit Database(std::unique_ptr<mvcc_internal::Engine> engine);
  std::shared_ptr<mvcc_internal::Record> NewTVarRecord(
      mvcc_internal::Version* initial);

  std::unique_ptr<mvcc_internal::Engine> engine_;
};

// ---- Implementation details of the templates below. ----

namespace mvcc_internal {
template <class T>
Version* MakeTypedVersion(T value) {
  void* payload = nullptr;
  Version* v = NewTypedVersion(
      sizeof(T), alignof(T),
      [](void* p) { static_cast<T*>(p)->~T(); }, &payload);
  new (payload) T(std::move(value));
  return v;
}
}  // namespace mvcc_internal

template <class T>
absl::StatusOr<T> Txn::Read(const TVar<T>& var) {
  if (!var.valid()) return absl::InvalidArgumentError("empty TVar handle");
  std::optional<T> out;
  absl::Status s = ReadTyped(
      var.record_,
      [](const void* payload, void* dst) {
        static_cast<std::optional<T>*>(dst)->emplace(
            *static_cast<const T*>(payload));
      },
      &out);
  if (!s.ok()) return s;
  return std::move(*out);
}

template <class T>
absl::Status Txn::Write(const TVar<T>& var, T value) {
  if (!var.valid()) return absl::InvalidArgumentError("empty TVar handle");
  return WriteTyped(var.record_,
                    mvcc_internal::MakeTypedVersion<T>(std::move(value)));
}

template <class T>
TVar<T> Database::NewTVar(T initial) {
  static_assert(std::is_copy_constructible_v<T>,
                "TVar<T> requires a copy-constructible T");
  return TVar<T>(
      NewTVarRecord(mvcc_internal::MakeTypedVersion<T>(std::move(initial))));
}

}  // namespace mvkv

#endif  // MVKV_MVCC_DB_H_
