// Batch and Pipeline against a real mvkv_server process: every result is
// matched to its operation; an operation started after another's result
// sees it; bad input (over --max_batch_ops, over the request size, a
// duplicate id, an unknown operation) is refused for that request only; and
// a client that stops reading its results is held back by flow control
// (the server's memory stays bounded) and, past --pipeline_stall_timeout,
// cancelled; a following Pipeline opens once the server accepted it.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/kv.grpc.pb.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

using client::Client;
using client::Op;
using client::OpOutcome;
using ::testing::HasSubstr;
using testing::ServerProcess;

// A stub on a connection of its own (a distinct channel argument keeps gRPC
// from sharing the client library's connection).
std::unique_ptr<v1::KV::Stub> OwnStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt("mvkv.test.own_connection", 1);
  return v1::KV::NewStub(grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args));
}

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = ServerProcess::Start(
        {"--max_batch_ops=16", "--max_request_bytes=8192",
         "--max_key_bytes=64", "--max_value_bytes=1024"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
    delete server_;
  }
  void SetUp() override { client_ = server_->NewClient(); }

  static ServerProcess* server_;
  std::unique_ptr<Client> client_;
};

ServerProcess* PipelineTest::server_ = nullptr;

TEST_F(PipelineTest, EveryResultIsMatchedToItsOperation) {
  constexpr int kKeys = 100;
  // Packed at most 16 a message, the server's --max_batch_ops.
  std::unique_ptr<client::Pipeline> pipeline =
      client_->OpenPipeline({.max_ops_per_message = 16});
  absl::Mutex mu;
  std::vector<OpOutcome> puts(kKeys), gets(kKeys + 10);
  for (int i = 0; i < kKeys; ++i) {
    pipeline->Start(Op::Put(absl::StrCat("pm/", i), absl::StrCat("v", i)),
                    [&, i](OpOutcome o) {
                      absl::MutexLock l(&mu);
                      puts[i] = std::move(o);
                    });
  }
  pipeline->Wait();
  std::map<uint64_t, int> by_ts;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(puts[i].status.ok()) << i << ": " << puts[i].status;
    EXPECT_EQ(puts[i].result.kind, Op::Kind::kPut);
    EXPECT_TRUE(by_ts.emplace(puts[i].result.commit_ts, i).second)
        << "two writes answered with one commit_ts";
  }
  // Gets of every key and of ten missing ones, started all at once.
  for (int i = 0; i < kKeys + 10; ++i) {
    pipeline->Start(Op::Get(absl::StrCat(i < kKeys ? "pm/" : "pm-none/", i)),
                    [&, i](OpOutcome o) {
                      absl::MutexLock l(&mu);
                      gets[i] = std::move(o);
                    });
  }
  pipeline->Wait();
  EXPECT_EQ(pipeline->in_flight(), 0);
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(gets[i].status.ok()) << i << ": " << gets[i].status;
    EXPECT_EQ(gets[i].result.kv.key, absl::StrCat("pm/", i));
    EXPECT_EQ(gets[i].result.kv.value, absl::StrCat("v", i));
    EXPECT_EQ(gets[i].result.kv.commit_ts, puts[i].result.commit_ts);
  }
  for (int i = kKeys; i < kKeys + 10; ++i) {
    EXPECT_TRUE(absl::IsNotFound(gets[i].status)) << i << gets[i].status;
  }
  EXPECT_TRUE(pipeline->status().ok());
}

// Property: a following Pipeline (PipelineOptions::follow_leader, or a
// client of several servers) lets operations out only once the server
// accepted the stream, which a plain server does at once (its headers come
// before any result, so the open does not wait for the client's timeout);
// a server that refuses connections, listed first, is skipped with nothing
// sent, and the stream opens on the next.
TEST_F(PipelineTest, AFollowingPipelineOpensOnceAcceptedAndSkipsADeadServer) {
  client::ClientOptions o;
  o.timeout = absl::Seconds(5);
  for (const std::string& servers :
       {server_->address(), absl::StrCat("127.0.0.1:1,", server_->address())}) {
    SCOPED_TRACE(servers);
    o.server = servers;
    auto c = *Client::Connect(o);
    auto pipeline = c->OpenPipeline({.follow_leader = true});
    ASSERT_TRUE(pipeline->status().ok()) << pipeline->status();
    OpOutcome put;
    pipeline->Start(Op::Put("pf/k", servers), [&](OpOutcome r) { put = r; });
    pipeline->Wait();
    ASSERT_TRUE(put.status.ok()) << put.status;
    auto kv = client_->Get("pf/k");
    ASSERT_TRUE(kv.ok()) << kv.status();
    EXPECT_EQ(kv->value, servers);
    EXPECT_EQ(kv->commit_ts, put.result.commit_ts);
  }
}

