#include "storage/rocksdb_durability.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "storage/internal/status.h"

namespace mvkv::storage {
namespace {

using storage_internal::FromErrno;
using storage_internal::FromRocksDb;

constexpr char kMetaFamily[] = "mvkv_meta";
constexpr char kFormatKey[] = "format";
constexpr char kFormatVersion[] = "1";
constexpr char kLastTsKey[] = "last_commit_ts";
constexpr int kDataIndex = 0;  // handles_[0]: default family, user keys
constexpr int kMetaIndex = 1;  // handles_[1]: mvkv_meta

absl::string_view View(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

void EncodeTs(uint64_t ts, char out[8]) {
  for (int i = 7; i >= 0; --i, ts >>= 8) out[i] = static_cast<char>(ts & 0xff);
}

uint64_t DecodeTs(const char* in) {
  uint64_t ts = 0;
  for (int i = 0; i < 8; ++i)
    ts = (ts << 8) | static_cast<unsigned char>(in[i]);
  return ts;
}

// What Open found at options.dir before touching it.
enum class DirState { kNewDatabase, kExistingDatabase };

// Checks `dir` with plain system calls (no writes, except creating the leaf
// directory when allowed), so that a bad directory fails before RocksDB
// writes anything into it.
absl::StatusOr<DirState> InspectDir(const StorageOptions& options) {
  const std::string& dir = options.dir;
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    if (err != ENOENT) {
      return FromErrno(err, absl::StrCat("data directory ", dir));
    }
    if (!options.create_if_missing) {
      return absl::NotFoundError(absl::StrCat(
          "data directory ", dir,
          " does not exist (set create_if_missing, or --create, to create a "
          "new database there)"));
    }
    if (::mkdir(dir.c_str(), 0755) != 0) {
      return FromErrno(errno, absl::StrCat("cannot create data directory ", dir,
                                           " (its parent must exist)"));
    }
    return DirState::kNewDatabase;
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", dir, " is not a directory"));
  }
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return FromErrno(errno, absl::StrCat("cannot list data directory ", dir));
  }
  bool empty = true, has_current = false;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    empty = false;
    if (name == "CURRENT") has_current = true;
  }
  ::closedir(d);
  if (empty) {
    if (options.create_if_missing) return DirState::kNewDatabase;
    return absl::NotFoundError(absl::StrCat(
        "data directory ", dir,
        " holds no database (set create_if_missing, or --create, to create "
        "one)"));
  }
  if (!has_current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir,
        " holds files but no database (no CURRENT file); refusing to write "
        "into it"));
  }
  const int fd = ::open((dir + "/CURRENT").c_str(), O_RDONLY);
  if (fd < 0) {
    return FromErrno(errno, absl::StrCat("cannot read ", dir, "/CURRENT"));
  }
  ::close(fd);
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return FromErrno(errno, absl::StrCat("cannot write data directory ", dir));
  }
  return DirState::kExistingDatabase;
}

// Discards RocksDB's info log messages.
class NullLogger final : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
};

// Reads the column family list (CURRENT and MANIFEST only, no writes) and
// requires mvkv's metadata family.
absl::Status CheckExistingDatabase(const rocksdb::DBOptions& db_options,
                                   const std::string& dir) {
  std::vector<std::string> families;
  rocksdb::Status s =
      rocksdb::DB::ListColumnFamilies(db_options, dir, &families);
  if (!s.ok()) {
    absl::Status mapped = FromRocksDb(
        s, absl::StrCat("data directory ", dir, " is unreadable or corrupt"));
    if (mapped.code() == absl::StatusCode::kPermissionDenied) return mapped;
    // A CURRENT naming a missing or garbled MANIFEST is corruption too.
    return absl::DataLossError(mapped.message());
  }
  for (const std::string& f : families) {
    if (f == kMetaFamily) return absl::OkStatus();
  }
  // The listing skips a garbled MANIFEST head instead of failing; a full
  // read-only recovery (which writes nothing: no lock, no info log) tells
  // corruption from a foreign database.
  rocksdb::Options probe(db_options, rocksdb::ColumnFamilyOptions());
  probe.info_log = std::make_shared<NullLogger>();
  rocksdb::DB* db = nullptr;
  s = rocksdb::DB::OpenForReadOnly(probe, dir, &db);
  delete db;
  if (s.IsCorruption()) {
    return absl::DataLossError(
        FromRocksDb(s, absl::StrCat("data directory ", dir, " is corrupt"))
            .message());
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "data directory ", dir,
      " holds a RocksDB database that is not an mvkv database (no \"",
      kMetaFamily, "\" column family)"));
}

