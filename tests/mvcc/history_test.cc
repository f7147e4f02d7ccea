// Property: every committed history is explained by replaying the committed
// transactions in commit-timestamp order against a plain std::map.
//   * Snapshot isolation: every read and scan of a transaction equals the
//     model state after all commits with commit_ts <= its snapshot.
//   * Serializable: every read and scan of a committed writer equals the
//     model state just before its own commit (commit_ts - 1): the history is
//     serial in commit order. Read-only transactions: at their snapshot.
// Random transactions (gets, scans, puts, deletes over a small key space, so
// conflicts are frequent) run on more threads than cores. Every value
// written is unique, so a read identifies the exact write it saw.
// Seed: MVKV_TEST_SEED or random, logged.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "tests/mvcc/test_support.h"

namespace mvkv {
namespace {

constexpr int kTxnsPerThread = testing_support::Scaled(2000, 200);
constexpr int kThreads = 6;
constexpr int kKeys = 10;

using Model = std::map<std::string, std::string>;

struct Observation {
  // A point read: key and value (nullopt = not found).
  std::string key;
  std::optional<std::string> value;
  // A scan: [start, end) and what it returned.
  bool is_scan = false;
  std::string end;
  std::vector<std::pair<std::string, std::string>> pairs;
};

struct Record {
  uint64_t snapshot_ts = 0;
  uint64_t commit_ts = 0;  // 0 = read-only
  std::vector<Observation> observations;
  std::map<std::string, std::optional<std::string>> writes;
};

std::string Key(int i) { return absl::StrCat("k", i); }

// Runs one random transaction; returns it if it committed.
std::optional<Record> RunOne(Database& db, IsolationLevel level,
                             std::mt19937_64& rng, const std::string& tag) {
  auto txn = db.Begin(level);
  Record rec;
  rec.snapshot_ts = txn->snapshot_ts();
  const int ops = 1 + rng() % 5;
  for (int i = 0; i < ops; ++i) {
    const int choice = rng() % 10;
    const std::string key = Key(rng() % kKeys);
    if (choice < 4) {
      auto v = txn->Get(key);
      if (!rec.writes.count(key)) {  // own writes are not the model's
        rec.observations.push_back(
            {key, v.ok() ? std::optional<std::string>(*v) : std::nullopt});
      }
    } else if (choice < 5) {
      const int a = rng() % kKeys, b = rng() % kKeys;
      std::string start = Key(std::min(a, b)), end = Key(std::max(a, b)) + "~";
      auto kvs = txn->Scan(start, end);
      bool touches_own = false;
      for (const auto& [k, w] : rec.writes) {
        if (k >= start && k < end) touches_own = true;
      }
      if (!touches_own) {
        Observation o;
        o.is_scan = true;
        o.key = start;
        o.end = end;
        for (const KeyValue& kv : *kvs) o.pairs.emplace_back(kv.key, kv.value);
        rec.observations.push_back(std::move(o));
      }
    } else if (choice < 9) {
      const std::string value = absl::StrCat(tag, "/", i);
      EXPECT_TRUE(txn->Put(key, value).ok());
      rec.writes[key] = value;
    } else {
      EXPECT_TRUE(txn->Delete(key).ok());
      rec.writes[key] = std::nullopt;
    }
  }
  absl::Status s = txn->Commit();
  if (!s.ok()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
    return std::nullopt;
  }
  rec.commit_ts = rec.writes.empty() ? 0 : txn->commit_ts();
  return rec;
}

void Apply(const Record& r, Model* model) {
  for (const auto& [k, v] : r.writes) {
    if (v.has_value()) {
      (*model)[k] = *v;
    } else {
      model->erase(k);
    }
  }
}

// Empty string if every observation of `r` matches `model`.
std::string Check(const Record& r, const Model& model) {
  for (const Observation& o : r.observations) {
    if (o.is_scan) {
      std::vector<std::pair<std::string, std::string>> want;
      for (auto it = model.lower_bound(o.key);
           it != model.end() && it->first < o.end; ++it) {
        want.emplace_back(it->first, it->second);
      }
      if (want != o.pairs) return absl::StrCat("scan [", o.key, ", ", o.end, ")");
    } else {
      auto it = model.find(o.key);
      std::optional<std::string> want;
      if (it != model.end()) want = it->second;
      if (want != o.value) {
        return absl::StrCat("get ", o.key, " saw ", o.value.value_or("<none>"),
                            " want ", want.value_or("<none>"));
      }
    }
  }
  return "";
}

class HistoryTest : public ::testing::TestWithParam<IsolationLevel> {};

TEST_P(HistoryTest, CommittedHistoryReplaysInCommitOrder) {
  const uint64_t seed = testing_support::TestSeed();
  auto db_or = Database::Open();
  ASSERT_TRUE(db_or.ok());
  Database& db = **db_or;
  const IsolationLevel level = GetParam();

  std::mutex mu;
  std::vector<Record> committed;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 31 + t);
      std::vector<Record> mine;
      for (int i = 0; i < kTxnsPerThread; ++i) {
        auto rec = RunOne(db, level, rng, absl::StrCat("t", t, "-", i));
        if (rec.has_value()) mine.push_back(std::move(*rec));
      }
      std::lock_guard<std::mutex> lock(mu);
      for (auto& r : mine) committed.push_back(std::move(r));
    });
  }
  for (auto& th : threads) th.join();

  // Writers in commit order; each check happens at its model timestamp.
  std::vector<const Record*> writers;
  std::vector<std::pair<uint64_t, const Record*>> checks;
  for (const Record& r : committed) {
    if (r.commit_ts != 0) writers.push_back(&r);
    const bool at_commit = level == IsolationLevel::kSerializable && r.commit_ts;
    checks.emplace_back(at_commit ? r.commit_ts - 1 : r.snapshot_ts, &r);
  }
  std::sort(writers.begin(), writers.end(),
            [](auto* a, auto* b) { return a->commit_ts < b->commit_ts; });
  std::sort(checks.begin(), checks.end(),
            [](auto& a, auto& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < writers.size(); ++i) {
    ASSERT_LT(writers[i - 1]->commit_ts, writers[i]->commit_ts)
        << "commit timestamps must be unique";
  }

  Model model;
  std::size_t w = 0;
  int failures = 0;
  for (const auto& [ts, rec] : checks) {
    while (w < writers.size() && writers[w]->commit_ts <= ts) {
      Apply(*writers[w++], &model);
    }
    const std::string bad = Check(*rec, model);
    if (!bad.empty() && ++failures <= 5) {
      ADD_FAILURE() << "txn snapshot=" << rec->snapshot_ts
                    << " commit=" << rec->commit_ts << ": " << bad;
    }
  }
  EXPECT_EQ(failures, 0);
  // The final state is the replay of every commit.
  while (w < writers.size()) Apply(*writers[w++], &model);
  Model actual;
  absl::StatusOr<std::vector<KeyValue>> final_state = db.Scan("", "");
  ASSERT_TRUE(final_state.ok());
  for (const KeyValue& kv : *final_state) actual[kv.key] = kv.value;
  EXPECT_EQ(actual, model);
  std::printf("committed=%zu writers=%zu\n", committed.size(), writers.size());
}

INSTANTIATE_TEST_SUITE_P(Levels, HistoryTest,
                         ::testing::Values(IsolationLevel::kSnapshot,
                                           IsolationLevel::kSerializable),
                         testing_support::IsolationName);

}  // namespace
}  // namespace mvkv
