// The embedded engine in-process: mvkv::Database with default Options.
#include "bench/ycsb/targets_internal.h"
#include "mvcc/db.h"
#include "mvcc/reclaim_scheme.h"

namespace mvkv::ycsb::targets_internal {
namespace {

class EmbeddedSession final : public Session {
 public:
  explicit EmbeddedSession(Database* db) : db_(db) {}
  // Into a buffer the session reuses, as the rocksdb target reads.
  absl::Status Read(const std::string& key) override {
    absl::StatusOr<bool> found = db_->GetIfPresent(key, &buf_);
    if (!found.ok()) return found.status();
    return *found ? absl::OkStatus() : absl::NotFoundError("key not found");
  }
  absl::Status Write(const std::string& key, const std::string& value) override {
    return db_->Put(key, value);
  }
  absl::Status Scan(const std::string& start, int count) override {
    return db_->Scan(start, "", count).status();
  }
  absl::Status ReadModifyWrite(
      const std::string& key,
      const std::function<std::string(const std::string&)>& modify) override {
    return db_->Transact([&](Txn& txn) -> absl::Status {
      absl::StatusOr<std::string> old = txn.Get(key);
      if (!old.ok()) return old.status();
      return txn.Put(key, modify(*old));
    });
  }

 private:
  Database* db_;
  std::string buf_;  // the last value read
};

class EmbeddedStall final : public StalledSnapshot {
 public:
  explicit EmbeddedStall(std::unique_ptr<Txn> txn) : txn_(std::move(txn)) {}
 private:
  std::unique_ptr<Txn> txn_;  // destroyed = rolled back
};

class EmbeddedTarget final : public Target {
 public:
  explicit EmbeddedTarget(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  std::string name() const override {
    // The engine built with --config=engine_ebr reports itself apart.
    if (kEngineReclaimScheme == "crystalline") return "embedded";
    return "embedded-" + std::string(kEngineReclaimScheme);
  }
  absl::StatusOr<std::unique_ptr<Session>> NewSession() override {
    return std::make_unique<EmbeddedSession>(db_.get());
  }
  absl::StatusOr<std::unique_ptr<StalledSnapshot>> OpenStalledSnapshot(
      const std::string& key) override {
    std::unique_ptr<Txn> txn = db_->Begin();
    absl::StatusOr<std::string> v = txn->Get(key);  // pins the snapshot
    if (!v.ok() && !absl::IsNotFound(v.status())) return v.status();
    return std::make_unique<EmbeddedStall>(std::move(txn));
  }
  bool in_process() const override { return true; }
  std::optional<EngineAccounts> Accounts() override {
    const Stats s = db_->GetStats();
    EngineAccounts a;
    a.reclaim_unreclaimed_objects = s.reclaim_unreclaimed_objects;
    a.reclaim_unreclaimed_bytes = s.reclaim_unreclaimed_bytes;
    a.retained_versions = s.retained_versions;
    a.retained_bytes = s.retained_bytes;
    a.versions = s.versions;
    a.aborts = s.aborts_write_conflict + s.aborts_read_conflict +
               s.aborts_snapshot_too_old;
    return a;
  }

 private:
  std::unique_ptr<Database> db_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> OpenEmbedded() {
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open();
  if (!db.ok()) return db.status();
  return std::make_unique<EmbeddedTarget>(std::move(*db));
}

}  // namespace mvkv::ycsb::targets_internal
