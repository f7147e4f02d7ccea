// rpc Watch against real mvkv_server processes: the client library's
// automatic resume across a server restart, a watcher that stops reading
// under a write load (server memory stays bounded, writers all finish, the
// watch ends RESOURCE_EXHAUSTED), auth, and `mvkv watch`.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/kv.grpc.pb.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

using client::WatchEvent;
using client::WatchTarget;

// A server on data directory `dir` (created, or reopened on `port`).
std::unique_ptr<testing::ServerProcess> StartOn(const std::string& dir,
                                                bool create, int port = 0) {
  std::vector<std::string> args = {absl::StrCat("--data_dir=", dir)};
  if (create) args.push_back("--create");
  return testing::ServerProcess::Start(args, client::ClientOptions(), port)
      .value();
}

// Property: a Watcher returns every commit to its prefix exactly once and
// in order across a server restart (it reconnects from the last commit + 1
// by itself), and not a commit outside the prefix.
TEST(WatchE2eTest, WatcherResumesAcrossARestart) {
  const std::string dir = testing::NewTempDir("data") + "/db";
  auto server = StartOn(dir, /*create=*/true);
  const int port = server->port();
  auto c = server->NewClient();
  client::WatchOptions options;
  options.progress_interval = absl::Milliseconds(5);
  auto watcher = c->Watch(WatchTarget::Prefix("w/"), options).value();
  std::vector<uint64_t> want;
  for (int i = 0; i < 5; ++i) {
    want.push_back(c->Put(absl::StrCat("w/", i), "v").value());
    ASSERT_TRUE(c->Put(absl::StrCat("x/", i), "outside").ok());
  }
  const uint64_t last = c->Put("x/last", "outside").value();
  std::vector<uint64_t> got;
  // The restarted server's buffer starts empty: the watcher must be
  // current when it stops (progress events say so while the range idles).
  while (watcher->next_ts() <= last) {
    auto e = watcher->Next();
    ASSERT_TRUE(e.ok()) << e.status();
    if (e->type == WatchEvent::Type::kCommit) got.push_back(e->commit_ts);
  }
  ASSERT_EQ(server->Stop(SIGTERM), 0) << server->Log();
  server = StartOn(dir, /*create=*/false, port);
  auto c2 = server->NewClient();
  // The watcher reconnects while these commit (it may lose the race to a
  // few of them; they are still buffered and start_ts picks them up).
  std::thread reader([&] {
    while (got.size() < 10) {
      auto e = watcher->Next();
      ASSERT_TRUE(e.ok()) << e.status();
      if (e->type != WatchEvent::Type::kCommit) continue;
      ASSERT_EQ(e->changes.size(), 1u);
      got.push_back(e->commit_ts);
    }
  });
  for (int i = 5; i < 10; ++i) {
    want.push_back(c2->Put(absl::StrCat("w/", i), "v").value());
  }
  reader.join();
  EXPECT_EQ(got, want);
  watcher->Cancel();
  EXPECT_EQ(watcher->Next().status().code(), absl::StatusCode::kCancelled);
}

// Property: a batch (several commits in one response) is returned one
// commit at a time, all of it even after the stream died, and the resume
// starts after its last commit: exactly once across a restart.
TEST(WatchE2eTest, WatcherReturnsAWholeBatchThenResumesAfterIt) {
  const std::string dir = testing::NewTempDir("data") + "/db";
  auto server = StartOn(dir, /*create=*/true);
  const int port = server->port();
  auto c = server->NewClient();
  std::vector<uint64_t> want;
  const absl::Time before = absl::Now();
  for (int i = 0; i < 20; ++i) {
    want.push_back(c->Put(absl::StrCat("w/", i), "v").value());
  }
  const absl::Time after = absl::Now();
  // From the first: all 20 are buffered when the watch starts, so the
  // server sends them in one response (max_commits_per_response 1024).
  client::WatchOptions options;
  options.start_ts = want.front();
  auto watcher = c->Watch(WatchTarget::Prefix("w/"), options).value();
  std::vector<uint64_t> got;
  std::vector<absl::Time> stamps;
  auto next = [&] {
    auto e = watcher->Next();
    ASSERT_TRUE(e.ok()) << e.status();
    ASSERT_EQ(e->type, WatchEvent::Type::kCommit);
    ASSERT_EQ(e->changes.size(), 1u);
    got.push_back(e->commit_ts);
    stamps.push_back(e->commit_time);
  };
  for (int i = 0; i < 3; ++i) next();
  ASSERT_EQ(server->Stop(SIGTERM), 0) << server->Log();
  // No server: the rest of the batch comes from the client.
  for (int i = 3; i < 20; ++i) next();
  EXPECT_EQ(watcher->next_ts(), want.back() + 1);
  // Each commit carries the server's clock (this machine's) from while its
  // Put ran, in commit order.
  ASSERT_EQ(stamps.size(), 20u);
  EXPECT_GE(stamps.front(), before);
  EXPECT_LE(stamps.back(), after);
  EXPECT_TRUE(std::is_sorted(stamps.begin(), stamps.end()));
  server = StartOn(dir, /*create=*/false, port);
  auto c2 = server->NewClient();
  std::thread reader([&] {
    for (int i = 0; i < 50 && got.size() < 25; ++i) next();  // bounded
  });
  for (int i = 20; i < 25; ++i) {
    want.push_back(c2->Put(absl::StrCat("w/", i), "v").value());
  }
  reader.join();
  EXPECT_EQ(got, want);
}

