// End to end: every mvkv.v1.KV RPC against a real mvkv_server process, and
// every bad-input case of proto/kv.proto (right status, nothing changed).

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/kv.grpc.pb.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

using client::Client;
using client::Compare;
using client::Op;
using ::testing::HasSubstr;
using testing::HttpGet;
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
  void SetUp() override {
    client_ = server_->NewClient();
    // The wire itself, for the tests of its framing (chunks, in-band codes).
    stub_ = v1::KV::NewStub(grpc::CreateChannel(
        server_->address(), grpc::InsecureChannelCredentials()));
  }

  void Prepare(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
  }
  client::Stats Stats() { return client_->GetStats().value(); }
  uint64_t Stat(std::string_view name) { return Stats().Number(name); }
  // Stream ends are noticed by the server asynchronously.
  void WaitNoOpenTxns() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while ((Stat("open_session_txns") != 0 || Stat("open_handles") != 0) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
  }

  static ServerProcess* server_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<v1::KV::Stub> stub_;
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
  auto reader = stub_->Scan(&context, request);
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
  const uint64_t visible = Stat("visible_ts");
  for (const uint64_t ts : {visible, visible - 1}) {
    grpc::ClientContext context;
    Prepare(&context);
    v1::GetRequest request;
    request.set_key("snap/k");
    request.set_snapshot_ts(ts);
    v1::GetResponse response;
    grpc::Status s = stub_->Get(&context, request, &response);
    if (ts == visible) {
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(response.snapshot_ts(), visible);
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
    }
  }
}

TEST_F(KvE2eTest, CompareAndCommitRunsTheBranchTheComparesChose) {
  auto ts = client_->Put("cas/k", "old").value();
  const std::vector<Compare> compares = {
      Compare::Version("cas/k", Compare::Result::kEqual, ts)};
  const std::vector<Op> success = {Op::Put("cas/k", "new"),
                                   Op::Get("cas/missing")};
  const std::vector<Op> failure = {Op::Get("cas/k")};
  auto r = client_->CompareAndCommit(compares, success, failure);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded);
  ASSERT_EQ(r->results.size(), 2u);
  EXPECT_GT(r->commit_ts, ts);
  EXPECT_FALSE(r->results[1].found);
  // The version moved: the same request now takes the failure branch.
  r = client_->CompareAndCommit(compares, success, failure);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  ASSERT_EQ(r->results.size(), 1u);
  EXPECT_TRUE(r->results[0].found);
  EXPECT_EQ(r->results[0].kv.value, "new");
  EXPECT_EQ(r->commit_ts, 0u);
}

TEST_F(KvE2eTest, SessionTransactionReadsItsOwnWritesAndCommitsAtomically) {
  auto txn = client_->Begin(client::Isolation::kSerializable);
  ASSERT_TRUE(txn.ok()) << txn.status();
  ASSERT_TRUE((*txn)->Put("sess/a", "1").ok());
  ASSERT_TRUE((*txn)->Put("sess/b", "2").ok());
  EXPECT_EQ((*txn)->Get("sess/a")->value, "1");
  EXPECT_EQ(client_->Get("sess/a").status().code(),
            absl::StatusCode::kNotFound);  // not visible before commit
  auto scan = (*txn)->Scan("sess/", "sess0");
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->kvs.size(), 2u);
  EXPECT_EQ(Stat("open_session_txns"), 1u);
  auto ts = (*txn)->Commit();
  ASSERT_TRUE(ts.ok()) << ts.status();
  EXPECT_EQ(client_->Get("sess/b")->commit_ts, *ts);
  // Operation after commit.
  EXPECT_EQ((*txn)->Get("sess/a").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Stat("open_session_txns"), 0u);
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
  auto rw = stub_->Session(&context);
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
  auto handle = client_->BeginHandle();
  ASSERT_TRUE(handle.ok()) << handle.status();
  client::TxnHandle& h = **handle;
  EXPECT_EQ(h.lease(), absl::Milliseconds(400));
  EXPECT_EQ(Stat("open_handles"), 1u);
  ASSERT_TRUE(h.Put("h/k", "v").ok());
  EXPECT_EQ(h.Get("h/k")->value, "v");
  ASSERT_TRUE(h.Delete("h/gone").ok());
  auto scan = h.Scan("h/", "");
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_GE(scan->kvs.size(), 1u);
  ASSERT_TRUE(h.KeepAlive().ok());
  auto ts = h.Commit();
  ASSERT_TRUE(ts.ok()) << ts.status();
  EXPECT_GT(*ts, 0u);
  EXPECT_EQ(client_->Get("h/k")->value, "v");
  EXPECT_EQ(Stat("open_handles"), 0u);
  // After the commit: the message names the id the client holds.
  absl::Status after = h.Get("h/k").status();
  EXPECT_EQ(after.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(after.message(),
              HasSubstr(absl::StrCat("transaction ", h.id(), " already committed")));
  // Rollback of a fresh handle, then an unknown handle.
  auto fresh = client_->BeginHandle().value();
  ASSERT_TRUE(fresh->Rollback().ok());
  v1::RollbackTxnRequest rb;
  rb.set_txn_id(fresh->id() + 1);
  v1::RollbackResponse r;
  grpc::ClientContext c;
  Prepare(&c);
  EXPECT_EQ(stub_->RollbackTxn(&c, rb, &r).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(KvE2eTest, AnExpiredLeaseAbortsTheHandleAndReleasesItsSnapshot) {
  WaitNoOpenTxns();
  auto kept = client_->BeginHandle().value();
  auto dropped = client_->BeginHandle().value();
  const uint64_t expired_before = Stat("expired_leases");
  ASSERT_EQ(Stat("open_handles"), 2u);
  // Keep one alive until the other's lease has certainly run out and the
  // reaper rolled it back (bounded: 100 renewals, 10 s).
  for (int i = 0; i < 100 && Stat("expired_leases") == expired_before; ++i) {
    ASSERT_TRUE(kept->KeepAlive().ok()) << i;
    absl::SleepFor(absl::Milliseconds(100));
  }
  absl::Status s = dropped->Get("k").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("lease"));
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("transaction ", dropped->id())));
  EXPECT_EQ(Stat("expired_leases"), expired_before + 1);
  EXPECT_EQ(Stat("open_handles"), 1u);
  ASSERT_TRUE(kept->Rollback().ok());
  EXPECT_EQ(Stat("open_handles"), 0u);
  EXPECT_EQ(Stat("active_snapshots"), 0u);
}

