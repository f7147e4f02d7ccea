#include "server/metrics.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace mvkv::server {
namespace {

const char* const kCodeNames[] = {"OK",
                                  "CANCELLED",
                                  "UNKNOWN",
                                  "INVALID_ARGUMENT",
                                  "DEADLINE_EXCEEDED",
                                  "NOT_FOUND",
                                  "ALREADY_EXISTS",
                                  "PERMISSION_DENIED",
                                  "RESOURCE_EXHAUSTED",
                                  "FAILED_PRECONDITION",
                                  "ABORTED",
                                  "OUT_OF_RANGE",
                                  "UNIMPLEMENTED",
                                  "INTERNAL",
                                  "UNAVAILABLE",
                                  "DATA_LOSS",
                                  "UNAUTHENTICATED"};

// Reads the engine's accounting at scrape time.
class StatsCollectable final : public prometheus::Collectable {
 public:
  explicit StatsCollectable(KvHandler* handler) : handler_(handler) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    const v1::StatsResponse s = handler_->Stats();
    std::vector<prometheus::MetricFamily> out;
    auto add = [&](const char* name, const char* help, double value,
                   prometheus::MetricType type) {
      prometheus::MetricFamily f;
      f.name = absl::StrCat("mvkv_", name);
      f.help = help;
      f.type = type;
      prometheus::ClientMetric m;
      if (type == prometheus::MetricType::Counter) {
        m.counter.value = value;
      } else {
        m.gauge.value = value;
      }
      f.metric.push_back(m);
      out.push_back(std::move(f));
    };
    using T = prometheus::MetricType;
    add("live_keys", "Keys with a live newest version", s.live_keys(),
        T::Gauge);
    add("index_keys", "Records in the indexes", s.index_keys(), T::Gauge);
    add("versions", "Versions in all chains", s.versions(), T::Gauge);
    add("version_bytes", "Bytes held by versions", s.version_bytes(), T::Gauge);
    add("commits_total", "Committed write transactions", s.commits(),
        T::Counter);
    add("aborts_write_conflict_total", "Write-write conflict aborts",
        s.aborts_write_conflict(), T::Counter);
    add("aborts_read_conflict_total", "Serializable validation aborts",
        s.aborts_read_conflict(), T::Counter);
    add("aborts_snapshot_too_old_total", "Snapshot-too-old aborts",
        s.aborts_snapshot_too_old(), T::Counter);
    add("reclaim_unreclaimed_objects", "Reclaim backlog: retired, not freed",
        s.reclaim_unreclaimed_objects(), T::Gauge);
    add("reclaim_unreclaimed_bytes", "Reclaim backlog in bytes",
        s.reclaim_unreclaimed_bytes(), T::Gauge);
    add("retained_versions", "Versions kept only for old snapshots",
        s.retained_versions(), T::Gauge);
    add("retained_bytes", "Bytes kept only for old snapshots",
        s.retained_bytes(), T::Gauge);
    add("oldest_snapshot_age_seconds", "Age of the oldest snapshot",
        s.oldest_snapshot_age_ms() / 1000.0, T::Gauge);
    add("active_snapshots", "Registered snapshots", s.active_snapshots(),
        T::Gauge);
    add("visible_ts", "Newest visible commit timestamp", s.visible_ts(),
        T::Gauge);
    add("pipeline_batches_total", "Group commits", s.pipeline_batches(),
        T::Counter);
    add("pipeline_occupancy", "Requests in the commit ring",
        s.pipeline_occupancy(), T::Gauge);
    add("open_session_txns", "Open session transactions", s.open_session_txns(),
        T::Gauge);
    add("open_handles", "Open transaction handles", s.open_handles(), T::Gauge);
    add("expired_leases_total", "Handles rolled back on lease expiry",
        s.expired_leases(), T::Counter);
    add("expired_max_age_total", "Transactions rolled back past max age",
        s.expired_max_age(), T::Counter);
    add("watches", "Open watches", s.watches(), T::Gauge);
    add("watch_buffered_bytes", "Change-buffer bytes holding commits",
        s.watch_buffered_bytes(), T::Gauge);
    add("watch_oldest_ts", "Oldest start_ts a watch may use",
        s.watch_oldest_ts(), T::Gauge);
    add("watch_events_total", "Watch commit events delivered",
        s.watch_events(), T::Counter);
    add("watch_slow_cancellations_total", "Watches ended for falling behind",
        s.watch_slow_cancellations(), T::Counter);
    add("process_heap_bytes", "Heap in use by the process (glibc mallinfo2)",
        s.process_heap_bytes(), T::Gauge);
    return out;
  }

