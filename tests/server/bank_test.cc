// Concurrent clients move money between accounts through interactive
// transactions (Session streams) on a real mvkv_server.
//
// Property: every transfer is a transaction that reads two balances and
// writes both; with snapshot isolation (first committer wins) or
// serializable, no update is lost, so the sum of all balances stays
// kAccounts * kInitial at every snapshot: checked by concurrent auditors
// (one snapshot transaction scanning every account) and at the end.
// Conflicts surface as ABORTED and are retried by Client::Transact.
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

constexpr int kAccounts = 10;
constexpr int64_t kInitial = 1000;

std::string Account(int i) { return absl::StrFormat("acct/%02d", i); }

int64_t Sum(const client::ScanResult& scan) {
  int64_t sum = 0;
  for (const auto& kv : scan.kvs) {
    int64_t v = 0;
    EXPECT_TRUE(absl::SimpleAtoi(kv.value, &v)) << kv.value;
    sum += v;
  }
  return sum;
}

TEST(BankTest, ConcurrentTransfersPreserveTheTotal) {
  const uint64_t seed = std::random_device{}();
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  auto server = testing::ServerProcess::Start({}).value();
  auto setup = server->NewClient();
  for (int i = 0; i < kAccounts; ++i) {
    ASSERT_TRUE(setup->Put(Account(i), absl::StrCat(kInitial)).ok());
  }
  constexpr int kThreads = 6;
  constexpr int kTransfers = 60;
  std::atomic<int> done{0}, gave_up{0}, audits{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = server->NewClient();
      std::mt19937_64 rng(seed + t);
      client::Client::TransactOptions options;
      options.isolation = t % 2 == 0 ? client::Isolation::kSnapshot
                                     : client::Isolation::kSerializable;
      options.retry.max_attempts = 50;
      for (int n = 0; n < kTransfers; ++n) {
        const int from = rng() % kAccounts;
        const int to = (from + 1 + rng() % (kAccounts - 1)) % kAccounts;
        const int64_t amount = rng() % 50;
        absl::Status s = client->Transact(
            [&](client::Txn& txn) -> absl::Status {
              auto a = txn.Get(Account(from));
              if (!a.ok()) return a.status();
              auto b = txn.Get(Account(to));
              if (!b.ok()) return b.status();
              int64_t va = 0, vb = 0;
              if (!absl::SimpleAtoi(a->value, &va) ||
                  !absl::SimpleAtoi(b->value, &vb)) {
                return absl::InternalError("corrupt balance");
              }
              if (absl::Status s =
                      txn.Put(Account(from), absl::StrCat(va - amount));
                  !s.ok()) {
                return s;
              }
              return txn.Put(Account(to), absl::StrCat(vb + amount));
            },
            options);
        if (absl::IsAborted(s)) {
          gave_up.fetch_add(1);
        } else {
          ASSERT_TRUE(s.ok()) << s;
          done.fetch_add(1);
        }
      }
    });
  }
  std::thread auditor([&] {
    auto client = server->NewClient();
    while (!stop.load()) {
      auto txn = client->Begin(client::Isolation::kSnapshot);
      ASSERT_TRUE(txn.ok()) << txn.status();
      auto scan = (*txn)->Scan("acct/", "acct0");
      ASSERT_TRUE(scan.ok()) << scan.status();
      ASSERT_EQ(scan->kvs.size(), static_cast<size_t>(kAccounts));
      EXPECT_EQ(Sum(*scan), kAccounts * kInitial) << "at " << scan->snapshot_ts;
      audits.fetch_add(1);
    }
  });
  for (auto& t : threads) t.join();
  stop = true;
  auditor.join();
  auto final_scan = setup->Scan("acct/", "acct0").value();
  EXPECT_EQ(Sum(final_scan), kAccounts * kInitial);
  auto stats = setup->GetStats().value();
  std::printf("transfers=%d gave_up=%d audits=%d commits=%llu aborts=%llu\n",
              done.load(), gave_up.load(), audits.load(),
              static_cast<unsigned long long>(stats.Number("commits")),
              static_cast<unsigned long long>(
                  stats.Number("aborts_write_conflict") +
                  stats.Number("aborts_read_conflict")));
  EXPECT_GT(done.load(), kThreads * kTransfers / 2);
  // Every session ends once its client closes it; the server ends a
  // session's stream asynchronously, so wait (bounded) for the count.
  uint64_t open = stats.Number("open_session_txns");
  for (const absl::Time deadline = absl::Now() + absl::Seconds(10);
       open != 0 && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(10));
    open = setup->GetStats().value().Number("open_session_txns");
  }
  EXPECT_EQ(open, 0u);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace mvkv
