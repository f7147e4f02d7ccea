// mvkv_server as a library: the mvkv.v1.KV service (server/kv_service.h)
// over a Database, plus the standard gRPC health check
// (grpc.health.v1.Health, for the server as a whole, service "", and for
// "mvkv.v1.KV"; any other name is NOT_FOUND) and server reflection, optional TLS, bearer-token
// authentication and Prometheus metrics, and mvkv.v1.Admin's fault injection
// (off unless allow_fault_injection; server/admin_service.h). Tests start it
// in-process; main.cc only parses flags.
//
// Lifecycle: Start() opens the database and serves. Shutdown() marks the
// server and "mvkv.v1.KV" NOT_SERVING (health watchers see it at once), stops accepting calls and lets calls in flight finish
// (up to a grace period, then cancels them). The destructor then drains the
// worker pool, rolls back every open transaction, and destroys the Database,
// which drains the commit pipeline: every acknowledged commit is committed
// (and durable in the chosen mode).
//
// Thread safety: Shutdown() and Wait() may be called from any thread.
#ifndef MVKV_SERVER_SERVER_H_
#define MVKV_SERVER_SERVER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/cluster_mode.h"
#include "server/kv_handler.h"
#include "server/pipeline_options.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace mvkv::replication {
class Node;
}  // namespace mvkv::replication

namespace mvkv::server {

class AdminService;
class ClusterService;
class Executor;
class KvService;
class Metrics;
class DatabaseHolder;

struct ServerOptions {
  // HOST:PORT to listen on. Port 0 picks a free port (see Server::port()).
  // Binds loopback by default: exposing the server is an explicit choice.
  std::string listen = "127.0.0.1:7070";
  // Persistence: empty data_dir = in memory. durability: "sync", "async" or
  // "none" (see storage/).
  std::string data_dir;
  std::string durability = "sync";
  // Create data_dir (or a database in an empty one) if missing; off = a
  // mistyped path is an error, not a new empty database.
  bool create_data_dir = false;
  // Input limits, for the engine and every request (--max_key_bytes,
  // --max_value_bytes): tighter than the embedded engine's defaults.
  Limits limits{.max_key_bytes = 1024, .max_value_bytes = 1 << 20};
  // Transaction limits and lifetimes (max_open_txns, max_txn_age,
  // txn_lease) and one-shot Txn limits.
  HandlerOptions handler;
  // Engine limits on what old snapshots may pin (mvkv::Options): past them
  // the oldest snapshot's transaction fails with snapshot too old
  // (OUT_OF_RANGE on the wire). 0 / InfiniteDuration() = off.
  uint64_t max_retained_bytes = 0;
  absl::Duration max_snapshot_age = absl::InfiniteDuration();
  // Largest request gRPC accepts (RESOURCE_EXHAUSTED beyond it).
  int max_request_bytes = 4 << 20;
  // Worker threads for scans and transaction work (never waiting for a
  // commit) and their queue bound.
  int worker_threads = 8;
  // Commits in flight at once (the engine's pipeline ring, rounded up to a
  // power of two; mvkv::Options::commit_ring_size). A commit that finds it
  // full fails with RESOURCE_EXHAUSTED. In [1, 2^24].
  std::size_t commit_ring_size = 1024;
  std::size_t max_queued_requests = 4096;
  // Watches (rpc Watch): the change buffer's bytes, which bound how far
  // back a watch may start and how far a watcher may fall behind before it
  // is ended with RESOURCE_EXHAUSTED (mvkv::Options::watch_buffer_bytes; 0
  // = watches off, else >= 4096), and the watches open at once.
  std::size_t watch_buffer_bytes = std::size_t{64} << 20;
  std::size_t max_watches = 10000;
  // TLS: PEM files of the server certificate chain and its private key. Both
  // empty = plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Bearer token every KV call must carry ("authorization: Bearer <token>").
  // Empty = no authentication. Health and reflection never need it.
  std::string auth_token;
  // HOST:PORT for Prometheus' /metrics over HTTP; empty = off.
  std::string metrics_listen;
  // Log every RPC (JSON lines on stderr); errors on the server side are
  // always logged.
  bool log_requests = false;
  // Bounds of each Pipeline stream (--pipeline_window, ...). Operations per
  // Batch and per Pipeline message: handler.max_batch_ops.
  PipelineOptions pipeline;
  // mvkv.v1.Admin's faults (server/admin_service.h) for load tests; off =
  // they answer PERMISSION_DENIED. Never on a production server.
  bool allow_fault_injection = false;
  // Cluster mode (server/cluster_mode.h): cluster.node_id != 0 makes this
  // server a member of a Raft group; data_dir then holds its Raft state
  // (create_data_dir creates it) and durability does not apply (the quorum
  // is the durability).
  ClusterOptions cluster;
};

class Server final {
 public:
  // Opens the database and starts serving.
  // InvalidArgument for a malformed `listen`, bad durability or unreadable
  // TLS files, or bad cluster options (ToNodeOptions; nothing written);
  // Unavailable when an address cannot be bound; errors of opening the data
  // directory as they are (a cluster node's directory of another cluster or
  // node: FailedPrecondition, nothing written).
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options);

  // Shutdown(), Wait(), then tears down in order (see the file comment).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound ports (useful with port 0); metrics_port() is 0 when off.
  int port() const { return port_; }
  int metrics_port() const;

  // The Raft node of a cluster member (for mvkv.v1.Cluster); null for a
  // single server. Valid until the Server is destroyed.
  replication::Node* node() const;

  // Marks the server NOT_SERVING, stops accepting calls and waits up to
  // `grace` for calls in flight (and at least 200 ms, bounded by `grace`,
  // so health watchers read NOT_SERVING), then cancels the rest.
  // Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  // Blocks until Shutdown() has completed.
  void Wait();

 private:
  Server();

  std::unique_ptr<DatabaseHolder> db_;
  std::unique_ptr<KvHandler> handler_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<KvService> service_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<ClusterService> cluster_;  // cluster mode only
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::once_flag shutdown_once_;
};

}  // namespace mvkv::server

#endif  // MVKV_SERVER_SERVER_H_
