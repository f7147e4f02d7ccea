// The per-stream bounds of the Pipeline RPC (proto/kv.proto) and the gauges
// of what its streams hold, shared by the server's options (server.h) and
// the service (kv_service.h).
//
// Thread safety: PipelineOptions is a value; PipelinedGauges' counters are
// atomic (relaxed: each is exact once the streams are quiet).
#ifndef MVKV_SERVER_PIPELINE_OPTIONS_H_
#define MVKV_SERVER_PIPELINE_OPTIONS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

namespace mvkv::server {

// The server stops reading a stream while `window_ops` operations or
// `window_bytes` bytes (requests of writes running, results not yet sent,
// and for a read being run the largest result it may return) are in
// flight on it (--pipeline_window, --pipeline_window_bytes), and
// cancels a stream whose results have waited `stall_timeout` for the
// client to read them (--pipeline_stall_timeout; InfiniteDuration = never).
struct PipelineOptions {
  int window_ops = 4096;
  std::size_t window_bytes = 16 << 20;
  absl::Duration stall_timeout = absl::Seconds(10);
};

// Stats' pipelined_streams, pipelined_ops_in_flight and
// pipelined_bytes_in_flight.
struct PipelinedGauges {
  std::atomic<int64_t> streams{0};
  std::atomic<int64_t> ops{0};
  std::atomic<int64_t> bytes{0};
};

}  // namespace mvkv::server

#endif  // MVKV_SERVER_PIPELINE_OPTIONS_H_
