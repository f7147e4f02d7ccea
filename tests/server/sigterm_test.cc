// SIGTERM while clients write: the server drains and exits 0, and with a
// data directory in sync mode no acknowledged commit is lost. Writers record
// every Put the server acknowledged; after the restart each of them must
// read back with its value. (Puts in flight when the signal lands may or may
// not be there; they were never acknowledged.)
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

}  // namespace
}  // namespace mvkv
