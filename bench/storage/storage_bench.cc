// storage_bench: commit throughput and recovery of the RocksDB-backed engine.
//
//   bazel run --config=opt //bench:storage_bench -- --json=/tmp/storage.json
//
// Commits: for each mode in --modes (sync, async) and each committer count in
// --threads, --seconds of committers each running small transactions (one
// Put of a fresh key, --value_bytes bytes) against
//   mvkv     mvkv::Database over RocksDbDurability (group commit per ring
//            batch), and
//   txndb    RocksDB's own pessimistic TransactionDB, BeginTransaction / Put /
//            Commit with WriteOptions::sync set the same way (RocksDB groups
//            concurrent writers into one WAL write + fsync itself),
// each in a fresh directory under --dir, in the same run.
// With --memory_baseline, also the in-memory engine (no durability) at each
// committer count: the commit pipeline's own cost on this machine.
// Recovery: --recovery_keys keys of --value_bytes written (async, 10,000 per
// batch), closed, then OpenPersistentDatabase timed (RocksDB open with WAL
// replay, then Load into the engine).
// Output: a table on stdout and, with --json, one JSON object per row.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "flags/usage.h"
#include "mvcc/db.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/transaction.h"
#include "rocksdb/utilities/transaction_db.h"
#include "storage/open.h"
#include "storage/rocksdb_durability.h"

ABSL_FLAG(std::string, modes, "sync,async", "Durability modes: sync, async.");
ABSL_FLAG(std::string, threads, "1,8,64", "Concurrent committer counts.");
ABSL_FLAG(double, seconds, 2.0, "Duration of each commit cell.");
ABSL_FLAG(int, value_bytes, 100, "Value size.");
ABSL_FLAG(int64_t, recovery_keys, 1000000,
          "Keys for the recovery run (0 = skip).");
ABSL_FLAG(std::string, dir, "",
          "Scratch directory (default $TEST_TMPDIR or /tmp).");
ABSL_FLAG(bool, memory_baseline, true,
          "Also run the engine without durability at each committer count.");
ABSL_FLAG(std::string, json, "", "Write JSON rows here.");

namespace mvkv::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using storage::DurabilityMode;

struct Row {
  std::string system;
  std::string mode;
  int threads = 0;
  uint64_t commits = 0;
  double seconds = 0;
  uint64_t syncs = 0;        // mvkv only
  uint64_t batches = 0;      // mvkv only
  double write_seconds = 0;  // mvkv only: time inside rocksdb::DB::Write
  double rate() const { return commits / seconds; }
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "storage_bench: %s\n", what.c_str());
  std::exit(1);
}

std::string ScratchDir() {
  std::string base = absl::GetFlag(FLAGS_dir);
  if (base.empty()) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    base = std::string(tmp != nullptr ? tmp : "/tmp") + "/mvkv_storage_bench";
  }
  fs::remove_all(base);
  fs::create_directories(base);
  return base;
}

// Runs `commit(thread, i)` on `threads` threads for `seconds`; returns the
// number of commits and the measured time.
template <class CommitFn>
std::pair<uint64_t, double> Drive(int threads, double seconds,
                                  CommitFn commit) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> total{0};
  std::vector<std::thread> workers;
  const Clock::time_point start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) commit(t, n++);
      total.fetch_add(n, std::memory_order_relaxed);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& w : workers) w.join();
  return {total.load(),
          std::chrono::duration<double>(Clock::now() - start).count()};
}

std::string Key(int t, uint64_t i) {
  return absl::StrFormat("t%03d/%012u", t, i);
}

Row RunMvkv(const std::string& dir, DurabilityMode mode, int threads,
            const std::string& value) {
  storage::StorageOptions so;
  so.dir = dir;
  so.mode = mode;
  so.create_if_missing = true;
  auto opened = storage::OpenPersistentDatabase(so, {});
  if (!opened.ok()) Die(opened.status().ToString());
  Database& db = *opened->db;
  auto [commits, secs] =
      Drive(threads, absl::GetFlag(FLAGS_seconds), [&](int t, uint64_t i) {
        auto txn = db.Begin();
        (void)txn->Put(Key(t, i), value);
        if (absl::Status s = txn->Commit(); !s.ok()) Die(s.ToString());
      });
  Row row{"mvkv", storage::DurabilityModeName(mode), threads, commits, secs};
  const auto c = opened->durability->GetCounters();
  row.syncs = c.syncs;
  row.batches = c.batches;
  row.write_seconds = c.write_nanos / 1e9;
  return row;
}

