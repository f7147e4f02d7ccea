// End to end: every mvkv.v1.KV RPC against a real mvkv_server process, and
// every bad-input case of proto/kv.proto (right status, nothing changed).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

using client::Client;
using testing::ServerProcess;

class KvE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = ServerProcess::Start(
        {"--txn_lease=400ms", "--max_open_txns=8", "--max_key_bytes=64",
         "--max_value_bytes=1024", "--max_request_bytes=65536",
         "--metrics_listen=127.0.0.1:0"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
    delete server_;
  }
  void SetUp() override { client_ = server_->NewClient(); }

  void Prepare(grpc::ClientContext* context) {
    client_->PrepareContext(context, absl::Seconds(10));
  }
  v1::StatsResponse Stats() { return client_->Stats().value(); }
  // Stream ends are noticed by the server asynchronously.
  void WaitNoOpenTxns() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while ((Stats().open_session_txns() != 0 || Stats().open_handles() != 0) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
  }

  static ServerProcess* server_;
  std::unique_ptr<Client> client_;
};

ServerProcess* KvE2eTest::server_ = nullptr;

TEST_F(KvE2eTest, PutGetDeleteRoundTripWithCommitTimestamps) {
  auto ts = client_->Put("rt/a", "1");
  ASSERT_TRUE(ts.ok()) << ts.status();
  auto kv = client_->Get("rt/a");
  ASSERT_TRUE(kv.ok()) << kv.status();
  EXPECT_EQ(kv->value, "1");
  EXPECT_EQ(kv->commit_ts, *ts);
  auto del = client_->Delete("rt/a");
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(del->existed);
  EXPECT_GT(del->commit_ts, *ts);
  EXPECT_EQ(client_->Get("rt/a").status().code(), absl::StatusCode::kNotFound);
  del = client_->Delete("rt/a");
  ASSERT_TRUE(del.ok());
  EXPECT_FALSE(del->existed);
  EXPECT_EQ(del->commit_ts, 0u);
}

TEST_F(KvE2eTest, ScanStreamsChunksInKeyOrderAndHonoursTheLimit) {
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(client_->Put(absl::StrCat("scan/", 1000 + i), "v").ok());
  }
  auto all = client_->Scan("scan/", "scan0");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->kvs.size(), 300u);
  EXPECT_EQ(all->kvs.front().key, "scan/1000");
  EXPECT_EQ(all->kvs.back().key, "scan/1299");
  EXPECT_FALSE(all->more);

  grpc::ClientContext context;
  Prepare(&context);
  v1::ScanRequest request;
  request.set_start("scan/");
  request.set_end("scan0");
  request.set_chunk_size(100);
  request.set_limit(250);
  auto reader = client_->stub()->Scan(&context, request);
  v1::ScanResponse chunk;
  int chunks = 0, pairs = 0;
  bool more = false;
  while (reader->Read(&chunk)) {
    ++chunks;
    pairs += chunk.kvs_size();
    more = chunk.more();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(chunks, 3);
  EXPECT_EQ(pairs, 250);
  EXPECT_TRUE(more);
}

TEST_F(KvE2eTest, ReadsAtTheLatestSnapshotTimestampAndRefusesOlderOnes) {
  ASSERT_TRUE(client_->Put("snap/k", "v").ok());
  const uint64_t visible = Stats().visible_ts();
  for (const uint64_t ts : {visible, visible - 1}) {
    grpc::ClientContext context;
    Prepare(&context);
    v1::GetRequest request;
    request.set_key("snap/k");
    request.set_snapshot_ts(ts);
    v1::GetResponse response;
    grpc::Status s = client_->stub()->Get(&context, request, &response);
    if (ts == visible) {
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(response.snapshot_ts(), visible);
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
    }
  }
}

TEST_F(KvE2eTest, TxnComparesThenRunsTheMatchingBranchAtomically) {
  auto ts = client_->Put("cas/k", "old").value();
  v1::TxnRequest request;
  auto* c = request.add_compares();
  c->set_key("cas/k");
  c->set_target(v1::Compare::VERSION);
  c->set_version(ts);
  auto* put = request.add_success()->mutable_put();
  put->set_key("cas/k");
  put->set_value("new");
  request.add_success()->mutable_get()->set_key("cas/missing");
  request.add_failure()->mutable_get()->set_key("cas/k");
  auto r = client_->Txn(request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded());
  ASSERT_EQ(r->results_size(), 2);
  EXPECT_EQ(r->results(0).put().commit_ts(), r->commit_ts());
  EXPECT_TRUE(r->results(1).not_found());
  // The version moved: the same request now takes the failure branch.
  r = client_->Txn(request);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded());
  EXPECT_EQ(r->results(0).get().kv().value(), "new");
  EXPECT_EQ(r->commit_ts(), 0u);
}

