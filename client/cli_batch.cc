#include "client/cli_batch.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli_output.h"

namespace mvkv::client {
namespace {

const char* Verb(Op::Kind kind) {
  switch (kind) {
    case Op::Kind::kPut:
      return "put";
    case Op::Kind::kDelete:
      return "del";
    default:
      return "get";
  }
}

// One operation's result as a line of text and as JSON.
std::pair<std::string, nlohmann::ordered_json> Render(const Op& op,
                                                      const OpOutcome& o) {
  nlohmann::ordered_json j = {{"op", Verb(op.kind)}, {"key", BytesJson(op.key)}};
  if (absl::IsNotFound(o.status) && op.kind == Op::Kind::kGet) {
    j["found"] = false;
    return {"(not found)", j};
  }
  if (!o.status.ok()) {
    const std::string code = absl::StatusCodeToString(o.status.code());
    j["code"] = code;
    j["error"] = BytesJson(std::string(o.status.message()));
    return {absl::StrCat("ERROR ", code, ": ", o.status.message()), j};
  }
  const OpResult& r = o.result;
  switch (op.kind) {
    case Op::Kind::kGet:
      j["found"] = true;
      j["value"] = BytesJson(r.kv.value);
      j["commit_ts"] = r.kv.commit_ts;
      return {r.kv.value, j};
    case Op::Kind::kPut:
      j["commit_ts"] = r.commit_ts;
      return {absl::StrCat("OK commit_ts=", r.commit_ts), j};
    default:
      j["existed"] = r.existed;
      j["commit_ts"] = r.commit_ts;
      return {r.existed ? absl::StrCat("deleted commit_ts=", r.commit_ts)
                        : "not found",
              j};
  }
}

absl::StatusOr<std::vector<OpOutcome>> ViaBatches(Client& client,
                                                  const std::vector<Op>& ops,
                                                  int batch_ops) {
  std::vector<OpOutcome> outcomes;
  outcomes.reserve(ops.size());
  for (std::size_t start = 0; start < ops.size(); start += batch_ops) {
    const std::vector<Op> chunk(
        ops.begin() + start,
        ops.begin() + std::min(ops.size(), start + batch_ops));
    auto r = client.Batch(chunk);
    if (!r.ok()) return r.status();
    for (OpOutcome& o : *r) outcomes.push_back(std::move(o));
  }
  return outcomes;
}

std::vector<OpOutcome> ViaPipeline(Client& client, const std::vector<Op>& ops) {
  std::vector<OpOutcome> outcomes(ops.size());
  // Follows the leader even from one address, as the CLI's unary calls
  // do: waiting for the stream's acceptance costs one round trip per run.
  PipelineOptions options;
  options.follow_leader = true;
  std::unique_ptr<Pipeline> pipeline = client.OpenPipeline(options);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    // Each callback writes its own slot; Wait orders them before the reads.
    pipeline->Start(ops[i], [slot = &outcomes[i]](OpOutcome o) {
      *slot = std::move(o);
    });
  }
  pipeline->Wait();
  return outcomes;
}

}  // namespace

absl::StatusOr<std::vector<Op>> ParseBatch(const std::string& text) {
  std::vector<Op> ops;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    std::vector<std::string> w =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (w.empty() || w[0][0] == '#') continue;
    const std::size_t args = w.size() - 1;
    if ((w[0] == "get" || w[0] == "del") && args == 1) {
      ops.push_back(w[0] == "get" ? Op::Get(w[1]) : Op::Delete(w[1]));
    } else if (w[0] == "put" && args == 2) {
      ops.push_back(Op::Put(w[1], w[2]));
    } else if (w[0] == "get" || w[0] == "del" || w[0] == "put") {
      return absl::InvalidArgumentError(absl::StrCat(
          "batch line ", line_no, ": wrong number of arguments for ", w[0]));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "batch line ", line_no, ": unknown operation \"", w[0],
          "\" (a batch holds get, put and del)"));
    }
  }
  return ops;
}

absl::Status RunBatch(Client& client, const std::vector<Op>& ops,
                      const BatchRun& run, std::vector<std::string>* out,
                      absl::Status* first_error) {
  absl::StatusOr<std::vector<OpOutcome>> outcomes =
      run.pipeline ? ViaPipeline(client, ops)
                   : ViaBatches(client, ops, std::max(1, run.batch_ops));
  if (!outcomes.ok()) return outcomes.status();
  *first_error = absl::OkStatus();
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const OpOutcome& o = (*outcomes)[i];
    if (first_error->ok() && !o.status.ok() &&
        !(absl::IsNotFound(o.status) && ops[i].kind == Op::Kind::kGet)) {
      *first_error = o.status;
    }
    auto [line, json] = Render(ops[i], o);
    if (run.json) {
      results.push_back(std::move(json));
    } else {
      out->push_back(std::move(line));
    }
  }
  if (run.json) {
    const nlohmann::ordered_json doc = {{"results", std::move(results)}};
    out->push_back(doc.dump(-1, ' ', /*ensure_ascii=*/true));
  }
  return absl::OkStatus();
}

}  // namespace mvkv::client
