// SIGTERM while clients write: the server drains and exits 0, and with a
// data directory in sync mode no acknowledged commit is lost. Writers record
// every Put the server acknowledged; after the restart each of them must
// read back with its value. (Puts in flight when the signal lands may or may
// not be there; they were never acknowledged.) And the metrics endpoint does
// not slow the stop down.
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

TEST(SigtermTest, DrainsAndLosesNoAcknowledgedCommitInSyncMode) {
  const std::string dir = testing::NewTempDir("data") + "/db";
  auto server = testing::ServerProcess::Start({absl::StrCat("--data_dir=", dir),
                                               "--create", "--durability=sync"})
                    .value();
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> acked;
  std::atomic<int> errors{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      client::ClientOptions options;
      options.timeout = absl::Seconds(5);
      auto client = server->NewClient(options);
      for (int n = 0;; ++n) {
        const std::string key = absl::StrCat("w", t, "/", n);
        const std::string value = absl::StrCat("v", n);
        absl::Status s = client->Put(key, value).status();
        if (!s.ok()) {
          EXPECT_TRUE(absl::IsUnavailable(s) || absl::IsCancelled(s)) << s;
          errors.fetch_add(1);
          return;
        }
        std::lock_guard l(mu);
        acked.emplace_back(key, value);
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
  for (auto& w : writers) w.join();
  ASSERT_GT(acked.size(), 0u);
  std::printf("acknowledged=%zu\n", acked.size());

  auto restarted = testing::ServerProcess::Start(
                       {absl::StrCat("--data_dir=", dir), "--durability=sync"})
                       .value();
  auto client = restarted->NewClient();
  int missing = 0;
  for (const auto& [key, value] : acked) {
    auto kv = client->Get(key);
    if (!kv.ok() || kv->value != value) ++missing;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(restarted->Stop(SIGTERM), 0);
}

// SIGTERM-to-exit time of an idle server with --shutdown_grace=0s.
absl::Duration StopTime(const std::vector<std::string>& args) {
  auto server = testing::ServerProcess::Start(args).value();
  const absl::Time start = absl::Now();
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
  return absl::Now() - start;
}

// Property: --metrics_listen adds no more than a small margin to a stop
// (it added up to 2 s: civetweb's accept loop polls with a 2 s timeout and
// saw its stop flag only then). A functional bound, not a benchmark: a
// margin of 500 ms against a same-run baseline, three rounds interleaved.
TEST(SigtermTest, MetricsEndpointDoesNotDelayTheStop) {
  for (int round = 0; round < 3; ++round) {
    const absl::Duration without = StopTime({"--shutdown_grace=0s"});
    const absl::Duration with = StopTime(
        {"--shutdown_grace=0s", "--metrics_listen=127.0.0.1:0"});
    std::printf("round %d: stop without metrics %s, with metrics %s\n", round,
                absl::FormatDuration(without).c_str(),
                absl::FormatDuration(with).c_str());
    EXPECT_LT(with, without + absl::Milliseconds(500)) << "round " << round;
  }
}

}  // namespace
}  // namespace mvkv