 private:
  KvHandler* const handler_;
};

// The address to connect to for a server bound to `listen` (HOST:PORT, or
// [V6]:PORT): the wildcard addresses become loopback.
std::string ConnectHost(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return host;
}

// Opens and closes one TCP connection to host:port; errors are ignored
// (once the server has closed its socket there is nothing to wake).
void Knock(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), absl::StrCat(port).c_str(), &hints, &found) !=
      0) {
    return;
  }
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    const bool connected = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    close(fd);
    if (connected) break;
  }
  freeaddrinfo(found);
}

// Destroys `exposer` promptly. civetweb's accept loop (under prometheus-cpp's
// Exposer) polls its listening socket with a 2 s timeout and reads its stop
// flag only when the poll returns, so destroying an idle Exposer took up to
// 2 s. It is destroyed on a helper thread while this one connects to the
// port every few milliseconds: a connection ends the poll, and one arriving
// after the stop flag is set ends the loop (civetweb then closes the socket
// without serving it). Bounded: after 2 s civetweb stops on its own.
void StopExposer(std::unique_ptr<prometheus::Exposer> exposer,
                 const std::string& host, int port) {
  // Only a loop condition: the store (release) pairs with the loop's load
  // (acquire); join() orders everything else.
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    exposer.reset();
    stopped.store(true, std::memory_order_release);
  });
  const absl::Time give_up = absl::Now() + absl::Seconds(3);
  while (!stopped.load(std::memory_order_acquire) && absl::Now() < give_up) {
    Knock(host, port);
    absl::SleepFor(absl::Milliseconds(5));
  }
  stopper.join();
}

}  // namespace

constexpr int kCodes = 17;  // OK .. UNAUTHENTICATED

namespace {
const char* SlotName(int slot) {
  return slot < kCodes ? kCodeNames[slot] : "UNKNOWN";
}
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  using Buckets = prometheus::Histogram::BucketBoundaries;
  static const Buckets* const kBuckets =
      new Buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *kBuckets;
}
}  // namespace

struct Metrics::Impl {
  std::string connect_host;  // where StopExposer knocks
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<prometheus::Registry> registry =
      std::make_shared<prometheus::Registry>();
  std::shared_ptr<StatsCollectable> stats;
  // AddCollectable's: the exposer holds only weak pointers.
  std::vector<std::shared_ptr<prometheus::Collectable>> added;
  prometheus::Family<prometheus::Counter>* calls = nullptr;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  prometheus::Histogram* watch_lag = nullptr;  // made at Start
  // Made at Start; never change.
  prometheus::Histogram* histograms[kMethodCount] = {};
  // A slot is made once, under mu (prometheus' Add is not lock-free): the
  // release store pairs with Record's acquire load, so a handle read there
  // points to a whole counter. Codes beyond the table share the last slot's
  // label "UNKNOWN" (see CodeSlot). mu also guards `added`.
  std::mutex mu;
  std::atomic<prometheus::Counter*> counters[kMethodCount][kCodes + 1] = {};
  // RecordByName's, made on a name's first call. Guarded by mu.
  struct Named {
    prometheus::Histogram* histogram = nullptr;
    prometheus::Counter* counters[kCodes + 1] = {};
  };
  std::map<std::string, Named, std::less<>> named;

