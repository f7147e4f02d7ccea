// KvHandler's Batch: every op answered at its index with the code its unary
// call would give; a batch over max_batch_ops runs nothing; reads stop at
// the response cap; a write's result waits for its commit to be durable.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/testing/gated_durability.h"
#include "server/kv_handler.h"
#include "server/testing/autocommit_ops.h"

namespace mvkv::server {
namespace {

using ::testing::HasSubstr;
using testing_support::DeleteOp;
using testing_support::GetOp;
using testing_support::PutOp;

class KvHandlerBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options o;
    o.limits = {.max_key_bytes = 16, .max_value_bytes = 32};
    o.durability = &durable_;
    db_ = Database::Open(o).value();
    HandlerOptions h;
    h.txns.reaper_thread = false;
    h.max_batch_ops = 8;
    h.max_batch_response_bytes = 64;
    handler_ = std::make_unique<KvHandler>(db_.get(), h);
  }
  void TearDown() override {
    durable_.SetOpen(true);
    handler_.reset();
    db_.reset();
  }

  testing_support::GatedDurability durable_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<KvHandler> handler_;
};

TEST_F(KvHandlerBatchTest, AnswersEveryOpAtItsIndexWithItsUnaryCode) {
  ASSERT_TRUE(db_->Put("x", "1").ok());
  ASSERT_TRUE(db_->Put("z", "9").ok());
  v1::BatchRequest request;
  *request.add_ops() = GetOp(10, "x");
  *request.add_ops() = GetOp(11, "missing");
  *request.add_ops() = PutOp(12, "y", "2");
  *request.add_ops() = DeleteOp(13, "z");
  *request.add_ops() = DeleteOp(14, "never");
  request.add_ops()->set_id(15);  // no operation set
  *request.add_ops() = GetOp(16, std::string(17, 'k'));  // key too long
  auto r = handler_->Batch(request);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->results_size(), request.ops_size());
  for (int i = 0; i < r->results_size(); ++i) {
    EXPECT_EQ(r->results(i).id(), request.ops(i).id()) << i;
  }
  EXPECT_EQ(r->results(0).code(), 0);
  EXPECT_EQ(r->results(0).get().kv().value(), "1");
  EXPECT_EQ(r->results(1).code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(r->results(2).code(), 0);
  EXPECT_GT(r->results(2).put().commit_ts(), 0u);
  EXPECT_TRUE(r->results(3).delete_().existed());
  EXPECT_GT(r->results(3).delete_().commit_ts(), 0u);
  EXPECT_EQ(r->results(4).code(), 0);
  EXPECT_FALSE(r->results(4).delete_().existed());
  EXPECT_EQ(r->results(5).code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(r->results(5).message(), HasSubstr("no operation set"));
  EXPECT_EQ(r->results(6).code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(db_->Get("y").value(), "2");
  EXPECT_TRUE(absl::IsNotFound(db_->Get("z").status()));
}

TEST_F(KvHandlerBatchTest, OverMaxBatchOpsIsRefusedAndRunsNothing) {
  v1::BatchRequest request;
  for (int i = 0; i < 9; ++i) {
    *request.add_ops() = PutOp(i, "k" + std::to_string(i), "v");
  }
  auto r = handler_->Batch(request);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("at most 8"));
  EXPECT_EQ(db_->GetStats().commits, 0u);
}

TEST_F(KvHandlerBatchTest, ReadsStopAtTheResponseCap) {
  const std::string value(32, 'v');  // two of them fill the 64-byte cap
  for (const char* k : {"a", "b", "c"}) ASSERT_TRUE(db_->Put(k, value).ok());
  v1::BatchRequest request;
  *request.add_ops() = GetOp(1, "a");
  *request.add_ops() = GetOp(2, "b");
  *request.add_ops() = GetOp(3, "c");
  *request.add_ops() = PutOp(4, "d", "written anyway");
  auto r = handler_->Batch(request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->results(0).get().kv().value(), value);
  EXPECT_EQ(r->results(1).get().kv().value(), value);
  EXPECT_EQ(r->results(2).code(),
            static_cast<int>(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(r->results(2).message(), HasSubstr("cap"));
  EXPECT_EQ(r->results(3).code(), 0);
}

// Property: the batch's reply waits for its writes to be durable (the
// durability gate is held shut, then opened).
TEST_F(KvHandlerBatchTest, RepliesOnlyOnceItsWritesAreDurable) {
  durable_.SetOpen(false);
  v1::BatchRequest request;
  *request.add_ops() = PutOp(1, "p", "1");
  *request.add_ops() = GetOp(2, "p");
  // std::mutex, not absl::Notification: TSan sees pthread locks, not the
  // (uninstrumented) system absl's futex waits.
  std::mutex mu;
  std::condition_variable cv;
  bool replied = false;
  absl::StatusOr<v1::BatchResponse> result;
  handler_->BatchAsync(request, [&](absl::StatusOr<v1::BatchResponse> r) {
    std::lock_guard<std::mutex> l(mu);
    result = std::move(r);
    replied = true;
    cv.notify_all();
  });
  durable_.WaitForHeldBatch();
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_FALSE(replied);
  }
  EXPECT_FALSE(durable_.Persisted("p"));
  durable_.SetOpen(true);
  std::unique_lock<std::mutex> l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return replied; }));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->results(0).code(), 0);
  EXPECT_TRUE(durable_.Persisted("p"));
}

}  // namespace
}  // namespace mvkv::server
