#include "server/server.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/grpc.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "replication/node.h"
#include "server/admin_service.h"
#include "server/cluster_metrics.h"
#include "server/cluster_service.h"
#include "server/executor.h"
#include "server/kv_service.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/transport.h"
#include "storage/open.h"

namespace mvkv::server {

// Owns the Database (and, with a data dir, its durability layer), or the
// Raft node that owns it. Destroys the Database before the durability layer
// under it.
class DatabaseHolder {
 public:
  ~DatabaseHolder() { db.reset(); }
  Database* get() const { return node != nullptr ? &node->db() : db.get(); }
  std::unique_ptr<Database> db;
  storage::OpenedDatabase persistent;  // owns db's durability when set
  std::unique_ptr<replication::Node> node;  // a cluster member's
};

namespace {

// Accepts "HOST:PORT" and "[V6]:PORT" with a numeric port in [0, 65535].
absl::Status ValidateListen(const std::string& flag,
                            const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, " must be HOST:PORT with a port in [0, 65535], got \"",
        listen, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const ServerOptions& options) {
  if (options.tls_cert_file.empty() && options.tls_key_file.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key must be given together");
  }
  auto cert = ReadFile(options.tls_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(options.tls_key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

absl::StatusOr<std::unique_ptr<DatabaseHolder>> OpenDatabase(
    const ServerOptions& options) {
  auto mode = storage::ParseDurabilityMode(options.durability);
  if (!mode.ok()) return mode.status();
  mvkv::Options db_options;
  db_options.limits = options.limits;
  db_options.max_retained_bytes = options.max_retained_bytes;
  db_options.max_snapshot_age = options.max_snapshot_age;
  // The engine validates its options (ring size, limits) at Open.
  db_options.commit_ring_size = options.commit_ring_size;
  db_options.watch_buffer_bytes = options.watch_buffer_bytes;
  db_options.max_watches = options.max_watches;
  auto holder = std::make_unique<DatabaseHolder>();
  if (options.cluster.node_id != 0) {
    auto node_options =
        ToNodeOptions(options.cluster, options.listen, options.data_dir,
                      options.create_data_dir);
    if (!node_options.ok()) return node_options.status();
    auto node = replication::Node::Open(*node_options, db_options);
    if (!node.ok()) return node.status();
    holder->node = *std::move(node);
    return holder;
  }
  if (options.data_dir.empty()) {
    auto db = Database::Open(db_options);
    if (!db.ok()) return db.status();
    holder->db = *std::move(db);
    return holder;
  }
  storage::StorageOptions storage_options;
  storage_options.dir = options.data_dir;
  storage_options.mode = *mode;
  storage_options.create_if_missing = options.create_data_dir;
  storage_options.progress = storage::StderrLoadProgress(options.data_dir);
  auto opened = storage::OpenPersistentDatabase(storage_options, db_options);
  if (!opened.ok()) return opened.status();
  holder->persistent = *std::move(opened);
  holder->db = std::move(holder->persistent.db);
  return holder;
}

}  // namespace

Server::Server() = default;

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options) {
  if (absl::Status s = ValidateListen("listen", options.listen); !s.ok()) {
    return s;
  }
  if (!options.metrics_listen.empty()) {
    if (absl::Status s =
            ValidateListen("metrics_listen", options.metrics_listen);
        !s.ok()) {
      return s;
    }
  }
  if (options.worker_threads < 1 || options.max_request_bytes < 1 ||
      options.handler.txns.max_open_txns < 0) {
    return absl::InvalidArgumentError(
        "worker threads and the request size limit must be positive");
  }
  if (options.handler.max_batch_ops < 1 || options.pipeline.window_ops < 1 ||
      options.pipeline.window_bytes < 1) {
    return absl::InvalidArgumentError(
        "--max_batch_ops, --pipeline_window and --pipeline_window_bytes must "
        "be positive");
  }
  auto credentials = Credentials(options);
  if (!credentials.ok()) return credentials.status();

  std::unique_ptr<Server> server(new Server());
  auto db = OpenDatabase(options);
  if (!db.ok()) return db.status();
  server->db_ = *std::move(db);
  HandlerOptions handler_options = options.handler;
  handler_options.max_batch_response_bytes = options.max_request_bytes;
  server->handler_ =
      std::make_unique<KvHandler>(server->db_->get(), handler_options);
  server->executor_ = std::make_unique<Executor>(options.worker_threads,
                                                 options.max_queued_requests);
  if (!options.metrics_listen.empty()) {
    auto metrics =
        Metrics::Start(options.metrics_listen, server->handler_.get());
    if (!metrics.ok()) return metrics.status();
    server->metrics_ = *std::move(metrics);
  }
  server->service_ = std::make_unique<KvService>(
      server->handler_.get(), server->executor_.get(), server->metrics_.get(),
      options.auth_token, options.log_requests, options.pipeline,
      server->db_->node.get());
  // The one token check, for the Admin and Cluster services as for KV.
  const auto check_auth = [kv = server->service_.get()](
                              grpc::CallbackServerContext* context) {
    return kv->CheckAuth(context);
  };
  server->admin_ = std::make_unique<AdminService>(
      options.allow_fault_injection, check_auth);

  if (replication::Node* node = server->db_->node.get()) {
    // mvkv.v1.Cluster (status, membership) and the mvkv_raft_* metrics.
    // Its calls are in the mvkv_rpc_* families as "Cluster.<Method>".
    ClusterService::Recorder record;
    if (Metrics* metrics = server->metrics_.get()) {
      record = [metrics](const char* method, int code, absl::Duration took) {
        metrics->RecordByName(method, code, took);
      };
    }
    server->cluster_ =
        std::make_unique<ClusterService>(node, check_auth, std::move(record));
    if (server->metrics_ != nullptr) {
      server->metrics_->AddCollectable(
          ClusterCollectable([node] { return node->Info(); }));
    }
  }

  grpc::ServerBuilder builder;
  ConfigureTransport({.max_request_bytes = options.max_request_bytes},
                     &builder);
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->admin_.get());
  if (server->cluster_ != nullptr) {
    builder.RegisterService(server->cluster_.get());
  }
  builder.AddListeningPort(options.listen, *credentials, &server->port_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    server->server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen,
                     " (address in use, or not a local address?)"));
  }
  // Health by service name ("mvkv.v1.KV") as well as the server's overall
  // status (""); Shutdown() turns both NOT_SERVING.
  grpc::HealthCheckServiceInterface* health =
      server->server_->GetHealthCheckService();
  health->SetServingStatus(v1::KV::service_full_name(), true);
  health->SetServingStatus(true);
  return server;
}

