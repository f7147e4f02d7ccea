#include "server/kv_handler.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/testing/gated_durability.h"

namespace mvkv::server {
namespace {

// A clock the tests move by hand: leases and ages expire exactly when a test
// says so, with no reaper thread and no sleeping.
class FakeClock {
 public:
  absl::Time Now() const { return absl::FromUnixNanos(ns_.load()); }
  void Advance(absl::Duration d) { ns_ += absl::ToInt64Nanoseconds(d); }
  std::function<absl::Time()> AsFunction() {
    return [this] { return Now(); };
  }

 private:
  std::atomic<int64_t> ns_{absl::ToUnixNanos(absl::Now())};
};

class KvHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options o;
    o.limits = {.max_key_bytes = 16, .max_value_bytes = 32};
    db_ = Database::Open(o).value();
    HandlerOptions h;
    h.txns.max_open_txns = 2;
    h.txns.txn_lease = absl::Milliseconds(100);
    h.txns.clock = clock_.AsFunction();
    h.txns.reaper_thread = false;
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

  FakeClock clock_;
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

TEST_F(KvHandlerTest, CompareAndCommitAppliesSuccessOnlyWhenComparesHold) {
  ASSERT_TRUE(handler_->Put(PutReq("a", "1")).ok());
  v1::CompareAndCommitRequest txn;
  auto* c = txn.add_compares();
  c->set_key("a");
  c->set_target(v1::Compare::VALUE);
  c->set_value("1");
  txn.add_success()->mutable_put()->set_key("b");
  txn.mutable_success(0)->mutable_put()->set_value("x");
  txn.add_failure()->mutable_get()->set_key("a");
  auto r = handler_->CompareAndCommit(txn);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded());
  EXPECT_EQ(handler_->Get(GetReq("b"))->kv().value(), "x");
  c->set_value("2");
  r = handler_->CompareAndCommit(txn);
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
  clock_.Advance(absl::Milliseconds(99));
  handler_->Reap(clock_.Now());  // still within the lease
  EXPECT_EQ(db_->GetStats().active_snapshots, 1u);
  clock_.Advance(absl::Milliseconds(2));
  handler_->Reap(clock_.Now());
  v1::TxnGetRequest get;
  get.set_txn_id(begun->txn_id());
  get.set_key("k");
  auto r = handler_->TxnGet(get);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr(absl::StrCat("transaction ", begun->txn_id(),
                                                " was rolled back: its lease")));
  EXPECT_EQ(db_->GetStats().active_snapshots, 0u);
  EXPECT_EQ(handler_->Stats().expired_leases(), 1u);
  get.set_txn_id(begun->txn_id() ^ 1);
  EXPECT_EQ(handler_->TxnGet(get).status().code(), absl::StatusCode::kNotFound);
}

// While a handle's commit is in flight (held before durability), other calls
// on the handle are refused without touching it, and the reaper does not
// expire it even past its lease: the commit's end finishes the handle.
TEST(KvHandlerCommitTest, CommitInFlightIsLeftAloneByCallsAndTheReaper) {
  testing_support::GatedDurability durable;
  Options o;
  o.durability = &durable;
  auto db = Database::Open(o).value();
  FakeClock clock;
  HandlerOptions h;
  h.txns.txn_lease = absl::Milliseconds(50);
  h.txns.clock = clock.AsFunction();
  h.txns.reaper_thread = false;
  KvHandler handler(db.get(), h);
  auto begun = handler.BeginTxn({});
  ASSERT_TRUE(begun.ok()) << begun.status();
  v1::TxnPutRequest put;
  put.set_txn_id(begun->txn_id());
  put.set_key("k");
  put.set_value("v");
  ASSERT_TRUE(handler.TxnPut(put).ok());

  durable.SetOpen(false);
  std::mutex mu;
  std::optional<absl::StatusOr<v1::CommitResponse>> result;
  v1::CommitTxnRequest commit;
  commit.set_txn_id(begun->txn_id());
  handler.CommitTxnAsync(commit, [&](absl::StatusOr<v1::CommitResponse> r) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(r);
  });
  durable.WaitForHeldBatch();
  v1::TxnGetRequest get;
  get.set_txn_id(begun->txn_id());
  get.set_key("k");
  auto during = handler.TxnGet(get);
  EXPECT_EQ(during.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(during.status().message()),
              ::testing::HasSubstr("commit in progress"));
  clock.Advance(absl::Seconds(1));  // far past the lease
  handler.Reap(clock.Now());
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_FALSE(result.has_value());
  }
  durable.SetOpen(true);
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (result.has_value()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_GT((*result)->commit_ts(), 0u);
  EXPECT_EQ(*db->Get("k"), "v");
  EXPECT_EQ(handler.Stats().expired_leases(), 0u);
  EXPECT_THAT(std::string(handler.TxnGet(get).status().message()),
              ::testing::HasSubstr("already committed"));
}

}  // namespace
}  // namespace mvkv::server