TEST_F(PipelineTest, AnOperationStartedAfterAnothersResultSeesIt) {
  std::unique_ptr<client::Pipeline> pipeline = client_->OpenPipeline();
  absl::Notification read;
  OpOutcome seen;
  pipeline->Start(Op::Put("po/k", "1"), [&](OpOutcome put) {
    ASSERT_TRUE(put.status.ok()) << put.status;
    // Started from the put's callback: ordered after it.
    pipeline->Start(Op::Get("po/k"), [&](OpOutcome get) {
      seen = std::move(get);
      read.Notify();
    });
  });
  ASSERT_TRUE(read.WaitForNotificationWithTimeout(absl::Seconds(30)));
  pipeline->Wait();
  ASSERT_TRUE(seen.status.ok()) << seen.status;
  EXPECT_EQ(seen.result.kv.value, "1");
}

TEST_F(PipelineTest, BatchOutcomesFollowTheRequestOrder) {
  ASSERT_TRUE(client_->Put("pb/old", "o").ok());
  auto r = client_->Batch({Op::Put("pb/a", "1"), Op::Get("pb/old"),
                           Op::Get("pb/none"), Op::Delete("pb/none"),
                           Op::Scan("a", "b")});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_TRUE((*r)[0].status.ok());
  EXPECT_GT((*r)[0].result.commit_ts, 0u);
  EXPECT_EQ((*r)[1].result.kv.value, "o");
  EXPECT_TRUE(absl::IsNotFound((*r)[2].status));
  EXPECT_TRUE((*r)[3].status.ok());
  EXPECT_FALSE((*r)[3].result.existed);
  EXPECT_EQ((*r)[4].status.code(), absl::StatusCode::kInvalidArgument)
      << "a scan is not an autocommit op";
  EXPECT_EQ(client_->Get("pb/a")->value, "1");
}

TEST_F(PipelineTest, ABatchOverTheLimitsIsRefusedAloneAndChangesNothing) {
  std::vector<Op> seventeen;
  for (int i = 0; i < 17; ++i) seventeen.push_back(Op::Put(absl::StrCat("pl/", i), "v"));
  auto r = client_->Batch(seventeen);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("--max_batch_ops"));
  EXPECT_TRUE(absl::IsNotFound(client_->Get("pl/0").status()));
  // Sixteen ops of 1000-byte values: over --max_request_bytes=8192.
  std::vector<Op> big;
  for (int i = 0; i < 16; ++i) {
    big.push_back(Op::Put(absl::StrCat("pl/", i), std::string(1000, 'x')));
  }
  r = client_->Batch(big);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::IsNotFound(client_->Get("pl/0").status()));
  // The connection and the next call go on.
  r = client_->Batch({Op::Put("pl/ok", "1")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*r)[0].status.ok());
}

TEST_F(PipelineTest, DuplicateAndUnknownOperationsAreRefusedAlone) {
  auto stub = OwnStub(server_->address());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  auto stream = stub->Pipeline(&context);
  v1::PipelineRequest request;
  for (uint64_t id : {5, 5}) {
    v1::AutocommitOp* op = request.add_ops();
    op->set_id(id);
    op->mutable_get()->set_key("pd/k");
  }
  request.add_ops()->set_id(6);  // no operation
  ASSERT_TRUE(stream->Write(request));
  std::multimap<uint64_t, v1::AutocommitResult> got;
  v1::PipelineResponse response;
  while (got.size() < 3 && stream->Read(&response)) {
    for (const auto& r : response.results()) got.emplace(r.id(), r);
  }
  ASSERT_EQ(got.size(), 3u);
  int duplicates = 0;
  for (auto [it, end] = got.equal_range(5); it != end; ++it) {
    if (it->second.message().find("duplicate request id 5") !=
        std::string::npos) {
      ++duplicates;
      EXPECT_EQ(it->second.code(),
                static_cast<int>(absl::StatusCode::kInvalidArgument));
    } else {
      EXPECT_EQ(it->second.code(), static_cast<int>(absl::StatusCode::kNotFound));
    }
  }
  EXPECT_EQ(duplicates, 1);
  EXPECT_EQ(got.find(6)->second.code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  // The stream goes on.
  request.Clear();
  v1::AutocommitOp* put = request.add_ops();
  put->set_id(5);
  put->mutable_put()->set_key("pd/k");
  put->mutable_put()->set_value("v");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).code(), 0) << response.results(0).message();
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

