// bench's null_server serves rpc Watch as watch_rpc_bench's `null` baseline
// assumes: each write reaches exactly the watches whose key, prefix or
// range holds it, stamped with the write's own commit_ts and a commit time
// taken during the call, values only where asked; one writer's commits
// reach each watch once, in order, however they are packed (commits,
// shared batches); bad requests end only their watch. A real null_server
// process on 127.0.0.1 (a free port), stopped at the end.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/ycsb/process.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/kv.grpc.pb.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

using Stream = grpc::ClientReaderWriter<v1::WatchRequest, v1::WatchResponse>;

class NullWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = ycsb::ChildProcess::StartMvkvServer(
        testing::Runfile("bench/ycsb/null_server"), {});
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = *std::move(p);
    stub_ = v1::KV::NewStub(grpc::CreateChannel(
        server_->address(), grpc::InsecureChannelCredentials()));
  }

  // Opens a stream whose calls end within 60 s whatever happens, on a
  // channel of its own with a fixed 64 KiB receive window (no BDP probing):
  // what it leaves unread holds the server's writes back soon, and never
  // the Puts'.
  std::unique_ptr<Stream> Open(grpc::ClientContext* context) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
    watch_stub_ = v1::KV::NewStub(grpc::CreateCustomChannel(
        server_->address(), grpc::InsecureChannelCredentials(), args));
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(60));
    return watch_stub_->Watch(context);
  }
  // Writes `create` and reads its answer, which must be `created`.
  static void Create(Stream& stream, const v1::WatchCreateRequest& create) {
    v1::WatchRequest request;
    *request.mutable_create() = create;
    ASSERT_TRUE(stream.Write(request));
    v1::WatchResponse r;
    ASSERT_TRUE(stream.Read(&r));
    ASSERT_TRUE(r.has_created()) << r.DebugString();
    EXPECT_EQ(r.watch_id(), create.watch_id());
  }
  // Writes `request` and reads its answer, which must be watch `id`'s
  // `ended` with `code`; its message into *message if given.
  static void ExpectEnded(Stream& stream, const v1::WatchRequest& request,
                          uint64_t id, grpc::StatusCode code,
                          std::string* message = nullptr) {
    ASSERT_TRUE(stream.Write(request));
    v1::WatchResponse r;
    ASSERT_TRUE(stream.Read(&r));
    ASSERT_TRUE(r.has_ended()) << r.DebugString();
    EXPECT_EQ(r.watch_id(), id);
    EXPECT_EQ(r.ended().code(), code) << r.ended().message();
    if (message != nullptr) *message = r.ended().message();
  }
  // The Put's commit_ts.
  uint64_t Put(const std::string& key, const std::string& value) {
    grpc::ClientContext context;
    v1::PutRequest request;
    request.set_key(key);
    request.set_value(value);
    v1::PutResponse response;
    const grpc::Status status = stub_->Put(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.commit_ts();
  }

  std::unique_ptr<ycsb::ChildProcess> server_;
  std::unique_ptr<v1::KV::Stub> stub_;
  std::unique_ptr<v1::KV::Stub> watch_stub_;
};

v1::WatchCreateRequest Watch(uint64_t id) {
  v1::WatchCreateRequest c;
  c.set_watch_id(id);
  return c;
}