// The engine without durability (install and complete fused in one stage):
// the pipeline's own cost, for reading the mvkv rows.
Row RunMemory(int threads, const std::string& value) {
  auto db = Database::Open();
  if (!db.ok()) Die(db.status().ToString());
  auto [commits, secs] =
      Drive(threads, absl::GetFlag(FLAGS_seconds), [&](int t, uint64_t i) {
        auto txn = (*db)->Begin();
        (void)txn->Put(Key(t, i), value);
        if (absl::Status s = txn->Commit(); !s.ok()) Die(s.ToString());
      });
  return Row{"mvkv-memory", "memory", threads, commits, secs};
}

Row RunTxnDb(const std::string& dir, DurabilityMode mode, int threads,
             const std::string& value) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 64 << 20;
  options.IncreaseParallelism(2);
  rocksdb::TransactionDB* db = nullptr;
  rocksdb::Status s = rocksdb::TransactionDB::Open(
      options, rocksdb::TransactionDBOptions(), dir, &db);
  if (!s.ok()) Die(s.ToString());
  rocksdb::WriteOptions wo;
  wo.sync = mode == DurabilityMode::kSync;
  auto [commits, secs] =
      Drive(threads, absl::GetFlag(FLAGS_seconds), [&](int t, uint64_t i) {
        std::unique_ptr<rocksdb::Transaction> txn(db->BeginTransaction(wo));
        rocksdb::Status ps = txn->Put(Key(t, i), value);
        if (ps.ok()) ps = txn->Commit();
        if (!ps.ok()) Die(ps.ToString());
      });
  delete db;
  return Row{"txndb", storage::DurabilityModeName(mode), threads, commits,
             secs};
}

struct Recovery {
  int64_t keys = 0;
  double open_seconds = 0;  // all of OpenPersistentDatabase
  double load_seconds = 0;  // of which Load (iterate + install)
};

Recovery RunRecovery(const std::string& dir, int64_t keys,
                     const std::string& value) {
  storage::StorageOptions so;
  so.dir = dir;
  so.mode = DurabilityMode::kAsync;
  so.create_if_missing = true;
  {
    auto d = storage::RocksDbDurability::Open(so);
    if (!d.ok()) Die(d.status().ToString());
    std::vector<std::string> names;
    std::vector<DurableWrite> writes;
    uint64_t ts = 0;
    for (int64_t base = 0; base < keys; base += 10000) {
      names.clear();
      writes.clear();
      for (int64_t i = base; i < std::min(keys, base + 10000); ++i) {
        names.push_back(absl::StrFormat("user%012d", i));
      }
      for (const std::string& n : names) writes.push_back({n, value, false});
      const DurableCommit batch[] = {{++ts, writes}};
      if (absl::Status s = (*d)->PersistBatch(batch); !s.ok())
        Die(s.ToString());
    }
  }
  Recovery r;
  r.keys = keys;
  so.create_if_missing = false;
  so.mode = DurabilityMode::kSync;
  so.progress_every_keys = 250000;
  auto print = storage::StderrLoadProgress(dir);
  so.progress = [&](const storage::LoadProgress& p) {
    print(p);
    if (p.done) r.load_seconds = p.seconds;
  };
  const Clock::time_point start = Clock::now();
  auto opened = storage::OpenPersistentDatabase(so, {});
  r.open_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!opened.ok()) Die(opened.status().ToString());
  if (opened->db->GetStats().live_keys != static_cast<uint64_t>(keys)) {
    Die("recovery lost keys");
  }
  return r;
}

