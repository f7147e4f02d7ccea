// mvkv_server: parses flags, starts the server (server/server.h), and shuts
// down gracefully on SIGINT or SIGTERM: stop accepting, drain calls in
// flight, roll back open transactions, drain the commit pipeline, exit 0.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "flags/usage.h"
#include "server/log.h"
#include "server/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070",
          "HOST:PORT to serve gRPC on. Loopback by default; use 0.0.0.0:PORT "
          "to accept remote clients. Port 0 picks a free port (logged).");
ABSL_FLAG(std::string, data_dir, "",
          "Data directory for persistence (RocksDB). Empty = in memory. "
          "Must exist and hold an mvkv database unless --create. One server "
          "per directory (locked: a second one fails and changes nothing).");
ABSL_FLAG(bool, create, false,
          "Create --data_dir (or a database in it when empty) if missing. "
          "Crash-safe: a creation that was killed is finished by the next "
          "--create (a start without it says the creation is incomplete).");
ABSL_FLAG(std::string, durability, "sync",
          "With --data_dir: sync (fsync per group commit), async (no fsync) "
          "or none (no writes).");
ABSL_FLAG(uint64_t, max_key_bytes, 1024, "Largest key accepted (>= 1).");
ABSL_FLAG(uint64_t, max_value_bytes, 1 << 20, "Largest value accepted.");
ABSL_FLAG(int64_t, max_request_bytes, 4 << 20,
          "Largest gRPC request accepted (RESOURCE_EXHAUSTED beyond).");
ABSL_FLAG(int32_t, max_open_txns, 1024,
          "Open transactions (sessions and handles) at most.");
ABSL_FLAG(absl::Duration, max_txn_age, absl::Minutes(10),
          "A transaction open longer than this is rolled back.");
ABSL_FLAG(absl::Duration, txn_lease, absl::Seconds(10),
          "A transaction handle with no call for this long is rolled back.");
ABSL_FLAG(int64_t, max_retained_bytes, 0,
          "Engine budget for version bytes kept only for old snapshots; past "
          "it the oldest snapshot's transaction gets snapshot too old "
          "(OUT_OF_RANGE). 0 = no budget.");
ABSL_FLAG(absl::Duration, max_snapshot_age, absl::InfiniteDuration(),
          "Engine limit: a snapshot older than this is released (its "
          "transaction gets OUT_OF_RANGE). inf = none; --max_txn_age rolls "
          "server transactions back before that.");
ABSL_FLAG(int32_t, worker_threads, 8,
          "Threads that run scans and transaction work (commits are handed to "
          "the engine's pipeline; no thread waits for one).");
ABSL_FLAG(uint64_t, commit_ring_size, 1024,
          "Commits in flight at once (rounded up to a power of two); a commit "
          "that finds them all taken gets RESOURCE_EXHAUSTED. 1 to 2^24.");
ABSL_FLAG(int32_t, max_batch_ops, 1024,
          "Operations per Batch request and per Pipeline message at most "
          "(INVALID_ARGUMENT beyond, nothing run).");
ABSL_FLAG(int32_t, pipeline_window, 4096,
          "Per Pipeline stream: operations in flight (running or results "
          "not yet sent) at which the server stops reading the stream until "
          "the client reads results (gRPC flow control holds it back).");
ABSL_FLAG(int64_t, pipeline_window_bytes, 16 << 20,
          "Per Pipeline stream: bytes of requests running and results not "
          "yet sent (a read counts as --max_key_bytes + --max_value_bytes "
          "until it is answered) at which the server stops reading the "
          "stream.");
ABSL_FLAG(absl::Duration, pipeline_stall_timeout, absl::Seconds(10),
          "A Pipeline stream whose results wait this long for the client to "
          "read them is cancelled (CANCELLED). inf = never.");
ABSL_FLAG(uint64_t, watch_buffer_bytes, uint64_t{64} << 20,
          "Bytes of the change buffer every watch reads (rpc Watch): how far "
          "back a watch may start (older: OUT_OF_RANGE compacted) and how far "
          "a watcher may fall behind before it is ended with "
          "RESOURCE_EXHAUSTED (resuming it is then usually OUT_OF_RANGE "
          "compacted). Fixed: server memory never depends on watcher speed. "
          "In memory only: a restarted server's buffer starts empty. "
          "0 = watches off; otherwise >= 4096.");
