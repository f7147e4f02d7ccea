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
    h.max_open_txns = 4;
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

void RunOne(KvHandler& h, mvkv::server::Session& session, uint8_t kind,
            const uint8_t* d, std::size_t n, std::vector<uint64_t>& handles) {
  switch (kind % 15) {
    case 0:
      Check(h.Get(Parse<v1::GetRequest>(d, n)));
      break;
    case 1:
      Check(h.Put(Parse<v1::PutRequest>(d, n)));
      break;
    case 2:
      Check(h.Delete(Parse<v1::DeleteRequest>(d, n)));
      break;
    case 3:
      Check(h.Scan(Parse<v1::ScanRequest>(d, n)));
      break;
    case 4:
      Check(h.CompareAndCommit(Parse<v1::CompareAndCommitRequest>(d, n)));
      break;
    case 5:
      (void)h.Stats();
      break;
    case 6: {
      auto r = h.BeginTxn(Parse<v1::BeginTxnRequest>(d, n));
      Check(r);
      if (r.ok()) handles.push_back(r->txn_id());
      break;
    }
    case 7: {
      auto m = Parse<v1::KeepAliveRequest>(d, n);
      m.set_txn_id(MapId(m.txn_id(), handles));
      Check(h.KeepAlive(m));
      break;
    }
    case 8: {
      auto m = Parse<v1::TxnGetRequest>(d, n);
      m.set_txn_id(MapId(m.txn_id(), handles));
      Check(h.TxnGet(m));
      break;
    }
    case 9: {
      auto m = Parse<v1::TxnPutRequest>(d, n);
      m.set_txn_id(MapId(m.txn_id(), handles));
      Check(h.TxnPut(m));
      break;
    }
    case 10: {
      auto m = Parse<v1::TxnDeleteRequest>(d, n);
      m.set_txn_id(MapId(m.txn_id(), handles));
      Check(h.TxnDelete(m));
      break;
    }
    case 11: {
      auto m = Parse<v1::TxnScanRequest>(d, n);
      m.set_txn_id(MapId(m.txn_id(), handles));
      Check(h.TxnScan(m));
      break;
    }
    case 12: {
      auto m = Parse<v1::CommitTxnRequest>(d, n);
      m.set_txn_id(MapId(m.txn_id(), handles));
      Check(h.CommitTxn(m));
      break;
    }
    case 13: {
      auto m = Parse<v1::RollbackTxnRequest>(d, n);
      m.set_txn_id(MapId(m.txn_id(), handles));
      Check(h.RollbackTxn(m));
      break;
    }
    default: {
      v1::SessionResponse r = session.Handle(Parse<v1::SessionRequest>(d, n));
      Check(absl::Status(static_cast<absl::StatusCode>(r.code()), r.message()));
      break;
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