void Main() {
  const std::string value(absl::GetFlag(FLAGS_value_bytes), 'v');
  const std::string scratch = ScratchDir();
  std::vector<int> thread_counts;
  for (absl::string_view t :
       absl::StrSplit(absl::GetFlag(FLAGS_threads), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(t, &n) || n <= 0) Die("bad --threads");
    thread_counts.push_back(n);
  }
  std::vector<Row> rows;
  int cell = 0;
  for (absl::string_view m : absl::StrSplit(absl::GetFlag(FLAGS_modes), ',')) {
    absl::StatusOr<DurabilityMode> mode =
        storage::ParseDurabilityMode(std::string_view(m.data(), m.size()));
    if (!mode.ok()) Die(mode.status().ToString());
    for (int threads : thread_counts) {
      const std::string a = absl::StrCat(scratch, "/c", cell++);
      const std::string b = absl::StrCat(scratch, "/c", cell++);
      rows.push_back(RunMvkv(a, *mode, threads, value));
      rows.push_back(RunTxnDb(b, *mode, threads, value));
      fs::remove_all(a);
      fs::remove_all(b);
      const Row& x = rows[rows.size() - 2];
      const Row& y = rows.back();
      std::printf(
          "%-6s %3d committers: mvkv %9.0f commits/s (%5.1f commits/batch, "
          "%3.0f%% of time in DB::Write)  txndb %9.0f commits/s  "
          "mvkv/txndb %.2f\n",
          x.mode.c_str(), threads, x.rate(),
          x.batches ? static_cast<double>(x.commits) / x.batches : 0.0,
          100 * x.write_seconds / x.seconds, y.rate(), x.rate() / y.rate());
      std::fflush(stdout);
    }
  }
  if (absl::GetFlag(FLAGS_memory_baseline)) {
    for (int threads : thread_counts) {
      rows.push_back(RunMemory(threads, value));
      std::printf(
          "memory %3d committers: mvkv without durability %9.0f "
          "commits/s\n",
          threads, rows.back().rate());
      std::fflush(stdout);
    }
  }
  Recovery rec;
  if (absl::GetFlag(FLAGS_recovery_keys) > 0) {
    rec = RunRecovery(scratch + "/recovery", absl::GetFlag(FLAGS_recovery_keys),
                      value);
    std::printf(
        "recovery: %lld keys x %d B: open %.2f s (load %.2f s), "
        "%.0f keys/s\n",
        static_cast<long long>(rec.keys), absl::GetFlag(FLAGS_value_bytes),
        rec.open_seconds, rec.load_seconds, rec.keys / rec.open_seconds);
  }
  fs::remove_all(scratch);
  const std::string json = absl::GetFlag(FLAGS_json);
  if (json.empty()) return;
  std::ofstream out(json);
  out << "[\n";
  for (const Row& r : rows) {
    out << absl::StrFormat(
        "  {\"bench\": \"commit\", \"system\": \"%s\", \"mode\": \"%s\", "
        "\"threads\": %d, \"commits\": %u, \"seconds\": %.3f, "
        "\"commits_per_s\": %.1f, \"syncs\": %u, \"batches\": %u, "
        "\"write_seconds\": %.3f},\n",
        r.system, r.mode, r.threads, r.commits, r.seconds, r.rate(), r.syncs,
        r.batches, r.write_seconds);
  }
  out << absl::StrFormat(
      "  {\"bench\": \"recovery\", \"keys\": %d, \"value_bytes\": %d, "
      "\"open_seconds\": %.3f, \"load_seconds\": %.3f, \"keys_per_s\": "
      "%.1f}\n]\n",
      rec.keys, absl::GetFlag(FLAGS_value_bytes), rec.open_seconds,
      rec.load_seconds, rec.open_seconds > 0 ? rec.keys / rec.open_seconds : 0);
}

}  // namespace
}  // namespace mvkv::bench

int main(int argc, char** argv) {
  mvkv::flags::SetUsage(
      "commit throughput (mvkv over RocksDB vs RocksDB's "
      "TransactionDB, sync and async) and recovery time.\n"
      "  storage_bench --modes=sync,async --threads=1,8,64 --json=P");
  absl::ParseCommandLine(argc, argv);
  mvkv::bench::Main();
  return 0;
}