ABSL_FLAG(uint64_t, max_watches, 10000,
          "Watches open at once (all streams); one more is "
          "RESOURCE_EXHAUSTED. >= 1.");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT for Prometheus /metrics over HTTP, e.g. 127.0.0.1:9464. "
          "Empty = off.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain; enables TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, auth_token, "",
          "If set, every KV call needs metadata 'authorization: Bearer "
          "<token>' (UNAUTHENTICATED otherwise). Health checks need none.");
ABSL_FLAG(bool, log_requests, false, "Log every RPC as a JSON line.");
ABSL_FLAG(bool, allow_fault_injection, false,
          "For load tests only: let mvkv.v1.Admin (proto/admin.proto) inject "
          "faults, e.g. StallReclaim parks server threads inside a reclaim "
          "guard (bench/ycsb --stall=server-reclaim). Off: those calls get "
          "PERMISSION_DENIED. They need the --auth_token like KV calls.");
ABSL_FLAG(uint64_t, node_id, 0,
          "Cluster mode: this node's id (>= 1) in a Raft group of "
          "mvkv_servers. 0 = a single server. Needs --raft_listen and "
          "--peers or --join; --data_dir then holds the Raft log and "
          "snapshots (empty = in memory) and --durability does not apply.");
ABSL_FLAG(std::string, raft_listen, "",
          "Cluster mode: IPv4 a.b.c.d:port to serve Raft on (peers dial it).");
ABSL_FLAG(std::string, peers, "",
          "Cluster mode: the initial group, "
          "ID=RAFT_ADDR/CLIENT_ADDR,... e.g. "
          "1=10.0.0.1:7170/10.0.0.1:7070,2=10.0.0.2:7170/10.0.0.2:7070,"
          "3=10.0.0.3:7170/10.0.0.3:7070 (the same on every node; it must "
          "list --node_id at --raft_listen). Used on a first start only.");
ABSL_FLAG(bool, join, false,
          "Cluster mode: start with no group and wait to be added by the "
          "leader (mvkv cluster add). Exclusive with --peers.");
ABSL_FLAG(std::string, advertise, "",
          "Cluster mode: the client address given to clients for this node "
          "(mvkv-leader). Default: its --peers entry, else --listen.");
ABSL_FLAG(std::string, cluster_id, "mvkv",
          "Cluster mode: the group's name, recorded in --data_dir (a "
          "directory of another cluster is refused).");
ABSL_FLAG(absl::Duration, election_timeout, absl::Milliseconds(500),
          "Cluster mode: a follower that hears no leader for 1-2x this "
          "starts an election.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Milliseconds(50),
          "Cluster mode: the leader's heartbeat period.");
ABSL_FLAG(uint32_t, snapshot_threshold, 1024,
          "Cluster mode: take a snapshot (and compact the log) every this "
          "many log entries.");
ABSL_FLAG(uint64_t, max_log_bytes, uint64_t{64} << 20,
          "Cluster mode: also snapshot once this many bytes of log entries "
          "were applied since the last one (bounds the log a stalled "
          "follower makes the leader keep; it catches up by snapshot).");
ABSL_FLAG(absl::Duration, peer_send_timeout, absl::Seconds(5),
          "Cluster mode: close a peer connection whose sent bytes stay "
          "unacknowledged this long (a stopped or unreachable peer), "
          "releasing what was queued for it: what a stalled follower can "
          "make the leader hold is about this long of its write traffic. "
          "At least 1ms, below 30s (the snapshot install timeout).");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGINT/SIGTERM, how long calls in flight may take to finish.");

