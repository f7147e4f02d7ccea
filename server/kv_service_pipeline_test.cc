// The Pipeline stream over gRPC, in process, with the database's durability
// held shut where a test needs a write in flight: results come back by id
// in completion order (a read overtakes a held write); a duplicate of an id
// in flight is refused for that op only; writes of one stream commit in the
// order they arrive; bad ops and oversized messages leave the stream open.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "mvcc/testing/gated_durability.h"
#include "proto/kv.grpc.pb.h"
#include "server/testing/autocommit_ops.h"
#include "server/testing/in_process_server.h"

namespace mvkv::server {
namespace {

using ::testing::HasSubstr;
using testing_support::GetOp;
using testing_support::PutOp;
using Stream =
    grpc::ClientReaderWriter<v1::PipelineRequest, v1::PipelineResponse>;

constexpr int kInvalid = static_cast<int>(absl::StatusCode::kInvalidArgument);

class PipelineServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::InProcessOptions options;
    options.db.durability = &durable_;
    options.handler.max_batch_ops = 4;
    options.handler.txns.reaper_thread = false;
    server_ = std::make_unique<testing::InProcessServer>(options);
    ASSERT_TRUE(server_->ok());
    stub_ = v1::KV::NewStub(server_->channel());
    context_.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(60));
    stream_ = stub_->Pipeline(&context_);
  }
  void TearDown() override {
    durable_.SetOpen(true);
    if (stream_ != nullptr) {
      stream_->WritesDone();
      EXPECT_TRUE(stream_->Finish().ok());
    }
    server_.reset();
  }

  void Send(std::vector<v1::AutocommitOp> ops) {
    v1::PipelineRequest request;
    for (v1::AutocommitOp& op : ops) *request.add_ops() = std::move(op);
    ASSERT_TRUE(stream_->Write(request));
  }
  // Reads responses until `n` results have come, in arrival order.
  std::vector<v1::AutocommitResult> Receive(int n) {
    std::vector<v1::AutocommitResult> out;
    v1::PipelineResponse response;
    while (static_cast<int>(out.size()) < n && stream_->Read(&response)) {
      for (const auto& r : response.results()) out.push_back(r);
    }
    EXPECT_EQ(static_cast<int>(out.size()), n);
    return out;
  }

  testing_support::GatedDurability durable_;
  std::unique_ptr<testing::InProcessServer> server_;
  std::unique_ptr<v1::KV::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
};

TEST_F(PipelineServiceTest, AReadOvertakesAWriteHeldInFlight) {
  ASSERT_TRUE(server_->db().Put("other", "o").ok());
  durable_.SetOpen(false);
  Send({PutOp(1, "k", "v"), GetOp(2, "other")});
  durable_.WaitForHeldBatch();
  std::vector<v1::AutocommitResult> first = Receive(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].id(), 2u);
  EXPECT_EQ(first[0].get().kv().value(), "o");
  EXPECT_FALSE(durable_.Persisted("k"));
  durable_.SetOpen(true);
  std::vector<v1::AutocommitResult> second = Receive(1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].id(), 1u);
  EXPECT_EQ(second[0].code(), 0);
  EXPECT_GT(second[0].put().commit_ts(), 0u);
  EXPECT_TRUE(durable_.Persisted("k"));
}

TEST_F(PipelineServiceTest, ADuplicateOfAnIdInFlightIsRefusedAlone) {
  ASSERT_TRUE(server_->db().Put("g", "1").ok());
  durable_.SetOpen(false);
  Send({PutOp(7, "k", "v")});
  durable_.WaitForHeldBatch();
  Send({GetOp(7, "g"), GetOp(8, "g")});
  std::map<uint64_t, v1::AutocommitResult> got;
  for (auto& r : Receive(2)) got[r.id()] = r;
  EXPECT_EQ(got[7].code(), kInvalid);
  EXPECT_THAT(got[7].message(), HasSubstr("duplicate request id 7"));
  EXPECT_EQ(got[8].code(), 0);
  durable_.SetOpen(true);
  std::vector<v1::AutocommitResult> put = Receive(1);
  ASSERT_EQ(put.size(), 1u);
  EXPECT_EQ(put[0].id(), 7u);
  EXPECT_EQ(put[0].code(), 0) << put[0].message();
  // Its result has arrived: the id may be used again.
  Send({GetOp(7, "k")});
  std::vector<v1::AutocommitResult> again = Receive(1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].code(), 0) << again[0].message();
  EXPECT_EQ(again[0].get().kv().value(), "v");
}

TEST_F(PipelineServiceTest, WritesOfOneStreamCommitInTheOrderTheyArrive) {
  constexpr int kWrites = 40;
  for (int i = 0; i < kWrites; i += 4) {
    std::vector<v1::AutocommitOp> ops;
    for (int j = i; j < i + 4; ++j) ops.push_back(PutOp(j, "seq", absl::StrCat(j)));
    Send(std::move(ops));
  }
  std::map<uint64_t, uint64_t> ts;  // id -> commit_ts
  for (auto& r : Receive(kWrites)) {
    EXPECT_EQ(r.code(), 0) << r.message();
    ts[r.id()] = r.put().commit_ts();
  }
  ASSERT_EQ(ts.size(), static_cast<std::size_t>(kWrites));
  for (int i = 1; i < kWrites; ++i) EXPECT_LT(ts[i - 1], ts[i]) << i;
  EXPECT_EQ(server_->db().Get("seq").value(), absl::StrCat(kWrites - 1));
}

TEST_F(PipelineServiceTest, BadOpsAndOversizedMessagesLeaveTheStreamOpen) {
  v1::AutocommitOp unknown;
  unknown.set_id(1);
  Send({unknown, GetOp(2, "")});  // no op set; an empty key
  for (const auto& r : Receive(2)) {
    EXPECT_EQ(r.code(), kInvalid) << r.id();
  }
  // Five ops: one over max_batch_ops = 4; none of them runs.
  std::vector<v1::AutocommitOp> five;
  for (int i = 10; i < 15; ++i) five.push_back(PutOp(i, absl::StrCat("o", i), "v"));
  Send(five);
  for (const auto& r : Receive(5)) {
    EXPECT_EQ(r.code(), kInvalid) << r.id();
    EXPECT_THAT(r.message(), HasSubstr("at most 4"));
  }
  EXPECT_EQ(server_->db().GetStats().commits, 0u);
  Send({PutOp(20, "after", "x"), GetOp(21, "absent")});
  std::map<uint64_t, v1::AutocommitResult> got;
  for (auto& r : Receive(2)) got[r.id()] = r;
  EXPECT_EQ(got[20].code(), 0);
  EXPECT_EQ(got[21].code(), static_cast<int>(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace mvkv::server