// Fails if another process or another open instance holds RocksDB's LOCK.
// Done before DB::Open because DB::Open rotates the info LOG before it takes
// the lock, which would touch a live database's directory.
absl::Status CheckNotLocked(rocksdb::Env* env, const std::string& dir) {
  rocksdb::FileLock* lock = nullptr;
  rocksdb::Status s = env->LockFile(dir + "/LOCK", &lock);
  if (!s.ok()) {
    const std::string text = s.ToString();
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", dir,
                     " is locked by another process or another open instance "
                     "(RocksDB LOCK file held): ",
                     View(text)));
  }
  return FromRocksDb(env->UnlockFile(lock),
                     absl::StrCat("unlocking ", dir, "/LOCK"));
}

rocksdb::Options MakeOptions(const StorageOptions& options, bool create) {
  rocksdb::Options o;
  o.create_if_missing = create;
  o.create_missing_column_families = create;
  o.error_if_exists = create;
  o.write_buffer_size = options.write_buffer_bytes;
  o.IncreaseParallelism(2);
  o.keep_log_file_num = 10;
  if (options.env != nullptr) o.env = options.env;
  return o;
}

}  // namespace

absl::StatusOr<DurabilityMode> ParseDurabilityMode(std::string_view text) {
  if (text == "sync") return DurabilityMode::kSync;
  if (text == "async") return DurabilityMode::kAsync;
  if (text == "none") return DurabilityMode::kNone;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown durability mode \"", View(text),
                   "\"; allowed: sync, async, none"));
}

const char* DurabilityModeName(DurabilityMode mode) {
  switch (mode) {
    case DurabilityMode::kSync:
      return "sync";
    case DurabilityMode::kAsync:
      return "async";
    case DurabilityMode::kNone:
      return "none";
  }
  return "?";
}

std::function<void(const LoadProgress&)> StderrLoadProgress(std::string label) {
  return [label = std::move(label)](const LoadProgress& p) {
    std::fprintf(
        stderr, "mvkv: loading %s: %llu keys, %.1f MB, %.0f keys/s, %.1f s%s\n",
        label.c_str(), static_cast<unsigned long long>(p.keys), p.bytes / 1e6,
        p.keys_per_second, p.seconds, p.done ? " (done)" : "");
  };
}

absl::StatusOr<std::unique_ptr<RocksDbDurability>> RocksDbDurability::Open(
    const StorageOptions& options) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("StorageOptions.dir is empty");
  }
  absl::StatusOr<DirState> state = InspectDir(options);
  if (!state.ok()) return state.status();
  const bool create = *state == DirState::kNewDatabase;
  rocksdb::Options rocks = MakeOptions(options, create);
  if (!create) {
    if (absl::Status s = CheckExistingDatabase(rocks, options.dir); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckNotLocked(rocks.env, options.dir); !s.ok()) {
      return s;
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(rocks)},
      {kMetaFamily, rocksdb::ColumnFamilyOptions(rocks)}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(rocks, options.dir, families, &handles, &db);
  if (!s.ok()) {
    absl::Status mapped = FromRocksDb(
        s, absl::StrCat("cannot open data directory ", options.dir));
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return absl::FailedPreconditionError(mapped.message());
    }
    return mapped;
  }
  std::unique_ptr<RocksDbDurability> d(
      new RocksDbDurability(options, db, std::move(handles)));
  if (create) {
    rocksdb::WriteBatch init;
    char zero[8];
    EncodeTs(0, zero);
    init.Put(d->handles_[kMetaIndex], kFormatKey, kFormatVersion);
    init.Put(d->handles_[kMetaIndex], kLastTsKey, rocksdb::Slice(zero, 8));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (absl::Status w =
            FromRocksDb(db->Write(wo, &init), "initialising metadata");
        !w.ok()) {
      return w;
    }
  } else {
    std::string format;
    rocksdb::Status g = db->Get(rocksdb::ReadOptions(), d->handles_[kMetaIndex],
                                kFormatKey, &format);
    if (!g.ok() || format != kFormatVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", options.dir, " has unknown mvkv format \"",
          View(format), "\" (this build reads format ", kFormatVersion, ")"));
    }
  }
  return d;
}

RocksDbDurability::RocksDbDurability(
    const StorageOptions& options, rocksdb::DB* db,
    std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : options_(options), db_(db), handles_(std::move(handles)) {}

RocksDbDurability::~RocksDbDurability() {
  if (options_.mode == DurabilityMode::kAsync) {
    // Best effort: after a write failure the log may refuse to sync.
    (void)db_->SyncWAL();
  }
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    (void)db_->DestroyColumnFamilyHandle(h);
  }
  (void)db_->Close();
  delete db_;
}