// Property: a client that creates a watch and never reads costs the server
// its cursor only. Writers push ~20x the change buffer through while it
// stalls: every write succeeds, the server's RSS grows by far less than the
// bytes committed, and when the client reads again it gets the events that
// were in flight, contiguous, then RESOURCE_EXHAUSTED naming the next one.
TEST(WatchE2eTest, StalledWatcherCostsNoMemoryAndSlowsNoWriter) {
  constexpr int kBufferBytes = 1 << 20;
  auto server = testing::ServerProcess::Start(
                    {absl::StrCat("--watch_buffer_bytes=", kBufferBytes)})
                    .value();
  auto channel = grpc::CreateChannel(server->address(),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::KV::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->Watch(&context);
  v1::WatchRequest create;
  create.mutable_create()->set_watch_id(1);
  create.mutable_create()->set_prefix("");
  ASSERT_TRUE(stream->Write(create));
  v1::WatchResponse r;
  ASSERT_TRUE(stream->Read(&r));
  ASSERT_TRUE(r.has_created());
  uint64_t expect = r.created().start_ts();

  auto c = server->NewClient();
  // Warm up (allocator, gRPC buffers), then measure.
  const std::string value(4096, 'v');
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(c->Put("warm", value).ok());
  const long rss_before = server->RssKb();
  constexpr int kWriters = 4, kPerWriter = 1500;  // ~24 MiB of values
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto wc = server->NewClient();
      for (int i = 0; i < kPerWriter; ++i) {
        // A few keys overwritten: the stored data stays small.
        if (!wc->Put(absl::StrCat("k", w, "/", i % 4), value).ok()) ++failed;
      }
    });
  }
  for (auto& t : writers) t.join();
  const long rss_after = server->RssKb();
  EXPECT_EQ(failed.load(), 0);
  const long committed_kb = long{kWriters} * kPerWriter * 4;
  std::printf("RSS %ld -> %ld KiB while %ld KiB of values committed\n",
              rss_before, rss_after, committed_kb);
  // The bound: the buffer (1 MiB) plus gRPC's flow-control windows and
  // allocator slack, and well under half of what went through.
  EXPECT_LT(rss_after - rss_before, committed_kb / 2);

  auto stats = c->GetStats().value();
  EXPECT_EQ(stats.Number("watches"), 1u);
  int events = 0;
  while (true) {
    r.Clear();
    ASSERT_TRUE(stream->Read(&r));
    if (r.has_ended()) break;
    ASSERT_TRUE(r.has_commit()) << r.DebugString();
    ASSERT_EQ(r.commit().commit_ts(), expect);
    expect = r.commit().commit_ts() + 1;
    ++events;
  }
  EXPECT_EQ(r.ended().code(),
            static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED))
      << r.DebugString();
  EXPECT_EQ(r.ended().restart_ts(), expect);
  EXPECT_LT(events, kWriters * kPerWriter);
  stats = c->GetStats().value();
  EXPECT_EQ(stats.Number("watch_slow_cancellations"), 1u);
  EXPECT_EQ(stats.Number("watches"), 0u);
  context.TryCancel();
}

TEST(WatchE2eTest, NeedsTheToken) {
  client::ClientOptions probe;
  auto server =
      testing::ServerProcess::Start({"--auth_token=s3cret"}, probe).value();
  auto anonymous = server->NewClient();
  EXPECT_EQ(anonymous->Watch(WatchTarget::Prefix("")).status().code(),
            absl::StatusCode::kUnauthenticated);
  client::ClientOptions right;
  right.token = "s3cret";
  auto c = server->NewClient(right);
  auto watcher = c->Watch(WatchTarget::Key("k"));
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  const uint64_t ts = c->Put("k", "v").value();
  auto e = (*watcher)->Next();
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->commit_ts, ts);
}

TEST(WatchE2eTest, CompactedStartSurfacesWithTheOldestTimestamp) {
  auto server =
      testing::ServerProcess::Start({"--watch_buffer_bytes=4096"}).value();
  auto c = server->NewClient();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(c->Put("k", "value").ok());
  client::WatchOptions options;
  options.start_ts = 1;
  auto watcher = c->Watch(WatchTarget::Prefix(""), options);
  EXPECT_EQ(watcher.status().code(), absl::StatusCode::kOutOfRange)
      << watcher.status();
  EXPECT_NE(watcher.status().message().find("compacted"), std::string::npos);
}

TEST(WatchE2eTest, CliPrintsCommitsFromATimestamp) {
  auto server = testing::ServerProcess::Start({}).value();
  auto c = server->NewClient();
  const uint64_t t1 = c->Put("p/a", "1").value();
  ASSERT_TRUE(c->Put("q/a", "outside").ok());
  ASSERT_TRUE(c->Delete("p/a").ok());
  const auto r = testing::RunProcess(
      {testing::Runfile("client/mvkv"),
       absl::StrCat("--server=", server->address()), "--json", "watch", "p/",
       absl::StrCat("--from=", t1), "--count=2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            absl::StrCat("{\"commit_ts\":", t1,
                         ",\"changes\":[{\"key\":\"p/a\",\"value\":\"1\","
                         "\"deleted\":false}]}\n{\"commit_ts\":",
                         t1 + 2,
                         ",\"changes\":[{\"key\":\"p/a\",\"value\":\"\","
                         "\"deleted\":true}]}\n"));
}

}  // namespace
}  // namespace mvkv
