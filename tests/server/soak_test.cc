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
      v1::TxnRequest t;
      auto* cmp = t.add_compares();
      cmp->set_key(key());
      cmp->set_target(v1::Compare::EXISTS);
      cmp->set_exists(true);
      t.add_success()->mutable_delete_()->set_key(key());
      auto* put = t.add_failure()->mutable_put();
      put->set_key(key());
      put->set_value(value);
      return c.Txn(t).status();
    }
    case 4:
      return c.Transact([&](client::Transaction& txn) -> absl::Status {
        const std::string a = key(), b = key();
        absl::Status s = txn.Get(a).status();
        if (!s.ok() && !absl::IsNotFound(s)) return s;
        if (s = txn.Put(a, value); !s.ok()) return s;
        return txn.Put(b, value);
      });
    default: {
      grpc::ClientContext begin_ctx, put_ctx, commit_ctx;
      c.PrepareContext(&begin_ctx, absl::Seconds(10));
      c.PrepareContext(&put_ctx, absl::Seconds(10));
      c.PrepareContext(&commit_ctx, absl::Seconds(10));
      v1::BeginTxnResponse begun;
      grpc::Status s = c.stub()->BeginTxn(&begin_ctx, {}, &begun);
      if (!s.ok()) return client::FromGrpc(s);
      v1::TxnPutRequest put;
      put.set_txn_id(begun.txn_id());
      put.set_key(key());
      put.set_value(value);
      v1::TxnPutResponse put_r;
      s = c.stub()->TxnPut(&put_ctx, put, &put_r);
      if (!s.ok()) return client::FromGrpc(s);
      v1::CommitTxnRequest commit;
      commit.set_txn_id(begun.txn_id());
      v1::CommitResponse commit_r;
      return client::FromGrpc(
          c.stub()->CommitTxn(&commit_ctx, commit, &commit_r));
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
  auto c = server->NewClient();
  absl::SleepFor(absl::Milliseconds(200));
  auto stats = c->Stats().value();
  EXPECT_EQ(stats.open_session_txns(), 0u);
  EXPECT_EQ(stats.open_handles(), 0u);
  EXPECT_EQ(stats.active_snapshots(), 0u);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace mvkv
