// The mvkv client library: a synchronous C++ API for mvkv_server. It speaks
// its own types (no generated protobuf type appears here); proto/kv.proto is
// the wire contract behind it, and every status code below is the server's,
// mapped one to one from grpc::Status to absl::Status.
//
//   mvkv::client::ClientOptions options;
//   options.server = "127.0.0.1:7070";
//   auto client = mvkv::client::Client::Connect(options).value();
//   client->Put("alice", "100");
//   absl::Status s = client->Transact([](mvkv::client::Txn& txn) {
//     auto a = txn.Get("alice");
//     if (!a.ok()) return a.status();
//     return txn.Put("bob", a->value);
//   });
//
// Transactions come in three forms, as on the wire:
//   * Txn (Client::Begin, Client::Transact): interactive, on a Session
//     stream; it lives as long as the object (or the connection);
//   * TxnHandle (Client::BeginHandle): interactive through unary calls,
//     kept alive by a lease the server renews on every call (KeepAlive);
//   * CompareAndCommit: one request of compares, then the operations of the
//     branch they chose, in one serializable transaction the server retries.
//
// Many autocommit operations per round trip come in two forms, as on the
// wire: Client::Batch (many in one request) and Pipeline (Client::
// OpenPipeline: a stream on which operations are started without waiting
// and answered as each completes). Get, Put and Batch also have
// asynchronous forms (GetAsync, ...) that return at once and call back.
//
// Every unary call carries a deadline (ClientOptions::timeout); connection
// problems and a server that is shutting down are UNAVAILABLE, a passed
// deadline DEADLINE_EXCEEDED. A TxnHandle's calls go to the server that
// opened it; a Txn lives on one Session stream.
//
// Thread safety: Client is thread-safe (calls may run concurrently; they
// share one channel). A Txn or TxnHandle is used by one thread at a time; a
// Pipeline by any number of threads. Callbacks (the *Async calls', a
// Pipeline's) run on gRPC's threads: they must be short and must not block
// (no synchronous call of this library inside one).
#ifndef MVKV_CLIENT_CLIENT_H_
#define MVKV_CLIENT_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/retry.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace mvkv::client {

class Client;
struct Endpoint;  // client/router.h

struct ClientOptions {
  // HOST:PORT of mvkv_server, or of several (the members of a cluster),
  // comma separated. Calls go to one of them and follow a cluster's leader
  // by themselves (client/router.h: a refusal naming the leader in
  // `mvkv-leader` is sent there; an unreachable server is skipped; a read
  // is sent again after a broken connection, a write or commit is not since
  // it may have committed).
  std::string server = "127.0.0.1:7070";
  // Bearer token sent as "authorization: Bearer <token>"; empty = none.
  std::string token;
  // PEM file of the CA that signed the server's certificate; non-empty turns
  // TLS on. tls_server_name overrides the name checked against the
  // certificate (default: the host of `server`).
  std::string tls_ca_file;
  std::string tls_server_name;
  // Deadline of each unary call and of each Txn as a whole.
  absl::Duration timeout = absl::Seconds(10);
  absl::Duration txn_timeout = absl::Seconds(60);
  // Attempts per call (>= 1) across redirects and unreachable servers,
  // within `timeout` for the call as a whole; back-off 25 ms doubling to
  // 100 ms between attempts that did not follow a leader's address (64
  // attempts: about 6 s of waiting for a cluster to elect a leader).
  int max_attempts = 64;
};

// How a read outside a transaction is served (proto/kv.proto, Consistency):
// linearizable by a cluster's leader, or stale by any server at its applied
// state.
enum class Consistency { kLinearizable, kStale };

// The isolation levels of the engine (mvcc/db.h explains each).
enum class Isolation { kSnapshot, kSerializable, kReadCommitted };

// "snapshot", "serializable", "read_committed"; InvalidArgument otherwise.
absl::StatusOr<Isolation> ParseIsolation(std::string_view name);
const char* IsolationName(Isolation isolation);

struct KeyValue {
  std::string key;
  std::string value;
  uint64_t commit_ts = 0;  // 0 for a transaction's own uncommitted write
};

