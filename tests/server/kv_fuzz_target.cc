// libFuzzer target for the request-handling layer (server/kv_handler.h):
// the input is a sequence of records [kind byte][length byte][bytes], each
// decoded as one mvkv.v1 request message (invalid protobuf bytes decode to a
// partial or empty message, which is fine: the handler must cope) and
// executed against one in-process Database. Handle ids 0..7 in a request are
// replaced by the handles this input opened, so handle paths are reached.
//
// Checked after every record: no crash or sanitizer report, and no status
// outside the codes proto/kv.proto documents (never INTERNAL, UNKNOWN,
// DATA_LOSS...). Checked after every input: once its session and handles are
// gone, no transaction is open and no snapshot registered.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "mvcc/db.h"
#include "server/kv_handler.h"

namespace {

using mvkv::server::KvHandler;
namespace v1 = mvkv::v1;

struct Env {
  std::unique_ptr<mvkv::Database> db;
  std::unique_ptr<KvHandler> handler;
};

Env& GetEnv() {
  static Env* env = [] {
    auto* e = new Env();
    mvkv::Options options;
    options.limits = {.max_key_bytes = 16, .max_value_bytes = 64};
    e->db = mvkv::Database::Open(options).value();
    mvkv::server::HandlerOptions h;
    h.txns.max_open_txns = 4;
    h.max_txn_ops = 16;
    h.compare_and_commit_retry.max_attempts = 2;
    e->handler = std::make_unique<KvHandler>(e->db.get(), h);
    return e;
  }();
  return *env;
}

void Check(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kResourceExhausted:
      return;
    default:
      std::fprintf(stderr, "undocumented status: %s\n", s.ToString().c_str());
      std::abort();
  }
}

template <class T>
void Check(const absl::StatusOr<T>& r) {
  Check(r.status());
}

template <class M>
M Parse(const uint8_t* data, std::size_t size) {
  M m;
  (void)m.ParseFromArray(data, static_cast<int>(size));
  return m;
}

uint64_t MapId(uint64_t id, const std::vector<uint64_t>& handles) {
  if (id < 8 && id < handles.size()) return handles[id];
  return id;
}

// Parses a Request from the input and runs `call` on it.
template <class Request, class Result>
void Run(KvHandler& h, Result (KvHandler::*call)(const Request&),
         const uint8_t* d, std::size_t n) {
  Check((h.*call)(Parse<Request>(d, n)));
}

// As Run for a handle call: small txn_ids name the handles opened so far.
template <class Request, class Result>
void RunOnHandle(KvHandler& h, Result (KvHandler::*call)(const Request&),
                 const uint8_t* d, std::size_t n,
                 const std::vector<uint64_t>& handles) {
  auto m = Parse<Request>(d, n);
  m.set_txn_id(MapId(m.txn_id(), handles));
  Check((h.*call)(m));
}

void RunOne(KvHandler& h, mvkv::server::Session& session, uint8_t kind,
            const uint8_t* d, std::size_t n, std::vector<uint64_t>& handles) {
  switch (kind % 15) {
    case 0:
      return Run(h, &KvHandler::Get, d, n);
    case 1:
      return Run(h, &KvHandler::Put, d, n);
    case 2:
      return Run(h, &KvHandler::Delete, d, n);
    case 3:
      return Run(h, &KvHandler::Scan, d, n);
    case 4:
      return Run(h, &KvHandler::CompareAndCommit, d, n);
    case 5:
      (void)h.Stats();
      return;
    case 6: {
      auto r = h.BeginTxn(Parse<v1::BeginTxnRequest>(d, n));
      Check(r);
      if (r.ok()) handles.push_back(r->txn_id());
      return;
    }
    case 7:
      return RunOnHandle(h, &KvHandler::KeepAlive, d, n, handles);
    case 8:
      return RunOnHandle(h, &KvHandler::TxnGet, d, n, handles);
    case 9:
      return RunOnHandle(h, &KvHandler::TxnPut, d, n, handles);
    case 10:
      return RunOnHandle(h, &KvHandler::TxnDelete, d, n, handles);
    case 11:
      return RunOnHandle(h, &KvHandler::TxnScan, d, n, handles);
    case 12:
      return RunOnHandle(h, &KvHandler::CommitTxn, d, n, handles);
    case 13:
      return RunOnHandle(h, &KvHandler::RollbackTxn, d, n, handles);
    default: {
      v1::SessionResponse r = session.Handle(Parse<v1::SessionRequest>(d, n));
      Check(absl::Status(static_cast<absl::StatusCode>(r.code()), r.message()));
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  Env& env = GetEnv();
  std::vector<uint64_t> handles;
  {
    auto session = env.handler->NewSession();
    std::size_t i = 0;
    while (i + 2 <= size) {
      const uint8_t kind = data[i];
      const std::size_t len = std::min<std::size_t>(data[i + 1], size - i - 2);
      RunOne(*env.handler, *session, kind, data + i + 2, len, handles);
      i += 2 + len;
    }
  }
  for (uint64_t id : handles) {
    v1::RollbackTxnRequest r;
    r.set_txn_id(id);
    (void)env.handler->RollbackTxn(r);
  }
  const v1::StatsResponse s = env.handler->Stats();
  if (s.open_session_txns() != 0 || s.open_handles() != 0 ||
      s.active_snapshots() != 0) {
    std::fprintf(stderr, "leak: sessions=%llu handles=%llu snapshots=%llu\n",
                 static_cast<unsigned long long>(s.open_session_txns()),
                 static_cast<unsigned long long>(s.open_handles()),
                 static_cast<unsigned long long>(s.active_snapshots()));
    std::abort();
  }
  return 0;
}
