// bench/ycsb/async_session.h — operations in flight without a thread each,
// for --pipeline=N: a worker starts up to N reads and writes and counts
// each one done when its callback runs. Networked targets implement it
// three ways (PipelineVia): one Pipeline stream per worker, N asynchronous
// unary calls, or Batch calls of up to N operations.
//
// Thread safety: an AsyncSession is started from its worker thread only;
// callbacks run on the target's threads (gRPC's), must be short and must
// not block.
#ifndef MVKV_BENCH_YCSB_ASYNC_SESSION_H_
#define MVKV_BENCH_YCSB_ASYNC_SESSION_H_

#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mvkv::ycsb {

enum class PipelineVia { kStream, kUnary, kBatch };

// "stream", "unary", "batch"; InvalidArgument otherwise.
absl::StatusOr<PipelineVia> ParsePipelineVia(const std::string& name);
const char* PipelineViaName(PipelineVia via);

class AsyncSession {
 public:
  using Done = absl::AnyInvocable<void(absl::Status) &&>;
  virtual ~AsyncSession() = default;
  // Starts a read (NotFound is an error: keys were loaded) or a write of
  // one record; `done` runs once with its status.
  virtual void StartRead(const std::string& key, Done done) = 0;
  virtual void StartWrite(const std::string& key, const std::string& value,
                          Done done) = 0;
  // The worker started what it may for now: a batching session sends what
  // it collected. Default: nothing (operations went out when started).
  virtual void Flush() {}
};

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_ASYNC_SESSION_H_