struct ScanResult {
  std::vector<KeyValue> kvs;
  uint64_t snapshot_ts = 0;
  // More pairs exist in the range than were returned (the limit, or the
  // server's response size cap for one-response scans, cut it short); the
  // next scan starts at resume_key.
  bool more = false;
  std::string resume_key;
};

struct DeleteResult {
  bool existed = false;
  uint64_t commit_ts = 0;  // 0 when nothing existed
};

// The server's statistics (proto/kv.proto, StatsResponse), by name, in the
// server's order: counters are numbers, a few are text (who holds the
// oldest snapshot, a replica's role, ...).
struct Stats {
  struct Entry {
    std::string name;
    std::variant<uint64_t, std::string> value;
  };
  std::vector<Entry> entries;

  // The named number; 0 if absent or text.
  uint64_t Number(std::string_view name) const;
  // The named text; empty if absent or a number.
  std::string Text(std::string_view name) const;
};

// One member of a replicated group, as the server that answered sees it
// (mvkv.v1.Cluster; proto/cluster.proto explains each field).
struct ClusterMember {
  uint64_t id = 0;
  std::string raft_address;
  std::string client_address;  // empty until the server knows it
  std::string membership;      // "voter", "standby" or "spare"
  std::string role;            // "leader", "follower", "candidate", ...
  // Known only when the answering server leads (progress_known).
  uint64_t match_index = 0;
  uint64_t lag = 0;
};

// A replicated server's report of itself and its group.
struct ClusterStatus {
  std::string cluster_id;
  uint64_t node_id = 0;  // the server that answered, and its Raft role
  std::string role;
  bool ready = false;  // it leads and accepts writes
  uint64_t term = 0;
  uint64_t leader_id = 0;  // 0: no leader known
  std::string leader_client_address;
  std::string leader_raft_address;
  absl::Time last_leader_change = absl::InfinitePast();  // never: InfinitePast
  uint64_t leader_changes = 0;
  uint64_t last_log_index = 0;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t snapshot_index = 0;
  uint64_t applied_ts = 0;
  uint64_t log_entries = 0;
  uint64_t log_bytes = 0;
  uint64_t applier_queue = 0;
  uint64_t snapshots_taken = 0;
  uint64_t snapshots_installed = 0;
  uint64_t snapshot_failures = 0;
  std::string failure;  // empty while the server replicates
  bool progress_known = false;  // members' match_index and lag are set
  std::vector<ClusterMember> members;
};

// One condition of a CompareAndCommit. Build with the factories.
struct Compare {
  enum class Target { kValue, kVersion, kExists };
  enum class Result { kEqual, kNotEqual, kLess, kGreater };
  std::string key;
  Target target = Target::kValue;
  Result result = Result::kEqual;
  std::string value;     // kValue's operand (bytewise order)
  uint64_t version = 0;  // kVersion's operand: the newest commit_ts, 0 = none
  bool exists = false;   // kExists's operand (kEqual / kNotEqual only)

  static Compare Value(std::string key, Result result, std::string value);
  static Compare Version(std::string key, Result result, uint64_t version);
  static Compare Exists(std::string key, bool exists);
};

// One operation of a CompareAndCommit branch.
struct Op {
  enum class Kind { kGet, kPut, kDelete, kScan };
  Kind kind = Kind::kGet;
  std::string key;    // kGet, kPut, kDelete; kScan's start
  std::string value;  // kPut
  std::string end;    // kScan (empty = to the last key)
  uint32_t limit = 0;  // kScan (0 = no limit)

  static Op Get(std::string key);
  static Op Put(std::string key, std::string value);
  static Op Delete(std::string key);
  static Op Scan(std::string start, std::string end, uint32_t limit = 0);
};

// The result of one Op, at the Op's index in its branch (or its batch).
struct OpResult {
  Op::Kind kind = Op::Kind::kGet;
  bool found = false;     // kGet: the key had a live version
  KeyValue kv;            // kGet, when found
  bool existed = false;   // kDelete
  ScanResult scan;        // kScan
  // kPut, kDelete: the commit timestamp (0 for a delete of a missing key).
  uint64_t commit_ts = 0;
};

// The outcome of one operation of a Batch or a Pipeline: the status the
// unary call would have returned (NOT_FOUND for a get of a missing key,
// INVALID_ARGUMENT for a bad key or a kScan, which neither allows, ...) and,
// when OK, its result.
struct OpOutcome {
  absl::Status status;
  OpResult result;
};