TEST_F(NullWatchTest, EachWriteReachesTheWatchesHoldingItsKey) {
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = Open(&context);
  v1::WatchCreateRequest prefix = Watch(1);
  prefix.set_prefix("a/");
  v1::WatchCreateRequest key = Watch(2);
  key.set_key("b");
  key.set_keys_only(true);
  v1::WatchCreateRequest range = Watch(3);
  range.mutable_range()->set_start("c");
  range.mutable_range()->set_end("d");
  for (const auto& c : {prefix, key, range}) {
    ASSERT_NO_FATAL_FAILURE(Create(*stream, c));
  }

  const int64_t before = absl::GetCurrentTimeNanos();
  const uint64_t ts_a = Put("a/1", "va");
  Put("z", "outside every watch");
  const uint64_t ts_b = Put("b", "vb");
  Put("ba", "not the key b");
  grpc::ClientContext del_context;
  v1::DeleteRequest del;
  del.set_key("c/x");
  v1::DeleteResponse deleted;
  ASSERT_TRUE(stub_->Delete(&del_context, del, &deleted).ok());
  const int64_t after = absl::GetCurrentTimeNanos();

  // One response per watch, in write order (one writer, one stream).
  struct Want {
    uint64_t id, ts;
    std::string key, value;
    bool deleted;
  };
  const std::vector<Want> want = {{1, ts_a, "a/1", "va", false},
                                  {2, ts_b, "b", "", false},
                                  {3, deleted.commit_ts(), "c/x", "", true}};
  for (const Want& w : want) {
    v1::WatchResponse r;
    ASSERT_TRUE(stream->Read(&r));
    ASSERT_TRUE(r.has_commit()) << r.DebugString();
    EXPECT_EQ(r.watch_id(), w.id);
    EXPECT_EQ(r.commit().commit_ts(), w.ts);
    EXPECT_GE(r.commit().commit_time_unix_ns(), before);
    EXPECT_LE(r.commit().commit_time_unix_ns(), after);
    ASSERT_EQ(r.commit().changes_size(), 1);
    EXPECT_EQ(r.commit().changes(0).key(), w.key);
    EXPECT_EQ(r.commit().changes(0).value(), w.value);
    EXPECT_EQ(r.commit().changes(0).deleted(), w.deleted);
  }

  // Bad requests end only their own watch.
  v1::WatchRequest cancel;
  cancel.mutable_cancel()->set_watch_id(7);
  std::string message;
  ASSERT_NO_FATAL_FAILURE(
      ExpectEnded(*stream, cancel, 7, grpc::StatusCode::NOT_FOUND, &message));
  EXPECT_NE(message.find("no watch 7"), std::string::npos) << message;
  v1::WatchRequest history;
  *history.mutable_create() = Watch(4);
  history.mutable_create()->set_start_ts(1);
  ASSERT_NO_FATAL_FAILURE(
      ExpectEnded(*stream, history, 4, grpc::StatusCode::INVALID_ARGUMENT));
  v1::WatchRequest dup;
  *dup.mutable_create() = Watch(1);
  ASSERT_NO_FATAL_FAILURE(
      ExpectEnded(*stream, dup, 1, grpc::StatusCode::INVALID_ARGUMENT));

  // Watch 1 still runs, and a cancelled watch gets nothing more.
  cancel.mutable_cancel()->set_watch_id(3);
  ASSERT_NO_FATAL_FAILURE(
      ExpectEnded(*stream, cancel, 3, grpc::StatusCode::CANCELLED));
  Put("c/y", "after the cancel");
  const uint64_t ts_a2 = Put("a/2", "va2");
  v1::WatchResponse r;
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.watch_id(), 1u) << r.DebugString();
  EXPECT_EQ(r.commit().commit_ts(), ts_a2);
  stream->WritesDone();
  context.TryCancel();
}

// Writes made while the stream is not read (about 1 MiB of events against
// its 64 KiB window) pile up and go out packed; each watch still gets each
// of its commits once, in commit order, and watch 3, which does not share,
// never inside a batch.
TEST_F(NullWatchTest, PackedResponsesKeepEveryCommitOnceInOrder) {
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = Open(&context);
  constexpr int kWatches = 3, kPuts = 3000;
  for (int id = 1; id <= kWatches; ++id) {
    v1::WatchCreateRequest c = Watch(id);
    c.set_prefix("s/");
    c.set_max_commits_per_response(64);
    c.set_share_responses(id != 3);  // watch 3 never goes in a batch
    ASSERT_NO_FATAL_FAILURE(Create(*stream, c));
  }
  std::vector<uint64_t> written;
  for (int i = 0; i < kPuts; ++i) {
    written.push_back(Put(absl::StrCat("s/", i), std::string(100, 'v')));
  }
  std::map<uint64_t, std::vector<uint64_t>> got;
  int packed = 0, batches = 0;
  std::size_t events = 0;
  auto take = [&](const v1::WatchResponse& one) {
    if (one.has_commit()) {
      got[one.watch_id()].push_back(one.commit().commit_ts());
      ++events;
    }
    for (const auto& c : one.commits().commits()) {
      got[one.watch_id()].push_back(c.commit_ts());
      ++events;
    }
    if (one.commits().commits_size() > 1) ++packed;
  };
  while (events < written.size() * kWatches) {
    v1::WatchResponse r;
    ASSERT_TRUE(stream->Read(&r)) << events << " events read";
    ASSERT_FALSE(r.has_ended()) << r.DebugString();
    take(r);
    if (r.has_batch()) {
      ++batches;
      std::map<uint64_t, int> ids;
      for (const auto& one : r.batch().responses()) {
        EXPECT_NE(one.watch_id(), 3u) << "watch 3 does not share";
        EXPECT_EQ(++ids[one.watch_id()], 1) << "a watch twice in a batch";
        take(one);
      }
      EXPECT_GE(r.batch().responses_size(), 2);
    }
  }
  for (int id = 1; id <= kWatches; ++id) EXPECT_EQ(got[id], written) << id;
  // The window filled long before the last Put, so commits waited and
  // were packed; if none was, the packing above was not exercised.
  EXPECT_GT(packed, 0);
  std::printf("responses packing several commits: %d, shared batches: %d\n",
              packed, batches);
  stream->WritesDone();
  context.TryCancel();
}

}  // namespace
}  // namespace mvkv