Server::~Server() {
  if (server_ != nullptr) {
    Shutdown();
    Wait();
  }
  admin_.reset();  // releases threads a fault left parked
  cluster_.reset();  // (metrics_ goes before db_: its collectable reads the node)
  // No call is in flight any more: drain the workers, end every open
  // transaction (their snapshots), then the Database drains its pipeline.
  if (executor_ != nullptr) executor_->Shutdown();
  if (handler_ != nullptr) handler_->CloseTxns();
  service_.reset();
  metrics_.reset();
  handler_.reset();
  db_.reset();
}

replication::Node* Server::node() const { return db_->node.get(); }

int Server::metrics_port() const {
  return metrics_ == nullptr ? 0 : metrics_->port();
}

// How long Shutdown keeps health watchers' streams open after turning
// NOT_SERVING, at most (bounded by the grace period).
constexpr absl::Duration kAnnounceDrain = absl::Milliseconds(200);

void Server::Shutdown(absl::Duration grace) {
  std::call_once(shutdown_once_, [&] {
    server_->GetHealthCheckService()->SetServingStatus(false);
    // Watches never end by themselves: end their streams now, so the wait
    // below is for calls that do.
    service_->watch_streams().EndAll(grpc::Status(
        grpc::StatusCode::UNAVAILABLE, "server shutting down"));
    const absl::Time deadline = absl::Now() + grace;
    // gRPC's Shutdown stops accepting calls, then waits for the calls in
    // flight and also for every client connection to go away, which an
    // idle client holding its channel never does before the deadline. So
    // wait for our own calls in flight (streams included) to finish, then
    // cancel what is left: idle connections.
    std::thread shutdown(
        [&] { server_->Shutdown(absl::ToChronoTime(deadline)); });
    // A call counts until its reactor is done, i.e. its status is on the
    // wire, so nothing finished is cut off below.
    // Health watchers (load balancers) get a moment to read NOT_SERVING
    // before their streams are cancelled with the idle connections.
    const absl::Time announced = absl::Now() + std::min(grace, kAnnounceDrain);
    const auto busy = [&] {
      return service_->in_flight() > 0 ||
             (cluster_ != nullptr && cluster_->in_flight() > 0);
    };
    while ((busy() || absl::Now() < announced) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    grpc_server_cancel_all_calls(server_->c_server());
    shutdown.join();
  });
}

void Server::Wait() { server_->Wait(); }

}  // namespace mvkv::server