// Called once with an operation's outcome (see the thread-safety note).
using OpCallback = absl::AnyInvocable<void(OpOutcome) &&>;

struct PipelineOptions {
  // Operations packed into one stream message at most (the server refuses
  // more than its --max_batch_ops).
  int max_ops_per_message = 1024;
  // Whether OpenPipeline waits for the server to accept the stream and
  // follows a cluster's leader (see OpenPipeline) even when the client
  // knows one server only; a client that knows several always does.
  bool follow_leader = false;
};

// A Pipeline stream (proto/kv.proto, rpc Pipeline): autocommit Get, Put and
// Delete started without waiting; each is answered once, as it completes
// (a read at once, a write once visible and durable), so results come in
// completion order, not start order. Operations in flight together are
// concurrent, like unary calls sent at once: to order two, start the second
// from the first's callback (or after Wait). Operations started while the
// stream is writing are packed into one message. The stream has no
// deadline; a broken stream (server gone, cancelled) answers every
// outstanding and later operation with UNAVAILABLE, and status() tells why
// it ended. On a cluster, Client::OpenPipeline finds the leader itself when
// the client knows several servers or PipelineOptions::follow_leader is set
// (see there); the stream then stays on that node.
class Pipeline final {
 public:
  // Half-closes the stream once everything started is sent, waits for the
  // outstanding results (their callbacks run) and for the stream's end.
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Starts `op` (kGet, kPut or kDelete); `done` runs once with its outcome.
  // Never blocks: operations queue in the client while the server holds
  // the stream back (flow control). Returns the operation's id on the wire.
  uint64_t Start(const Op& op, OpCallback done);
  // Blocks until no operation is in flight (every one started so far has
  // its outcome and its callback has returned).
  void Wait();
  // Operations started and not yet answered.
  int in_flight() const;
  // OK while the stream is open; then how it ended (OK after a clean end).
  absl::Status status() const;

 private:
  friend class Client;
  class Reactor;
  explicit Pipeline(std::unique_ptr<Reactor> reactor);
  std::unique_ptr<Reactor> reactor_;
};

struct CompareAndCommitResult {
  bool succeeded = false;  // every compare held and `success` ran
  std::vector<OpResult> results;
  uint64_t commit_ts = 0;  // 0 if the branch wrote nothing
};

// An interactive transaction on one Session stream: lives as long as this
// object. Destroying it (or a lost connection) rolls it back on the server.
// Codes: those of SessionRequest in proto/kv.proto; a broken stream is
// UNAVAILABLE (or the stream's final status).
class Txn final {
 public:
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // NOT_FOUND for a missing key.
  absl::StatusOr<KeyValue> Get(const std::string& key);
  absl::Status Put(const std::string& key, const std::string& value);
  absl::Status Delete(const std::string& key);
  // One response: at most `limit` pairs (0 = no limit) and the server's
  // size cap; `more` and `resume_key` say whether and where to go on.
  absl::StatusOr<ScanResult> Scan(const std::string& start,
                                  const std::string& end, uint32_t limit = 0);
  // Returns the commit timestamp (0 if nothing was written). ABORTED on a
  // conflict. Ends the transaction either way.
  absl::StatusOr<uint64_t> Commit();
  absl::Status Rollback();

  // The txn_id the server names this transaction by (messages, Stats).
  uint64_t id() const { return id_; }
  uint64_t snapshot_ts() const { return snapshot_ts_; }

 private:
  friend class Client;
  struct Stream;
  explicit Txn(std::unique_ptr<Stream> stream);

  std::unique_ptr<Stream> stream_;
  uint64_t id_ = 0;
  uint64_t snapshot_ts_ = 0;
};

// A transaction handle: an interactive transaction through unary calls,
// rolled back by the server when no call arrives for lease() (every call,
// and KeepAlive, renews it). Dropping the object without Commit or
// Rollback leaves the handle to its lease. Codes: those of the handle RPCs
// in proto/kv.proto (NOT_FOUND for a handle the server forgot, ABORTED for
// one it rolled back, FAILED_PRECONDITION after Commit or Rollback).
class TxnHandle final {
 public:
  absl::StatusOr<KeyValue> Get(const std::string& key);
  absl::Status Put(const std::string& key, const std::string& value);
  absl::Status Delete(const std::string& key);
  absl::StatusOr<ScanResult> Scan(const std::string& start,
                                  const std::string& end, uint32_t limit = 0);
  absl::Status KeepAlive();
  absl::StatusOr<uint64_t> Commit();
  absl::Status Rollback();