absl::Status RocksDbDurability::PersistBatch(
    absl::Span<const DurableCommit> batch) {
  if (batch.empty()) return absl::OkStatus();
  uint64_t writes = 0;
  if (options_.mode != DurabilityMode::kNone) {
    rocksdb::WriteBatch wb;
    rocksdb::ColumnFamilyHandle* data = handles_[kDataIndex];
    for (const DurableCommit& commit : batch) {
      char ts[8];
      EncodeTs(commit.commit_ts, ts);
      for (const DurableWrite& w : commit.writes) {
        const rocksdb::Slice key(w.key.data(), w.key.size());
        rocksdb::Status s;
        if (w.tombstone) {
          s = wb.Delete(data, key);
        } else {
          const rocksdb::Slice parts[2] = {
              rocksdb::Slice(ts, 8),
              rocksdb::Slice(w.value.data(), w.value.size())};
          s = wb.Put(data, rocksdb::SliceParts(&key, 1),
                     rocksdb::SliceParts(parts, 2));
        }
        if (!s.ok()) return FromRocksDb(s, "building the write batch");
      }
      writes += commit.writes.size();
    }
    char last[8];
    EncodeTs(batch.back().commit_ts, last);
    wb.Put(handles_[kMetaIndex], kLastTsKey, rocksdb::Slice(last, 8));
    rocksdb::WriteOptions wo;
    wo.sync = options_.mode == DurabilityMode::kSync;
    const auto start = std::chrono::steady_clock::now();
    rocksdb::Status written = db_->Write(wo, &wb);
    write_nanos_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count(),
                           std::memory_order_relaxed);
    if (!written.ok()) {
      return FromRocksDb(written, absl::StrCat("writing to ", options_.dir));
    }
    if (wo.sync) syncs_.fetch_add(1, std::memory_order_relaxed);
  } else {
    for (const DurableCommit& commit : batch) writes += commit.writes.size();
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  commits_.fetch_add(batch.size(), std::memory_order_relaxed);
  writes_.fetch_add(writes, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RocksDbDurability::ReadLastCommitTs() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kMetaIndex],
                               kLastTsKey, &value);
  if (!s.ok() || value.size() != 8) {
    return absl::DataLossError(
        absl::StrCat("data directory ", options_.dir, ": missing or malformed ",
                     kLastTsKey, " (", View(s.ToString()), ")"));
  }
  return DecodeTs(value.data());
}

absl::StatusOr<uint64_t> RocksDbDurability::Load(
    const std::function<void(std::string_view, std::string_view, uint64_t)>&
        sink) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  Clock::time_point next_report = start + std::chrono::seconds(1);
  LoadProgress progress;
  auto report = [&](bool done) {
    progress.seconds =
        std::chrono::duration<double>(Clock::now() - start).count();
    progress.keys_per_second =
        progress.seconds > 0 ? progress.keys / progress.seconds : 0;
    progress.done = done;
    if (options_.progress) options_.progress(progress);
  };
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(ro, handles_[kDataIndex]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key(), v = it->value();
    if (v.size() < 8) {
      return absl::DataLossError(absl::StrCat(
          "data directory ", options_.dir, ": stored value of key \"",
          absl::CHexEscape(absl::string_view(k.data(), k.size())),
          "\" has no commit timestamp"));
    }
    sink(std::string_view(k.data(), k.size()),
         std::string_view(v.data() + 8, v.size() - 8), DecodeTs(v.data()));
    ++progress.keys;
    progress.bytes += k.size() + v.size() - 8;
    if ((options_.progress_every_keys != 0 &&
         progress.keys % options_.progress_every_keys == 0) ||
        ((progress.keys & 1023) == 0 && Clock::now() >= next_report)) {
      report(false);
      next_report = Clock::now() + std::chrono::seconds(1);
    }
  }
  if (absl::Status s =
          FromRocksDb(it->status(), absl::StrCat("reading ", options_.dir));
      !s.ok()) {
    return s;
  }
  report(true);
  return ReadLastCommitTs();
}

absl::Status RocksDbDurability::Checkpoint(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("checkpoint directory ", dir, " already exists"));
  }
  rocksdb::Checkpoint* raw = nullptr;
  if (absl::Status s = FromRocksDb(rocksdb::Checkpoint::Create(db_, &raw),
                                   "creating a checkpoint object");
      !s.ok()) {
    return s;
  }
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocksDb(checkpoint->CreateCheckpoint(dir),
                     absl::StrCat("writing checkpoint ", dir));
}

RocksDbDurability::Counters RocksDbDurability::GetCounters() const {
  Counters c;
  c.batches = batches_.load(std::memory_order_relaxed);
  c.commits = commits_.load(std::memory_order_relaxed);
  c.writes = writes_.load(std::memory_order_relaxed);
  c.syncs = syncs_.load(std::memory_order_relaxed);
  c.write_nanos = write_nanos_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace mvkv::storage
