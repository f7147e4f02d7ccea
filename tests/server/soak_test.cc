// Bounded soak: N clients for T seconds of mixed traffic (autocommit puts,
// gets and scans, one-shot Txns, Session transactions, handles) over a
// bounded key space on a real mvkv_server, with the server's RSS sampled
// from /proc every 250 ms.
//
// Properties: (1) no call fails except with ABORTED (expected conflicts);
// (2) no growth after warm-up: with the key space bounded, every sample in
// the second half of the run stays within max(25%, 16 MiB) of the largest
// sample of the first half (warm-up: allocator arenas, gRPC buffers, the
// key space filling up); (3) at the end no transaction is open and no
// snapshot registered. Env: MVKV_SOAK_CLIENTS (default 4),
// MVKV_SOAK_SECONDS (default 8), MVKV_SOAK_KEYS (default 2000).
#include <atomic>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoi(v) : fallback;
}

absl::Status OneOp(client::Client& c, std::mt19937_64& rng, int keys) {
  auto key = [&] { return absl::StrCat("soak/", rng() % keys); };
  const std::string value(16 + rng() % 200, 'x');
  switch (rng() % 6) {
    case 0:
      return c.Put(key(), value).status();
    case 1: {
      absl::Status s = c.Get(key()).status();
      return absl::IsNotFound(s) ? absl::OkStatus() : s;
    }
    case 2: {
      const std::string start = key();
      return c.Scan(start, "", 20).status();
    }
    case 3: {
      using client::Compare;
      using client::Op;
      return c
          .CompareAndCommit({Compare::Exists(key(), true)}, {Op::Delete(key())},
                            {Op::Put(key(), value)})
          .status();
    }
    case 4:
      return c.Transact([&](client::Txn& txn) -> absl::Status {
        const std::string a = key(), b = key();
        absl::Status s = txn.Get(a).status();
        if (!s.ok() && !absl::IsNotFound(s)) return s;
        if (s = txn.Put(a, value); !s.ok()) return s;
        return txn.Put(b, value);
      });
    default: {
      auto handle = c.BeginHandle();
      if (!handle.ok()) return handle.status();
      if (absl::Status s = (*handle)->Put(key(), value); !s.ok()) return s;
      return (*handle)->Commit().status();
    }
  }
}

TEST(SoakTest, MixedTrafficCausesNoErrorsAndNoGrowthAfterWarmUp) {
  const int clients = EnvInt("MVKV_SOAK_CLIENTS", 4);
  const int seconds = EnvInt("MVKV_SOAK_SECONDS", 8);
  const int keys = EnvInt("MVKV_SOAK_KEYS", 2000);
  const uint64_t seed = std::random_device{}();
  std::printf("seed=%llu clients=%d seconds=%d keys=%d\n",
              static_cast<unsigned long long>(seed), clients, seconds, keys);
  auto server = testing::ServerProcess::Start({}).value();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0}, aborts{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      auto c = server->NewClient();
      std::mt19937_64 rng(seed + t);
      while (!stop.load(std::memory_order_relaxed)) {
        absl::Status s = OneOp(*c, rng, keys);
        ops.fetch_add(1, std::memory_order_relaxed);
        if (absl::IsAborted(s)) {
          aborts.fetch_add(1, std::memory_order_relaxed);
        } else if (!s.ok()) {
          if (errors.fetch_add(1) < 5) ADD_FAILURE() << s;
        }
      }
    });
  }
  std::vector<long> rss;
  const absl::Time end = absl::Now() + absl::Seconds(seconds);
  while (absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(250));
    rss.push_back(server->RssKb());
  }
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_GE(rss.size(), 4u);
  const std::size_t half = rss.size() / 2;
  const long warm = *std::max_element(rss.begin(), rss.begin() + half);
  const long late = *std::max_element(rss.begin() + half, rss.end());
  const long tolerance = std::max(warm / 4, 16L * 1024);
  std::printf(
      "ops=%llu aborts=%llu errors=%llu rss_kb warm-up max=%ld "
      "after max=%ld (tolerance %ld)\n",
      static_cast<unsigned long long>(ops.load()),
      static_cast<unsigned long long>(aborts.load()),
      static_cast<unsigned long long>(errors.load()), warm, late, tolerance);
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_LE(late, warm + tolerance);
  // The clients' streams have ended; the server notices asynchronously.
  auto c = server->NewClient();
  client::Stats stats;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(10);
       absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(10))) {
    stats = c->GetStats().value();
    if (stats.Number("open_session_txns") == 0 &&
        stats.Number("active_snapshots") == 0) {
      break;
    }
  }
  EXPECT_EQ(stats.Number("open_session_txns"), 0u);
  EXPECT_EQ(stats.Number("open_handles"), 0u);
  EXPECT_EQ(stats.Number("active_snapshots"), 0u);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace mvkv