  uint64_t id() const { return id_; }
  uint64_t snapshot_ts() const { return snapshot_ts_; }
  absl::Duration lease() const { return lease_; }

 private:
  friend class Client;
  TxnHandle(Client* client, Endpoint* endpoint, uint64_t id,
            uint64_t snapshot_ts, absl::Duration lease)
      : client_(client),
        endpoint_(endpoint),
        id_(id),
        snapshot_ts_(snapshot_ts),
        lease_(lease) {}

  Client* const client_;
  Endpoint* const endpoint_;  // the server holding the handle
  const uint64_t id_;
  const uint64_t snapshot_ts_;
  const absl::Duration lease_;
};

// ---- Watches (rpc Watch). ----

// What a watch follows. Build one with the factories.
struct WatchTarget {
  enum class Kind { kKey, kRange, kPrefix };
  Kind kind = Kind::kPrefix;
  std::string start;  // the key, the range's start, or the prefix
  std::string end;    // kRange: exclusive end, empty = to the last key
  static WatchTarget Key(std::string key);
  static WatchTarget Range(std::string start, std::string end);
  static WatchTarget Prefix(std::string prefix);
};

struct WatchOptions {
  // 0 = from the next commit on; otherwise the first commit timestamp to
  // return (the server keeps a bounded history: see Watcher::Next).
  uint64_t start_ts = 0;
  bool keys_only = false;  // events without values (cheaper)
  // A progress event when the watch was silent this long; infinite = none.
  absl::Duration progress_interval = absl::InfiniteDuration();
  // Resumes in a row without an event before Next gives up with the last
  // error.
  int max_resumes = 10;
  // Commits the server may pack into one response when several are ready
  // (fewer messages for a busy watch; the server caps it at 1024); 1 = one
  // per response. Next() still returns one commit at a time.
  uint32_t max_commits_per_response = 1024;
};

struct WatchChange {
  std::string key;
  std::string value;  // empty for a delete or a keys_only watch
  bool deleted = false;
};

struct WatchEvent {
  enum class Type { kCommit, kProgress };
  Type type = Type::kCommit;
  // kCommit: the commit's; kProgress: every commit <= it was returned.
  uint64_t commit_ts = 0;
  std::vector<WatchChange> changes;  // kCommit: all of the commit's, in range
  // kCommit: the server's clock when the commit entered its change buffer
  // (kv.proto, WatchCommit.commit_time_unix_ns): Now() - it is the event's
  // age on a synced clock. kProgress: absl::InfinitePast().
  absl::Time commit_time = absl::InfinitePast();
};

// One watch with automatic resume. Next() returns every commit touching
// the target, in commit order, each exactly once, however often the
// connection drops: when the stream or the watch ends for a reason a
// resume can fix (UNAVAILABLE: the server restarted or the connection
// dropped; RESOURCE_EXHAUSTED: the watcher fell behind the server's
// buffer), it reconnects and watches again from the last commit (or
// progress) timestamp returned + 1. A restarted server's buffer starts
// empty, so that works across a restart only for a watcher that was
// current: set progress_interval to stay current while the range is idle. What it cannot fix surfaces: OUT_OF_RANGE "compacted" (the commits
// after the last one returned are no longer buffered; restart_ts() names
// the oldest start_ts still available: re-read the range, then watch from
// that read's snapshot + 1), INVALID_ARGUMENT, UNAUTHENTICATED, CANCELLED
// (Cancel()), and the last error after max_resumes failed resumes.
//
// Thread safety: Next() from one thread at a time; Cancel() from any.
class Watcher final {
 public:
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // The next event, blocking until there is one (or an error).
  absl::StatusOr<WatchEvent> Next();
  // Ends the watch: a blocked Next() returns CANCELLED. Idempotent.
  void Cancel();
  // The start_ts a new watch would continue from: the last commit (or
  // progress) timestamp returned + 1.
  uint64_t next_ts() const { return next_ts_; }
  // After an OUT_OF_RANGE or RESOURCE_EXHAUSTED from Next: the server's
  // restart timestamp; 0 otherwise.
  uint64_t restart_ts() const { return restart_ts_; }

