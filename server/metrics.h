// Prometheus metrics of mvkv_server, served over HTTP (prometheus-cpp's
// Exposer) at http://<--metrics_listen>/metrics:
//   mvkv_rpc_total{method,code}            calls finished, by gRPC code
//   mvkv_rpc_duration_seconds{method}      latency histogram
//                                          (method: a KV method, "Get", or
//                                          a Cluster one, "Cluster.Status")
//   mvkv_watch_send_lag_seconds            histogram, per watch response
//                                          with commits: from the oldest
//                                          commit in it entering the change
//                                          buffer to the start of the
//                                          response's write (the server's
//                                          share of commit-to-event)
//   mvkv_<engine stat>                     gauges/counters read from
//                                          KvHandler::Stats() at scrape time
//                                          (live_keys, versions, commits,
//                                          reclaim backlog, retention,
//                                          watches, ...)
// Destroying a Metrics stops the endpoint within milliseconds (see
// StopExposer in metrics.cc: civetweb alone took up to 2 s).
// Record() costs no lock and no lookup: each Method's histogram and OK
// counter are made at Start, a (method, code) counter the first time that
// code is seen, into a fixed table. RecordByName (the Cluster service's
// calls: administration, rare) takes a mutex and a map lookup.
// Thread safety: Record() and AddCollectable() are thread-safe
// (prometheus-cpp metrics are atomic).
#ifndef MVKV_SERVER_METRICS_H_
#define MVKV_SERVER_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/call.h"
#include "server/kv_handler.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace mvkv::server {

class Metrics final {
 public:
  // Binds `listen` (HOST:PORT) and serves /metrics. Unavailable if the
  // address cannot be bound. `handler` must outlive the Metrics.
  static absl::StatusOr<std::unique_ptr<Metrics>> Start(
      const std::string& listen, KvHandler* handler);
  ~Metrics();

  // Counts one finished call of `method` with gRPC code `code`.
  void Record(Method method, int code, absl::Duration latency);
  // The same for a method outside Method's rows, labelled `method` (e.g.
  // "Cluster.Status"; ClusterService::Recorder).
  void RecordByName(const std::string& method, int code,
                    absl::Duration latency);
  // One watch response's send lag (mvkv_watch_send_lag_seconds).
  void RecordWatchLag(absl::Duration lag);

  // Serves `collectable`'s families too, read at every scrape (e.g. a
  // replication node's, server/cluster_metrics.h).
  void AddCollectable(std::shared_ptr<prometheus::Collectable> collectable);

  // The bound port.
  int port() const;

 private:
  struct Impl;
  explicit Metrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mvkv::server

#endif  // MVKV_SERVER_METRICS_H_
