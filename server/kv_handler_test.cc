#include "server/kv_handler.h"

#include <thread>

#include "gtest/gtest.h"

namespace mvkv::server {
namespace {

class KvHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options o;
    o.max_key_bytes = 17;
    db_ = Database::Open(o).value();
    HandlerOptions h;
    h.max_key_bytes = 16;
    h.max_value_bytes = 32;
    h.max_open_txns = 2;
    h.txn_lease = absl::Milliseconds(100);
    handler_ = std::make_unique<KvHandler>(db_.get(), h);
  }
  void TearDown() override {
    handler_.reset();
    db_.reset();
  }
  v1::PutRequest PutReq(const std::string& k, const std::string& v) {
    v1::PutRequest r;
    r.set_key(k);
    r.set_value(v);
    return r;
  }
  v1::GetRequest GetReq(const std::string& k) {
    v1::GetRequest r;
    r.set_key(k);
    return r;
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<KvHandler> handler_;
};

TEST_F(KvHandlerTest, PutThenGetReturnsValueAndCommitTimestamp) {
  auto put = handler_->Put(PutReq("a", "1"));
  ASSERT_TRUE(put.ok()) << put.status();
  auto got = handler_->Get(GetReq("a"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kv().value(), "1");
  EXPECT_EQ(got->kv().commit_ts(), put->commit_ts());
  EXPECT_EQ(handler_->Get(GetReq("b")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KvHandlerTest, BadInputIsRefusedAndChangesNothing) {
  EXPECT_EQ(handler_->Put(PutReq("", "v")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(handler_->Put(PutReq(std::string(17, 'k'), "v")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(handler_->Put(PutReq("k", std::string(33, 'v'))).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::ScanRequest scan;
  scan.set_start("b");
  scan.set_end("a");
  EXPECT_EQ(handler_->Scan(scan).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(handler_->Stats().commits(), 0u);
}

TEST_F(KvHandlerTest, TxnAppliesSuccessOnlyWhenComparesHold) {
  ASSERT_TRUE(handler_->Put(PutReq("a", "1")).ok());
  v1::TxnRequest txn;
  auto* c = txn.add_compares();
  c->set_key("a");
  c->set_target(v1::Compare::VALUE);
  c->set_value("1");
  txn.add_success()->mutable_put()->set_key("b");
  txn.mutable_success(0)->mutable_put()->set_value("x");
  txn.add_failure()->mutable_get()->set_key("a");
  auto r = handler_->Txn(txn);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded());
  EXPECT_EQ(handler_->Get(GetReq("b"))->kv().value(), "x");
  r = handler_->Txn(txn);  // still holds
  c->set_value("2");
  r = handler_->Txn(txn);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded());
  ASSERT_EQ(r->results_size(), 1);
  EXPECT_EQ(r->results(0).get().kv().value(), "1");
}

TEST_F(KvHandlerTest, SessionRefusesOpsAfterCommit) {
  auto session = handler_->NewSession();
  v1::SessionRequest req;
  req.mutable_begin();
  ASSERT_EQ(session->Handle(req).code(), 0);
  req.mutable_put()->set_key("k");
  ASSERT_EQ(session->Handle(req).code(), 0);
  req.mutable_commit();
  auto committed = session->Handle(req);
  ASSERT_EQ(committed.code(), 0) << committed.message();
  EXPECT_GT(committed.commit().commit_ts(), 0u);
  req.mutable_get()->set_key("k");
  EXPECT_EQ(session->Handle(req).code(),
            static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(handler_->Stats().open_session_txns(), 0u);
}

TEST_F(KvHandlerTest, TooManyOpenTransactionsIsResourceExhausted) {
  ASSERT_TRUE(handler_->BeginTxn({}).ok());
  ASSERT_TRUE(handler_->BeginTxn({}).ok());
  EXPECT_EQ(handler_->BeginTxn({}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(KvHandlerTest, ExpiredLeaseAbortsTheHandleAndReleasesItsSnapshot) {
  auto begun = handler_->BeginTxn({});
  ASSERT_TRUE(begun.ok());
  EXPECT_EQ(db_->GetStats().active_snapshots, 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  v1::TxnGetRequest get;
  get.set_txn_id(begun->txn_id());
  get.set_key("k");
  auto r = handler_->TxnGet(get);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
  EXPECT_EQ(db_->GetStats().active_snapshots, 0u);
  EXPECT_EQ(handler_->Stats().expired_leases(), 1u);
  get.set_txn_id(begun->txn_id() ^ 1);
  EXPECT_EQ(handler_->TxnGet(get).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mvkv::server
