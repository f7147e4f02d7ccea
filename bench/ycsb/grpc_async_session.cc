// The networked targets' AsyncSession (bench/ycsb/async_session.h), through
// the client library: a Pipeline stream, asynchronous unary calls, or Batch
// calls of what the worker started between two Flushes.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/ycsb/targets_internal.h"
#include "client/client.h"

namespace mvkv::ycsb {

absl::StatusOr<PipelineVia> ParsePipelineVia(const std::string& name) {
  for (PipelineVia via :
       {PipelineVia::kStream, PipelineVia::kUnary, PipelineVia::kBatch}) {
    if (name == PipelineViaName(via)) return via;
  }
  return absl::InvalidArgumentError(
      "--pipeline_via must be stream, unary or batch; got '" + name + "'");
}

const char* PipelineViaName(PipelineVia via) {
  switch (via) {
    case PipelineVia::kUnary:
      return "unary";
    case PipelineVia::kBatch:
      return "batch";
    case PipelineVia::kStream:
      break;
  }
  return "stream";
}

namespace targets_internal {
namespace {

using client::Client;
using client::Op;
using client::OpOutcome;

class StreamSession final : public AsyncSession {
 public:
  explicit StreamSession(std::unique_ptr<Client> c)
      : client_(std::move(c)), pipeline_(client_->OpenPipeline()) {}
  void StartRead(const std::string& key, Done done) override {
    Start(Op::Get(key), std::move(done));
  }
  void StartWrite(const std::string& key, const std::string& value,
                  Done done) override {
    Start(Op::Put(key, value), std::move(done));
  }

 private:
  void Start(const Op& op, Done done) {
    pipeline_->Start(op, [done = std::move(done)](OpOutcome o) mutable {
      std::move(done)(o.status);
    });
  }
  std::unique_ptr<Client> client_;
  std::unique_ptr<client::Pipeline> pipeline_;  // closed before client_
};

class UnarySession final : public AsyncSession {
 public:
  explicit UnarySession(std::unique_ptr<Client> c) : client_(std::move(c)) {}
  void StartRead(const std::string& key, Done done) override {
    client_->GetAsync(key, [done = std::move(done)](
                               absl::StatusOr<client::KeyValue> r) mutable {
      std::move(done)(r.status());
    });
  }
  void StartWrite(const std::string& key, const std::string& value,
                  Done done) override {
    client_->PutAsync(key, value, [done = std::move(done)](
                                      absl::StatusOr<uint64_t> r) mutable {
      std::move(done)(r.status());
    });
  }

 private:
  std::unique_ptr<Client> client_;
};

class BatchSession final : public AsyncSession {
 public:
  explicit BatchSession(std::unique_ptr<Client> c) : client_(std::move(c)) {}
  void StartRead(const std::string& key, Done done) override {
    ops_.push_back(Op::Get(key));
    dones_.push_back(std::move(done));
  }
  void StartWrite(const std::string& key, const std::string& value,
                  Done done) override {
    ops_.push_back(Op::Put(key, value));
    dones_.push_back(std::move(done));
  }
  void Flush() override {
    if (ops_.empty()) return;
    client_->BatchAsync(
        ops_, [dones = std::move(dones_)](
                  absl::StatusOr<std::vector<OpOutcome>> r) mutable {
          for (std::size_t i = 0; i < dones.size(); ++i) {
            std::move(dones[i])(r.ok() ? (*r)[i].status : r.status());
          }
        });
    ops_.clear();
    dones_.clear();
  }

 private:
  std::unique_ptr<Client> client_;
  std::vector<Op> ops_;
  std::vector<Done> dones_;
};

}  // namespace

std::unique_ptr<AsyncSession> NewGrpcAsyncSession(std::unique_ptr<Client> c,
                                                  PipelineVia via) {
  switch (via) {
    case PipelineVia::kUnary:
      return std::make_unique<UnarySession>(std::move(c));
    case PipelineVia::kBatch:
      return std::make_unique<BatchSession>(std::move(c));
    case PipelineVia::kStream:
      break;
  }
  return std::make_unique<StreamSession>(std::move(c));
}

}  // namespace targets_internal
}  // namespace mvkv::ycsb