 private:
  friend class Client;
  struct Stream;
  Watcher(Client* client, WatchTarget target, WatchOptions options);
  // Opens a stream and creates the watch from next_ts_ (or start_ts).
  absl::Status Connect();
  // Reads one response of the current stream into pending_ (one or more
  // events); an error ends the stream, *resumable says whether Next may
  // reconnect.
  absl::Status ReadOne(bool* resumable);
  // Returns pending_'s first event and moves next_ts_ past it.
  WatchEvent TakePending();

  Client* const client_;
  const WatchTarget target_;
  const WatchOptions options_;
  std::mutex mu_;  // guards stream_'s replacement against Cancel
  std::unique_ptr<Stream> stream_;
  // Received, not yet returned by Next (the rest of a batch); Next returns
  // them before it reads or resumes, so next_ts_ is the resume point.
  std::deque<WatchEvent> pending_;
  uint64_t next_ts_ = 0;
  uint64_t restart_ts_ = 0;
  std::atomic<bool> cancelled_{false};  // relaxed: only a flag for Next
};

class Client final {
 public:
  // Creates the channels (no I/O yet: errors show on the first call).
  // InvalidArgument for an unreadable tls_ca_file, an empty server list or
  // max_attempts < 1.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const ClientOptions& options);
  ~Client();

  // Autocommit calls. NOT_FOUND for a missing key (Get).
  absl::StatusOr<KeyValue> Get(const std::string& key);
  // Get with a consistency; for kStale, *read_ts (if not null) is set to
  // the applied commit timestamp the server read at.
  absl::StatusOr<KeyValue> Get(const std::string& key, Consistency consistency,
                               uint64_t* read_ts = nullptr);
  // Returns the commit timestamp.
  absl::StatusOr<uint64_t> Put(const std::string& key,
                               const std::string& value);
  absl::StatusOr<DeleteResult> Delete(const std::string& key);
  // Collects the whole streamed scan (limit 0 = no limit).
  absl::StatusOr<ScanResult> Scan(const std::string& start,
                                  const std::string& end, uint32_t limit = 0,
                                  Consistency consistency =
                                      Consistency::kLinearizable);
  absl::StatusOr<CompareAndCommitResult> CompareAndCommit(
      const std::vector<Compare>& compares, const std::vector<Op>& success,
      const std::vector<Op>& failure = {});
  absl::StatusOr<Stats> GetStats();

  // Many autocommit operations (kGet, kPut, kDelete) in one request; the
  // i-th outcome answers ops[i]. The operations are concurrent (no order
  // among them, no atomicity). The call fails as a whole only with
  // INVALID_ARGUMENT past the server's --max_batch_ops, RESOURCE_EXHAUSTED
  // past its request size limit, or a connection error; per-operation
  // errors are in the outcomes.
  absl::StatusOr<std::vector<OpOutcome>> Batch(const std::vector<Op>& ops);
  // Opens a Pipeline stream. A client that knows one server (and without
  // options.follow_leader) opens it there and returns at once; a refusal
  // then ends the stream and every operation fails. A client that knows
  // several servers (named or learned), or with follow_leader, waits until
  // a server accepts the stream (on a cluster: once that node confirmed it
  // leads) and routes the opening like a read (client/router.h's rules:
  // mvkv-leader is followed, an unreachable server skipped, at most
  // max_attempts attempts within one timeout). No operation is sent before
  // the stream is accepted, so nothing is applied twice. If no server
  // accepts it in time, the Pipeline returned is already ended: status()
  // says why (the last refusal, UNAVAILABLE "cannot connect to ...", or
  // DEADLINE_EXCEEDED) and every operation gets UNAVAILABLE. An accepted
  // stream is not moved: if its node loses leadership, operations fail one
  // by one with UNAVAILABLE "not the leader" (nothing of them done) and
  // the caller opens a new Pipeline.
  std::unique_ptr<Pipeline> OpenPipeline(
      const PipelineOptions& options = PipelineOptions());

