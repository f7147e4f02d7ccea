// KvService over gRPC, in process: commits never hold a worker. The service
// runs with ONE executor worker over a database whose durability is held
// shut, so every commit stays in flight. Five commits arrive by every commit
// path (unary Put and Delete, a one-shot Txn, CommitTxn of a handle, and the
// commit of a Session stream); all five must be in the commit pipeline at
// once, and a Scan (which needs the worker) must still be answered, before
// any of them is let through. If a commit parked the worker, at most one
// commit could be in the pipeline and the Scan would wait for the gate.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "mvcc/testing/gated_durability.h"
#include "proto/kv.grpc.pb.h"
#include "server/executor.h"
#include "server/kv_handler.h"
#include "server/kv_service.h"
#include "server/testing/in_process_server.h"

namespace mvkv::server {
namespace {

constexpr int kCommits = 5;

class KvServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::InProcessOptions options;
    options.db.durability = &durable_;
    options.db.maintenance_interval = absl::InfiniteDuration();  // exact counts
    server_ = std::make_unique<testing::InProcessServer>(options);
    ASSERT_TRUE(server_->ok());
    stub_ = v1::KV::NewStub(server_->channel());
  }
  void TearDown() override {
    durable_.SetOpen(true);
    server_.reset();
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(60));
    return context;
  }
  uint64_t Occupancy() {
    v1::StatsResponse stats;
    grpc::Status s = stub_->Stats(Context().get(), {}, &stats);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return stats.pipeline_occupancy();
  }

  testing_support::GatedDurability durable_;
  std::unique_ptr<testing::InProcessServer> server_;
  std::unique_ptr<v1::KV::Stub> stub_;
};

TEST_F(KvServiceTest, CommitsInFlightHoldNoWorker) {
  // Set up, gate open: a key to delete, a handle and a session with a
  // buffered write each.
  ASSERT_TRUE(server_->db().Put("doomed", "x").ok());
  v1::BeginTxnResponse handle;
  ASSERT_TRUE(stub_->BeginTxn(Context().get(), {}, &handle).ok());
  v1::TxnPutRequest handle_put;
  handle_put.set_txn_id(handle.txn_id());
  handle_put.set_key("handle");
  handle_put.set_value("v");
  v1::TxnPutResponse ignored;
  ASSERT_TRUE(stub_->TxnPut(Context().get(), handle_put, &ignored).ok());
  auto session_context = Context();
  auto session = stub_->Session(session_context.get());
  v1::SessionRequest request;
  v1::SessionResponse reply;
  request.mutable_begin();
  ASSERT_TRUE(session->Write(request) && session->Read(&reply));
  request.mutable_put()->set_key("session");
  request.mutable_put()->set_value("v");
  ASSERT_TRUE(session->Write(request) && session->Read(&reply));
  ASSERT_EQ(reply.code(), 0) << reply.message();

  durable_.SetOpen(false);
  std::vector<std::thread> clients;
  std::vector<grpc::Status> statuses(kCommits);
  std::atomic<int> finished{0};
  auto client = [&](int i, auto call) {
    clients.emplace_back([&, i, call] {
      statuses[i] = call();
      ++finished;
    });
  };
  client(0, [&] {
    v1::PutRequest put;
    put.set_key("unary");
    put.set_value("v");
    v1::PutResponse response;
    return stub_->Put(Context().get(), put, &response);
  });
  client(1, [&] {
    v1::DeleteRequest del;
    del.set_key("doomed");
    v1::DeleteResponse response;
    return stub_->Delete(Context().get(), del, &response);
  });
  client(2, [&] {
    v1::CompareAndCommitRequest txn;
    txn.add_success()->mutable_put()->set_key("txn");
    txn.mutable_success(0)->mutable_put()->set_value("v");
    v1::CompareAndCommitResponse response;
    return stub_->CompareAndCommit(Context().get(), txn, &response);
  });
  client(3, [&] {
    v1::CommitTxnRequest commit;
    commit.set_txn_id(handle.txn_id());
    v1::CommitResponse response;
    return stub_->CommitTxn(Context().get(), commit, &response);
  });
  client(4, [&] {
    v1::SessionRequest commit;
    commit.mutable_commit();
    v1::SessionResponse response;
    if (!session->Write(commit) || !session->Read(&response)) {
      return grpc::Status(grpc::StatusCode::UNKNOWN, "stream broke");
    }
    return grpc::Status(static_cast<grpc::StatusCode>(response.code()),
                        response.message());
  });

  // All five commits are in the pipeline at the same time...
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  uint64_t occupancy = 0;
  while ((occupancy = Occupancy()) < kCommits && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(occupancy, static_cast<uint64_t>(kCommits))
      << "commits were not all in flight at once: something waited for one";
  // ...and the only worker is free: a scan is answered while they wait.
  v1::ScanRequest scan;
  auto scan_context = Context();
  scan_context->set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(20));
  auto reader = stub_->Scan(scan_context.get(), scan);
  v1::ScanResponse chunk;
  while (reader->Read(&chunk)) {
  }
  grpc::Status scanned = reader->Finish();
  EXPECT_TRUE(scanned.ok()) << scanned.error_message();
  EXPECT_EQ(finished.load(), 0) << "a commit replied before it was durable";

  durable_.SetOpen(true);
  for (std::thread& t : clients) t.join();
  for (int i = 0; i < kCommits; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
  }
  for (const char* key : {"unary", "txn", "handle", "session"}) {
    EXPECT_TRUE(server_->db().Get(key).ok()) << key;
    EXPECT_TRUE(durable_.Persisted(key)) << key;
  }
  EXPECT_EQ(server_->db().Get("doomed").status().code(), absl::StatusCode::kNotFound);
  session->WritesDone();
  EXPECT_TRUE(session->Finish().ok());
}

}  // namespace
}  // namespace mvkv::server
