// RocksDB's pessimistic TransactionDB in-process, in a temp directory: the
// embedded peer. Reads and blind writes are autocommit (db->Get / db->Put),
// read-modify-write is BeginTransaction + GetForUpdate + Put + Commit,
// retried on Busy/TimedOut. The WAL is off by default (mvkv's embedded
// engine is in-memory); --rocksdb_wal turns it on (not synced).
#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "bench/ycsb/targets_internal.h"
#include "rocksdb/cache.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/transaction.h"
#include "rocksdb/utilities/transaction_db.h"

namespace mvkv::ycsb::targets_internal {
namespace {

absl::Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(s.ToString());
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return absl::AbortedError(s.ToString());
  }
  return absl::InternalError(s.ToString());
}

class RocksSession final : public Session {
 public:
  RocksSession(rocksdb::TransactionDB* db, rocksdb::WriteOptions wo,
               std::atomic<uint64_t>* aborts)
      : db_(db), wo_(wo), aborts_(aborts) {}
  absl::Status Read(const std::string& key) override {
    return FromRocks(db_->Get(ro_, key, &buf_));
  }
  absl::Status Write(const std::string& key, const std::string& value) override {
    return FromRocks(db_->Put(wo_, key, value));
  }
  absl::Status Scan(const std::string& start, int count) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_));
    int n = 0;
    for (it->Seek(start); it->Valid() && n < count; it->Next(), ++n) {
      buf_.assign(it->value().data(), it->value().size());
    }
    return FromRocks(it->status());
  }
  absl::Status ReadModifyWrite(
      const std::string& key,
      const std::function<std::string(const std::string&)>& modify) override {
    absl::Status last;
    for (int attempt = 0; attempt < 16; ++attempt) {
      std::unique_ptr<rocksdb::Transaction> txn(db_->BeginTransaction(wo_));
      rocksdb::Status s = txn->GetForUpdate(ro_, key, &buf_);
      if (s.ok()) s = txn->Put(key, modify(buf_));
      if (s.ok()) s = txn->Commit();
      last = FromRocks(s);
      if (!absl::IsAborted(last)) return last;
      aborts_->fetch_add(1, std::memory_order_relaxed);  // a counter only
    }
    return last;
  }

 private:
  rocksdb::TransactionDB* db_;
  rocksdb::ReadOptions ro_;
  rocksdb::WriteOptions wo_;
  std::atomic<uint64_t>* aborts_;
  std::string buf_;
};

class RocksStall final : public StalledSnapshot {
 public:
  RocksStall(rocksdb::TransactionDB* db, const rocksdb::Snapshot* snap)
      : db_(db), snap_(snap) {}
  ~RocksStall() override { db_->ReleaseSnapshot(snap_); }
 private:
  rocksdb::TransactionDB* db_;
  const rocksdb::Snapshot* snap_;
};

class RocksTarget final : public Target {
 public:
  RocksTarget(rocksdb::TransactionDB* db, std::string dir, bool remove_dir,
              bool wal)
      : db_(db), dir_(std::move(dir)), remove_dir_(remove_dir) {
    wo_.disableWAL = !wal;
  }
  ~RocksTarget() override {
    delete db_;
    std::error_code ec;
    if (remove_dir_) std::filesystem::remove_all(dir_, ec);
  }
  std::string name() const override { return "rocksdb"; }
  absl::StatusOr<std::unique_ptr<Session>> NewSession() override {
    return std::make_unique<RocksSession>(db_, wo_, &aborts_);
  }
  absl::StatusOr<std::unique_ptr<StalledSnapshot>> OpenStalledSnapshot(
      const std::string&) override {
    return std::make_unique<RocksStall>(db_, db_->GetSnapshot());
  }
  bool in_process() const override { return true; }
  // retained_bytes: memtables + SST files (what RocksDB keeps, live data
  // and old versions together); retained_versions: estimated entries.
  std::optional<EngineAccounts> Accounts() override {
    EngineAccounts a;
    uint64_t mem = 0, sst = 0, keys = 0;
    db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
    db_->GetIntProperty("rocksdb.total-sst-files-size", &sst);
    db_->GetIntProperty("rocksdb.estimate-num-keys", &keys);
    a.retained_bytes = mem + sst;
    a.retained_versions = keys;
    a.versions = keys;
    a.aborts = aborts_.load(std::memory_order_relaxed);
    return a;
  }

 private:
  rocksdb::TransactionDB* db_;
  std::string dir_;
  bool remove_dir_;
  rocksdb::WriteOptions wo_;
  std::atomic<uint64_t> aborts_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> OpenRocksDb(const TargetOptions& o) {
  std::string dir = o.rocksdb_dir;
  const bool temp = dir.empty();
  if (temp) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string tmpl =
        absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/ycsb-rocksdb-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError("mkdtemp failed for the rocksdb directory");
    }
    dir = tmpl;
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(o.rocksdb_cache_mb << 20);
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::TransactionDB* db = nullptr;
  rocksdb::Status s = rocksdb::TransactionDB::Open(
      options, rocksdb::TransactionDBOptions(), dir, &db);
  if (!s.ok()) return absl::InternalError("rocksdb open: " + s.ToString());
  return std::make_unique<RocksTarget>(db, dir, temp, o.rocksdb_wal);
}

}  // namespace mvkv::ycsb::targets_internal