TEST_F(KvE2eTest, StatsNamesTheTransactionAndTheClientPinningTheOldestSnapshot) {
  WaitNoOpenTxns();
  auto session = client_->Begin().value();
  client::Stats s = Stats();
  EXPECT_EQ(s.Number("oldest_snapshot_txn_id"), session->id());
  EXPECT_EQ(s.Text("oldest_snapshot_holder"), "session");
  EXPECT_THAT(s.Text("oldest_snapshot_peer"), HasSubstr("127.0.0.1"));
  session.reset();
  WaitNoOpenTxns();
  auto handle = client_->BeginHandle().value();
  s = Stats();
  EXPECT_EQ(s.Number("oldest_snapshot_txn_id"), handle->id());
  EXPECT_EQ(s.Text("oldest_snapshot_holder"), "handle");
  ASSERT_TRUE(handle->Rollback().ok());
}

TEST_F(KvE2eTest, BadInputGetsTheRightStatusAndChangesNothing) {
  const uint64_t commits = Stat("commits");
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
  // A CompareAndCommit with one bad op writes nothing, not even its good ops.
  EXPECT_EQ(client_
                ->CompareAndCommit({}, {Op::Put("bad/good", "v"), Op::Put("", "v")})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  Compare exists = Compare::Exists("k", true);
  exists.result = Compare::Result::kLess;
  EXPECT_EQ(client_->CompareAndCommit({exists}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Bad isolation level.
  {
    grpc::ClientContext context;
    Prepare(&context);
    v1::BeginTxnRequest begin;
    begin.set_isolation(static_cast<v1::Isolation>(7));
    v1::BeginTxnResponse r;
    EXPECT_EQ(stub_->BeginTxn(&context, begin, &r).error_code(),
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
  EXPECT_EQ(Stat("commits"), commits);
}

TEST_F(KvE2eTest, TooManyOpenTransactionsIsResourceExhausted) {
  WaitNoOpenTxns();
  std::vector<std::unique_ptr<client::Txn>> open;
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
  EXPECT_EQ(stub_->BeginTxn(&context, {}, &r).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  open.clear();  // the streams end: the server rolls them back
  WaitNoOpenTxns();
  EXPECT_EQ(Stat("open_session_txns"), 0u);
  EXPECT_TRUE(client_->Begin().ok());
}

TEST_F(KvE2eTest, StatsReportsBothMemoryAccounts) {
  auto txn = client_->Begin().value();  // holds a snapshot
  ASSERT_TRUE(client_->Put("stats/k", "1").ok());
  ASSERT_TRUE(client_->Put("stats/k", "2").ok());
  auto s = Stats();
  EXPECT_GE(s.Number("active_snapshots"), 1u);
  EXPECT_GE(s.Number("retained_versions"), 1u);
  EXPECT_GT(s.Number("live_keys"), 0u);
  EXPECT_GT(s.Number("visible_ts"), 0u);
  EXPECT_EQ(s.Number("oldest_snapshot_txn_id"), txn->id());
}

TEST_F(KvE2eTest, MetricsEndpointServesPrometheusText) {
  auto watcher = client_->Watch(client::WatchTarget::Prefix("metrics/"));
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ASSERT_TRUE(client_->Put("metrics/k", "v").ok());
  // The event has been written by the time it is read: its send lag was
  // observed.
  ASSERT_TRUE((*watcher)->Next().ok());
  ASSERT_GT(server_->metrics_port(), 0);
  const std::string body = HttpGet(server_->metrics_port(), "/metrics");
  EXPECT_NE(body.find("mvkv_rpc_total{"), std::string::npos) << body;
  EXPECT_NE(body.find("method=\"Put\""), std::string::npos);
  EXPECT_NE(body.find("mvkv_live_keys"), std::string::npos);
  EXPECT_NE(body.find("mvkv_retained_bytes"), std::string::npos);
  const std::string lag_count = "mvkv_watch_send_lag_seconds_count ";
  const std::size_t at = body.find(lag_count);
  ASSERT_NE(at, std::string::npos) << body;
  EXPECT_GE(std::stoll(body.substr(at + lag_count.size())), 1) << body;
}

}  // namespace
}  // namespace mvkv
