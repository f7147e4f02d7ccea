// Every unary scan is capped by bytes (issue 14, item 8): with six 1 MiB
// values, a TxnScan, a Session scan and a CompareAndCommit scan op with no
// limit each answer a response that fits a client's default 4 MiB receive
// limit, say `more`, and name the resume key; following resume keys returns
// every pair exactly once. Before the cap one response held all 6 MiB, the
// client refused it (RESOURCE_EXHAUSTED), and inside a Session the error
// ended the stream.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/kv.grpc.pb.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

using testing::ServerProcess;

constexpr int kPairs = 6;
constexpr std::size_t kValueBytes = 1 << 20;

class ScanCapTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = ServerProcess::Start(
        {"--max_value_bytes=1100000", "--max_request_bytes=2000000"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    auto client = server_->NewClient();
    for (int i = 0; i < kPairs; ++i) {
      ASSERT_TRUE(client->Put(Key(i), std::string(kValueBytes, 'a' + i)).ok());
    }
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
    delete server_;
  }
  void SetUp() override {
    // A channel with gRPC's default 4 MiB receive limit, as a new user has.
    stub_ = v1::KV::NewStub(grpc::CreateChannel(
        server_->address(), grpc::InsecureChannelCredentials()));
  }
  static std::string Key(int i) { return absl::StrCat("big/", i); }
  static void Prepare(grpc::ClientContext* c) {
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  }
  // Checks one capped page and appends its keys; returns where to go on
  // ("" at the end).
  static std::string Take(const v1::ScanResponse& page,
                          std::vector<std::string>* keys) {
    EXPECT_GE(page.kvs_size(), 1);
    EXPECT_LT(page.ByteSizeLong(), 4u << 20);
    for (const v1::KeyValue& kv : page.kvs()) {
      keys->push_back(kv.key());
      EXPECT_EQ(kv.value().size(), kValueBytes);
    }
    EXPECT_EQ(page.more(), !page.resume_key().empty());
    return page.more() ? page.resume_key() : "";
  }
  static void ExpectAllOnce(const std::vector<std::string>& keys, int pages) {
    ASSERT_EQ(keys.size(), static_cast<std::size_t>(kPairs));
    for (int i = 0; i < kPairs; ++i) EXPECT_EQ(keys[i], Key(i));
    EXPECT_GT(pages, 1);  // the cap split the range
  }

  static ServerProcess* server_;
  std::unique_ptr<v1::KV::Stub> stub_;
};

ServerProcess* ScanCapTest::server_ = nullptr;

TEST_F(ScanCapTest, TxnScanPagesFitTheClientsReceiveLimit) {
  v1::BeginTxnResponse begun;
  {
    grpc::ClientContext c;
    Prepare(&c);
    ASSERT_TRUE(stub_->BeginTxn(&c, v1::BeginTxnRequest(), &begun).ok());
  }
  std::vector<std::string> keys;
  std::string start = "big/";
  int pages = 0;
  for (; pages < 3 * kPairs; ++pages) {
    v1::TxnScanRequest request;
    request.set_txn_id(begun.txn_id());
    request.set_start(start);
    request.set_end("big0");
    v1::ScanResponse page;
    grpc::ClientContext c;
    Prepare(&c);
    grpc::Status s = stub_->TxnScan(&c, request, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    start = Take(page, &keys);
    if (start.empty()) break;
  }
  ExpectAllOnce(keys, pages + 1);
}

TEST_F(ScanCapTest, SessionScanPagesFitAndTheStreamGoesOn) {
  grpc::ClientContext c;
  Prepare(&c);
  auto rw = stub_->Session(&c);
  v1::SessionRequest request;
  v1::SessionResponse response;
  request.mutable_begin();
  ASSERT_TRUE(rw->Write(request) && rw->Read(&response));
  ASSERT_EQ(response.code(), 0) << response.message();
  std::vector<std::string> keys;
  std::string start = "big/";
  int pages = 0;
  for (; pages < 3 * kPairs; ++pages) {
    request.Clear();
    request.mutable_scan()->set_start(start);
    request.mutable_scan()->set_end("big0");
    ASSERT_TRUE(rw->Write(request) && rw->Read(&response)) << "page " << pages;
    ASSERT_EQ(response.code(), 0) << response.message();
    start = Take(response.scan(), &keys);
    if (start.empty()) break;
  }
  ExpectAllOnce(keys, pages + 1);
  request.Clear();
  request.mutable_commit();
  ASSERT_TRUE(rw->Write(request) && rw->Read(&response));
  EXPECT_EQ(response.code(), 0) << response.message();
  rw->WritesDone();
  EXPECT_TRUE(rw->Finish().ok());
}

TEST_F(ScanCapTest, CompareAndCommitScanOpIsCappedToo) {
  std::vector<std::string> keys;
  std::string start = "big/";
  int pages = 0;
  for (; pages < 3 * kPairs; ++pages) {
    v1::CompareAndCommitRequest request;
    v1::ScanRequest* scan = request.add_success()->mutable_scan();
    scan->set_start(start);
    scan->set_end("big0");
    v1::CompareAndCommitResponse response;
    grpc::ClientContext c;
    Prepare(&c);
    grpc::Status s = stub_->CompareAndCommit(&c, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(response.results_size(), 1);
    start = Take(response.results(0).scan(), &keys);
    if (start.empty()) break;
  }
  ExpectAllOnce(keys, pages + 1);
}

}  // namespace
}  // namespace mvkv