// Property: a client that keeps sending reads of a large value and never
// reads a result makes the server stop reading its stream (flow control):
// what the server holds for it stays within the window (plus one largest
// result), the client's writes block, the server's RSS does not grow with
// what the client asked for, and after --pipeline_stall_timeout the server
// cancels the stream and releases everything.
TEST(PipelineStallTest, AClientThatStopsReadingIsHeldBackThenCancelled) {
  constexpr int kValueBytes = 60000;
  constexpr int kWindowBytes = 1 << 20;
  auto server = ServerProcess::Start(
      {"--pipeline_window=64", absl::StrCat("--pipeline_window_bytes=", kWindowBytes),
       "--pipeline_stall_timeout=3s", "--max_value_bytes=65536"});
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<Client> client = (*server)->NewClient();
  ASSERT_TRUE(client->Put("big", std::string(kValueBytes, 'b')).ok());
  auto stats = [&] { return client->GetStats().value(); };
  const long rss_before_kb = (*server)->RssKb();

  auto stub = OwnStub((*server)->address());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  auto stream = stub->Pipeline(&context);
  // 20000 messages of 1000 reads (about 13 KB each, 260 MB in all, more
  // than the socket buffers and HTTP/2 windows hold): 1.2 TB of results
  // asked for, none read.
  constexpr int kMessages = 20000;
  constexpr int kOpsPerMessage = 1000;
  std::atomic<int> sent{0};
  std::thread writer([&] {
    v1::PipelineRequest request;
    for (int m = 0; m < kMessages; ++m) {
      request.Clear();
      for (int i = 0; i < kOpsPerMessage; ++i) {
        v1::AutocommitOp* op = request.add_ops();
        op->set_id(uint64_t{1} * m * kOpsPerMessage + i);
        op->mutable_get()->set_key("big");
      }
      if (!stream->Write(request)) return;  // cancelled
      sent.fetch_add(1, std::memory_order_relaxed);
    }
  });

  // While the stream stalls (before the 3 s timeout): bounded.
  const absl::Time watch_until = absl::Now() + absl::Milliseconds(2500);
  uint64_t max_ops = 0, max_bytes = 0;
  long max_rss_kb = rss_before_kb;
  int sent_a_second_before = -1;
  while (absl::Now() < watch_until) {
    if (sent_a_second_before < 0 &&
        absl::Now() >= watch_until - absl::Milliseconds(1000)) {
      sent_a_second_before = sent.load(std::memory_order_relaxed);
    }
    client::Stats s = stats();
    max_ops = std::max(max_ops, s.Number("pipelined_ops_in_flight"));
    max_bytes = std::max(max_bytes, s.Number("pipelined_bytes_in_flight"));
    max_rss_kb = std::max(max_rss_kb, (*server)->RssKb());
    absl::SleepFor(absl::Milliseconds(50));  // a sampling period
  }
  EXPECT_GT(max_ops, 0u) << "the stream never held anything";
  EXPECT_LE(max_ops, 64u);
  // The window plus one largest read (--max_value_bytes plus the default
  // 1024-byte key cap plus per-result overhead).
  EXPECT_LE(max_bytes, static_cast<uint64_t>(kWindowBytes + 65536 + 1024 + 64));
  // Held back: no write got through in the last second of the watch.
  const int sent_at_end = sent.load(std::memory_order_relaxed);
  EXPECT_LT(sent_at_end, kMessages) << "the client was never held back";
  EXPECT_EQ(sent_at_end, sent_a_second_before) << "the client's writes went on";
  EXPECT_LT(max_rss_kb - rss_before_kb, 100 * 1024)
      << "server RSS grew by " << (max_rss_kb - rss_before_kb) << " KiB";

  // Past the stall timeout the server cancels the stream: the blocked
  // write fails, and once the client reads what its transport had
  // buffered, the stream ends CANCELLED.
  writer.join();
  v1::PipelineResponse unread;
  for (int i = 0; i < 100000 && stream->Read(&unread); ++i) {
  }
  const grpc::Status end = stream->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::CANCELLED) << end.error_message();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  client::Stats s = stats();
  while (s.Number("pipelined_streams") != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    s = stats();
  }
  EXPECT_EQ(s.Number("pipelined_streams"), 0u);
  EXPECT_EQ(s.Number("pipelined_ops_in_flight"), 0u);
  EXPECT_EQ(s.Number("pipelined_bytes_in_flight"), 0u);
  EXPECT_EQ((*server)->Stop(SIGTERM), 0) << (*server)->Log();
}

}  // namespace
}  // namespace mvkv