TEST_F(KvE2eTest, SessionTransactionReadsItsOwnWritesAndCommitsAtomically) {
  auto txn = client_->Begin(v1::SERIALIZABLE);
  ASSERT_TRUE(txn.ok()) << txn.status();
  ASSERT_TRUE((*txn)->Put("sess/a", "1").ok());
  ASSERT_TRUE((*txn)->Put("sess/b", "2").ok());
  EXPECT_EQ((*txn)->Get("sess/a")->value, "1");
  EXPECT_EQ(client_->Get("sess/a").status().code(),
            absl::StatusCode::kNotFound);  // not visible before commit
  auto scan = (*txn)->Scan("sess/", "sess0");
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->kvs.size(), 2u);
  EXPECT_EQ(Stats().open_session_txns(), 1u);
  auto ts = (*txn)->Commit();
  ASSERT_TRUE(ts.ok()) << ts.status();
  EXPECT_EQ(client_->Get("sess/b")->commit_ts, *ts);
  // Operation after commit.
  EXPECT_EQ((*txn)->Get("sess/a").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Stats().open_session_txns(), 0u);
}

TEST_F(KvE2eTest, ConcurrentWritersOfOneKeyConflict) {
  auto t1 = client_->Begin().value();
  auto t2 = client_->Begin().value();
  ASSERT_TRUE(t1->Put("conf/k", "1").ok());
  ASSERT_TRUE(t2->Put("conf/k", "2").ok());
  ASSERT_TRUE(t1->Commit().ok());
  EXPECT_EQ(t2->Commit().status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(client_->Get("conf/k")->value, "1");
}

TEST_F(KvE2eTest, SessionRefusesBeginInsideAnOpenTransaction) {
  auto txn = client_->Begin().value();
  v1::SessionRequest request;
  request.mutable_begin();
  grpc::ClientContext context;
  Prepare(&context);
  auto rw = client_->stub()->Session(&context);
  v1::SessionResponse response;
  ASSERT_TRUE(rw->Write(request) && rw->Read(&response));
  EXPECT_EQ(response.code(), 0);
  ASSERT_TRUE(rw->Write(request) && rw->Read(&response));
  EXPECT_EQ(response.code(), grpc::StatusCode::FAILED_PRECONDITION);
  request.Clear();  // no op set
  ASSERT_TRUE(rw->Write(request) && rw->Read(&response));
  EXPECT_EQ(response.code(), grpc::StatusCode::INVALID_ARGUMENT);
  rw->WritesDone();
  EXPECT_TRUE(rw->Finish().ok());
}

TEST_F(KvE2eTest, HandlesRunATransactionOverUnaryCalls) {
  auto* stub = client_->stub();
  v1::BeginTxnResponse begun;
  {
    grpc::ClientContext c;
    Prepare(&c);
    ASSERT_TRUE(stub->BeginTxn(&c, v1::BeginTxnRequest(), &begun).ok());
  }
  EXPECT_EQ(begun.lease_ms(), 400u);
  EXPECT_EQ(Stats().open_handles(), 1u);
  {
    grpc::ClientContext c;
    Prepare(&c);
    v1::TxnPutRequest put;
    put.set_txn_id(begun.txn_id());
    put.set_key("h/k");
    put.set_value("v");
    v1::TxnPutResponse r;
    ASSERT_TRUE(stub->TxnPut(&c, put, &r).ok());
  }
  {
    grpc::ClientContext c;
    Prepare(&c);
    v1::TxnGetRequest get;
    get.set_txn_id(begun.txn_id());
    get.set_key("h/k");
    v1::GetResponse r;
    ASSERT_TRUE(stub->TxnGet(&c, get, &r).ok());
    EXPECT_EQ(r.kv().value(), "v");
  }
  {
    grpc::ClientContext c;
    Prepare(&c);
    v1::TxnDeleteRequest del;
    del.set_txn_id(begun.txn_id());
    del.set_key("h/gone");
    v1::TxnDeleteResponse r;
    ASSERT_TRUE(stub->TxnDelete(&c, del, &r).ok());
  }
  {
    grpc::ClientContext c;
    Prepare(&c);
    v1::TxnScanRequest scan;
    scan.set_txn_id(begun.txn_id());
    scan.set_start("h/");
    v1::ScanResponse r;
    ASSERT_TRUE(stub->TxnScan(&c, scan, &r).ok());
    EXPECT_GE(r.kvs_size(), 1);
  }
  {
    grpc::ClientContext c;
    Prepare(&c);
    v1::KeepAliveRequest ka;
    ka.set_txn_id(begun.txn_id());
    v1::KeepAliveResponse r;
    ASSERT_TRUE(stub->KeepAlive(&c, ka, &r).ok());
  }
  {
    grpc::ClientContext c;
    Prepare(&c);
    v1::CommitTxnRequest commit;
    commit.set_txn_id(begun.txn_id());
    v1::CommitResponse r;
    ASSERT_TRUE(stub->CommitTxn(&c, commit, &r).ok());
    EXPECT_GT(r.commit_ts(), 0u);
  }
  EXPECT_EQ(client_->Get("h/k")->value, "v");
  EXPECT_EQ(Stats().open_handles(), 0u);
  {  // operation after commit
    grpc::ClientContext c;
    Prepare(&c);
    v1::TxnGetRequest get;
    get.set_txn_id(begun.txn_id());
    get.set_key("h/k");
    v1::GetResponse r;
    EXPECT_EQ(stub->TxnGet(&c, get, &r).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  {  // rollback of a fresh handle, then unknown handle
    grpc::ClientContext c1, c2;
    Prepare(&c1);
    Prepare(&c2);
    v1::BeginTxnResponse b;
    ASSERT_TRUE(stub->BeginTxn(&c1, v1::BeginTxnRequest(), &b).ok());
    v1::RollbackTxnRequest rb;
    rb.set_txn_id(b.txn_id());
    v1::RollbackResponse r;
    ASSERT_TRUE(stub->RollbackTxn(&c2, rb, &r).ok());
    grpc::ClientContext c3;
    Prepare(&c3);
    rb.set_txn_id(b.txn_id() + 1);
    EXPECT_EQ(stub->RollbackTxn(&c3, rb, &r).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(KvE2eTest, AnExpiredLeaseAbortsTheHandleAndReleasesItsSnapshot) {
  WaitNoOpenTxns();
  auto* stub = client_->stub();
  v1::BeginTxnResponse kept, dropped;
  {
    grpc::ClientContext c1, c2;
    Prepare(&c1);
    Prepare(&c2);
    ASSERT_TRUE(stub->BeginTxn(&c1, v1::BeginTxnRequest(), &kept).ok());
    ASSERT_TRUE(stub->BeginTxn(&c2, v1::BeginTxnRequest(), &dropped).ok());
  }
  const uint64_t expired_before = Stats().expired_leases();
  ASSERT_EQ(Stats().open_handles(), 2u);
  // Keep one alive for 3 leases; let the other lapse.
  for (int i = 0; i < 12; ++i) {
    grpc::ClientContext c;
    Prepare(&c);
    v1::KeepAliveRequest ka;
    ka.set_txn_id(kept.txn_id());
    v1::KeepAliveResponse r;
    ASSERT_TRUE(stub->KeepAlive(&c, ka, &r).ok()) << i;
    absl::SleepFor(absl::Milliseconds(100));
  }
  grpc::ClientContext c;
  Prepare(&c);
  v1::TxnGetRequest get;
  get.set_txn_id(dropped.txn_id());
  get.set_key("k");
  v1::GetResponse r;
  grpc::Status s = stub->TxnGet(&c, get, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_NE(s.error_message().find("lease"), std::string::npos);
  EXPECT_EQ(Stats().expired_leases(), expired_before + 1);
  EXPECT_EQ(Stats().open_handles(), 1u);
  grpc::ClientContext c2;
  Prepare(&c2);
  v1::RollbackTxnRequest rb;
  rb.set_txn_id(kept.txn_id());
  v1::RollbackResponse rr;
  ASSERT_TRUE(stub->RollbackTxn(&c2, rb, &rr).ok());
  EXPECT_EQ(Stats().open_handles(), 0u);
  EXPECT_EQ(Stats().active_snapshots(), 0u);
}

TEST_F(KvE2eTest, BadInputGetsTheRightStatusAndChangesNothing) {
  const uint64_t commits = Stats().commits();
  const std::string long_key(65, 'k');
  EXPECT_EQ(client_->Put("", "v").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Put(long_key, "v").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Put("k", std::string(1025, 'v')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Get("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Delete(long_key).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Scan("b", "a").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Scan(long_key, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A Txn with one bad op writes nothing, not even its good ops.
  v1::TxnRequest txn;
  txn.add_success()->mutable_put()->set_key("bad/good");
  txn.add_success()->mutable_put()->set_key("");
  EXPECT_EQ(client_->Txn(txn).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::TxnRequest exists;
  auto* c = exists.add_compares();
  c->set_key("k");
  c->set_target(v1::Compare::EXISTS);
  c->set_result(v1::Compare::LESS);
  EXPECT_EQ(client_->Txn(exists).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Bad isolation level.
  {
    grpc::ClientContext context;
    Prepare(&context);
    v1::BeginTxnRequest begin;
    begin.set_isolation(static_cast<v1::Isolation>(7));
    v1::BeginTxnResponse r;
    EXPECT_EQ(client_->stub()->BeginTxn(&context, begin, &r).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Inside a session: the stream survives bad ops.
  auto session = client_->Begin().value();
  EXPECT_EQ(session->Put("", "v").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(session->Scan("z", "a").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(session->Rollback().ok());
  // Oversized request: refused by gRPC before the service.
  EXPECT_EQ(client_->Put("big", std::string(70000, 'v')).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(client_->Get("bad/good").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Stats().commits(), commits);
}

TEST_F(KvE2eTest, TooManyOpenTransactionsIsResourceExhausted) {
  WaitNoOpenTxns();
  std::vector<std::unique_ptr<client::Transaction>> open;
  for (int i = 0; i < 8; ++i) {
    auto txn = client_->Begin();
    ASSERT_TRUE(txn.ok()) << i << " " << txn.status();
    open.push_back(*std::move(txn));
  }
  EXPECT_EQ(client_->Begin().status().code(),
            absl::StatusCode::kResourceExhausted);
  grpc::ClientContext context;
  Prepare(&context);
  v1::BeginTxnResponse r;
  EXPECT_EQ(client_->stub()->BeginTxn(&context, {}, &r).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  open.clear();  // the streams end: the server rolls them back
  WaitNoOpenTxns();
  EXPECT_EQ(Stats().open_session_txns(), 0u);
  EXPECT_TRUE(client_->Begin().ok());
}

TEST_F(KvE2eTest, StatsReportsBothMemoryAccounts) {
  auto txn = client_->Begin().value();  // holds a snapshot
  ASSERT_TRUE(client_->Put("stats/k", "1").ok());
  ASSERT_TRUE(client_->Put("stats/k", "2").ok());
  auto s = Stats();
  EXPECT_GE(s.active_snapshots(), 1u);
  EXPECT_GE(s.retained_versions(), 1u);
  EXPECT_GT(s.live_keys(), 0u);
  EXPECT_GT(s.visible_ts(), 0u);
  EXPECT_NE(s.oldest_snapshot_txn_id(), 0u);
}

// GET /metrics over a plain socket: Prometheus text with RPC counters and
// the engine gauges.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) response.append(buf, n);
  close(fd);
  return response;
}

TEST_F(KvE2eTest, MetricsEndpointServesPrometheusText) {
  ASSERT_TRUE(client_->Put("metrics/k", "v").ok());
  ASSERT_GT(server_->metrics_port(), 0);
  const std::string body = HttpGet(server_->metrics_port(), "/metrics");
  EXPECT_NE(body.find("mvkv_rpc_total{"), std::string::npos) << body;
  EXPECT_NE(body.find("method=\"Put\""), std::string::npos);
  EXPECT_NE(body.find("mvkv_live_keys"), std::string::npos);
  EXPECT_NE(body.find("mvkv_retained_bytes"), std::string::npos);
}

}  // namespace
}  // namespace mvkv