  // Asynchronous forms of Get, Put and Batch: return at once; `done` runs
  // once with what the synchronous form would have returned (on a gRPC
  // thread, see the thread-safety note). The arguments are copied.
  void GetAsync(const std::string& key,
                absl::AnyInvocable<void(absl::StatusOr<KeyValue>) &&> done);
  void PutAsync(const std::string& key, const std::string& value,
                absl::AnyInvocable<void(absl::StatusOr<uint64_t>) &&> done);
  void BatchAsync(
      const std::vector<Op>& ops,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<OpOutcome>>) &&>
          done);

  // OK if the server answers the standard health check for mvkv.v1.KV with
  // SERVING; UNAVAILABLE with the state otherwise.
  absl::Status Health();

  // mvkv.v1.Cluster: the group of a replicated server (UNIMPLEMENTED from a
  // server without replication). Status is the view of the first server
  // of options.server that can be reached.
  absl::StatusOr<ClusterStatus> GetClusterStatus();
  // Membership and leadership changes run on the leader: when a server
  // refuses one as a follower naming the leader (UNAVAILABLE with
  // `mvkv-leader` metadata), it is sent there; a server that cannot be
  // reached is skipped (client/router.h's rules, at most max_attempts
  // attempts within the timeout). A change that reached a server and failed
  // otherwise is not sent again. Codes: proto/cluster.proto.
  absl::Status AddMember(uint64_t id, const std::string& raft_address,
                         const std::string& client_address);
  absl::Status RemoveMember(uint64_t id);
  // Hands leadership to voter `id` (0: any); returns the new leader (its id
  // and client address).
  absl::StatusOr<ClusterMember> TransferLeadership(uint64_t id = 0);

  // Opens an interactive transaction (a Session stream plus Begin).
  absl::StatusOr<std::unique_ptr<Txn>> Begin(
      Isolation isolation = Isolation::kSnapshot);
  // Opens a transaction handle (BeginTxn).
  absl::StatusOr<std::unique_ptr<TxnHandle>> BeginHandle(
      Isolation isolation = Isolation::kSnapshot);

  struct TransactOptions {
    Isolation isolation = Isolation::kSnapshot;
    // When and how often to retry (common/retry.h, the policy the engine
    // and the server use); the defaults suit round trips over a network.
    common::RetryPolicy retry{.max_attempts = 10,
                              .initial_backoff = absl::Milliseconds(1),
                              .max_backoff = absl::Milliseconds(100)};
  };
  // Runs fn in a new interactive transaction and commits it; on a conflict
  // or snapshot too old (from fn or from Commit; common::IsRetryable) starts
  // over with a new transaction, with jittered back-off. Any other error
  // from fn rolls back and is returned. When retry.max_attempts attempts
  // fail, returns the last error ("gave up after N attempts: ...").
  // InvalidArgument for a bad retry policy.
  absl::Status Transact(const std::function<absl::Status(Txn&)>& fn,
                        const TransactOptions& options);
  absl::Status Transact(const std::function<absl::Status(Txn&)>& fn) {
    return Transact(fn, TransactOptions());
  }

  // Starts a watch (see Watcher). The first response is awaited, so a bad
  // target or start_ts fails here: INVALID_ARGUMENT, OUT_OF_RANGE
  // "compacted", RESOURCE_EXHAUSTED (too many watches), UNAUTHENTICATED.
  absl::StatusOr<std::unique_ptr<Watcher>> Watch(
      const WatchTarget& target, const WatchOptions& options = WatchOptions());

 private:
  friend struct Rpc;  // client_internal.h: the routed unary calls
  friend struct ClusterRpc;  // cluster.cc: mvkv.v1.Cluster's calls
  friend class Watcher;
  struct Stubs;
  Client(const ClientOptions& options, std::unique_ptr<Stubs> stubs);
  // The current server's channel (mvkv.v1.Cluster's calls, cluster.cc).
  std::shared_ptr<grpc::Channel> channel() const;
  // Gives `context` the token and a deadline `timeout` from now (none for
  // InfiniteDuration()).
  void PrepareContext(grpc::ClientContext* context,
                      absl::Duration timeout) const;

  const ClientOptions options_;
  std::unique_ptr<Stubs> stubs_;
};

}  // namespace mvkv::client

#endif  // MVKV_CLIENT_CLIENT_H_