int main(int argc, char** argv) {
  mvkv::flags::SetUsage(
      "the mvkv key-value engine over gRPC (mvkv.v1.KV, "
      "grpc.health.v1, reflection).\n"
      "Usage: mvkv_server [--listen=HOST:PORT] [--data_dir=DIR] ...\n"
      "Cluster: mvkv_server --node_id=N --raft_listen=IP:PORT "
      "--peers=ID=RAFT/CLIENT,... (or --join) [--data_dir=DIR --create].\n"
      "Logs are JSON lines on stderr. SIGINT/SIGTERM: graceful stop, exit 0.\n"
      "Exit codes: 0 stopped by a signal; 2 bad flags or a data directory "
      "that is not this server's (another cluster or node): nothing "
      "written; 1 any other failure to start (address in use, I/O).");
  absl::ParseCommandLine(argc, argv);

  // Block the shutdown signals before any thread starts, then take them
  // synchronously on this thread: no async-signal-safety puzzles.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  using mvkv::server::Log;
  mvkv::server::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.durability = absl::GetFlag(FLAGS_durability);
  options.create_data_dir = absl::GetFlag(FLAGS_create);
  options.limits.max_key_bytes = absl::GetFlag(FLAGS_max_key_bytes);
  options.limits.max_value_bytes = absl::GetFlag(FLAGS_max_value_bytes);
  options.handler.txns.max_open_txns = absl::GetFlag(FLAGS_max_open_txns);
  options.handler.txns.max_txn_age = absl::GetFlag(FLAGS_max_txn_age);
  options.handler.txns.txn_lease = absl::GetFlag(FLAGS_txn_lease);
  options.max_request_bytes =
      static_cast<int>(absl::GetFlag(FLAGS_max_request_bytes));
  options.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  options.commit_ring_size = absl::GetFlag(FLAGS_commit_ring_size);
  options.handler.max_batch_ops = absl::GetFlag(FLAGS_max_batch_ops);
  options.pipeline.window_ops = absl::GetFlag(FLAGS_pipeline_window);
  options.pipeline.window_bytes = static_cast<std::size_t>(
      std::max<int64_t>(0, absl::GetFlag(FLAGS_pipeline_window_bytes)));
  options.pipeline.stall_timeout = absl::GetFlag(FLAGS_pipeline_stall_timeout);
  options.watch_buffer_bytes = absl::GetFlag(FLAGS_watch_buffer_bytes);
  options.max_watches = absl::GetFlag(FLAGS_max_watches);
  options.max_retained_bytes =
      static_cast<uint64_t>(absl::GetFlag(FLAGS_max_retained_bytes));
  options.max_snapshot_age = absl::GetFlag(FLAGS_max_snapshot_age);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.auth_token = absl::GetFlag(FLAGS_auth_token);
  options.log_requests = absl::GetFlag(FLAGS_log_requests);
  options.allow_fault_injection = absl::GetFlag(FLAGS_allow_fault_injection);
  options.cluster.node_id = absl::GetFlag(FLAGS_node_id);
  options.cluster.raft_listen = absl::GetFlag(FLAGS_raft_listen);
  options.cluster.peers = absl::GetFlag(FLAGS_peers);
  options.cluster.join = absl::GetFlag(FLAGS_join);
  options.cluster.advertise = absl::GetFlag(FLAGS_advertise);
  options.cluster.cluster_id = absl::GetFlag(FLAGS_cluster_id);
  options.cluster.election_timeout = absl::GetFlag(FLAGS_election_timeout);
  options.cluster.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.cluster.snapshot_threshold = absl::GetFlag(FLAGS_snapshot_threshold);
  options.cluster.max_log_bytes = absl::GetFlag(FLAGS_max_log_bytes);
  options.cluster.peer_send_timeout = absl::GetFlag(FLAGS_peer_send_timeout);
  if (options.cluster.node_id == 0 &&
      (!options.cluster.raft_listen.empty() || !options.cluster.peers.empty() ||
       options.cluster.join)) {
    Log("error", "cannot start",
        {{"error", "--raft_listen, --peers and --join need --node_id"}});
    return 2;
  }

  auto server = mvkv::server::Server::Start(options);
  if (!server.ok()) {
    Log("error", "cannot start", {{"error", server.status().ToString()}});
    const bool refused = absl::IsInvalidArgument(server.status()) ||
                         absl::IsFailedPrecondition(server.status());
    return refused ? 2 : 1;
  }
  Log("info", "serving",
      {{"listen", options.listen},
       {"port", absl::StrCat((*server)->port())},
       {"metrics_port", absl::StrCat((*server)->metrics_port())},
       {"storage", options.data_dir.empty() ? "memory" : options.data_dir},
       {"node_id", absl::StrCat(options.cluster.node_id)},
       {"tls", options.tls_cert_file.empty() ? "off" : "on"},
       {"auth", options.auth_token.empty() ? "off" : "bearer"}});
  if (options.allow_fault_injection) {
    Log("warn", "fault injection allowed (mvkv.v1.Admin): for load tests only");
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  Log("info", "shutting down",
      {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  (*server)->Wait();
  server->reset();  // drains workers, rolls back open txns, drains pipeline
  Log("info", "stopped");
  return 0;
}