  prometheus::Counter* Counter(Method method, int slot) {
    std::atomic<prometheus::Counter*>& c =
        counters[static_cast<int>(method)][slot];
    if (prometheus::Counter* made = c.load(std::memory_order_acquire)) {
      return made;
    }
    std::lock_guard l(mu);
    prometheus::Counter* made = c.load(std::memory_order_relaxed);
    if (made == nullptr) {
      made = &calls->Add({{"method", MethodName(method)},
                          {"code", SlotName(slot)}});
      c.store(made, std::memory_order_release);
    }
    return made;
  }
};

namespace {
int CodeSlot(int code) { return code >= 0 && code < kCodes ? code : kCodes; }
}  // namespace

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Start(
    const std::string& listen, KvHandler* handler) {
  auto impl = std::make_unique<Impl>();
  impl->connect_host = ConnectHost(listen);
  try {
    impl->exposer = std::make_unique<prometheus::Exposer>(listen);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  impl->calls = &prometheus::BuildCounter()
                     .Name("mvkv_rpc_total")
                     .Help("RPCs finished, by method and gRPC code")
                     .Register(*impl->registry);
  impl->latency = &prometheus::BuildHistogram()
                       .Name("mvkv_rpc_duration_seconds")
                       .Help("RPC latency, from arrival to finish")
                       .Register(*impl->registry);
  for (int m = 0; m < kMethodCount; ++m) {
    impl->histograms[m] = &impl->latency->Add(
        {{"method", MethodName(static_cast<Method>(m))}}, LatencyBuckets());
    impl->Counter(static_cast<Method>(m), 0);  // OK, the common case
  }
  impl->watch_lag =
      &prometheus::BuildHistogram()
           .Name("mvkv_watch_send_lag_seconds")
           .Help(
               "Per watch response with commits: from the oldest commit in "
               "it entering the change buffer to the start of its write")
           .Register(*impl->registry)
           .Add({}, LatencyBuckets());
  impl->stats = std::make_shared<StatsCollectable>(handler);
  impl->exposer->RegisterCollectable(impl->registry);
  impl->exposer->RegisterCollectable(impl->stats);
  return std::unique_ptr<Metrics>(new Metrics(std::move(impl)));
}

Metrics::Metrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Metrics::~Metrics() {
  const int bound = port();
  if (bound > 0) {
    StopExposer(std::move(impl_->exposer), impl_->connect_host, bound);
  }
}

void Metrics::AddCollectable(
    std::shared_ptr<prometheus::Collectable> collectable) {
  impl_->exposer->RegisterCollectable(collectable);
  std::lock_guard l(impl_->mu);
  impl_->added.push_back(std::move(collectable));
}

int Metrics::port() const {
  auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports[0];
}

void Metrics::RecordWatchLag(absl::Duration lag) {
  impl_->watch_lag->Observe(
      absl::ToDoubleSeconds(std::max(lag, absl::ZeroDuration())));
}

void Metrics::Record(Method method, int code, absl::Duration latency) {
  impl_->Counter(method, CodeSlot(code))->Increment();
  impl_->histograms[static_cast<int>(method)]->Observe(
      absl::ToDoubleSeconds(latency));
}

void Metrics::RecordByName(const std::string& method, int code,
                           absl::Duration latency) {
  const int slot = CodeSlot(code);
  std::lock_guard l(impl_->mu);
  Impl::Named& n = impl_->named[method];
  if (n.histogram == nullptr) {
    n.histogram = &impl_->latency->Add({{"method", method}}, LatencyBuckets());
  }
  if (n.counters[slot] == nullptr) {
    n.counters[slot] =
        &impl_->calls->Add({{"method", method}, {"code", SlotName(slot)}});
  }
  n.counters[slot]->Increment();
  n.histogram->Observe(absl::ToDoubleSeconds(latency));
}

}  // namespace mvkv::server
