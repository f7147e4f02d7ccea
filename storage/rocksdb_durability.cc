#include "storage/rocksdb_durability.h"

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
#include "storage/internal/data_dir.h"
#include "storage/internal/status.h"

namespace mvkv::storage {
namespace {

using storage_internal::ClearIncompleteCreation;
using storage_internal::DirListing;
using storage_internal::DirLock;
using storage_internal::FromErrno;
using storage_internal::FromRocksDb;
using storage_internal::kCreatingFile;
using storage_internal::ListDataDir;
using storage_internal::MarkCreationFinished;
using storage_internal::MarkCreationStarted;
using storage_internal::SyncDir;

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

// Makes sure options.dir exists and is a directory: creates it (its parent
// must exist) when it is missing and create_if_missing is set, and syncs the
// parent so that the new entry survives a power loss.
absl::Status EnsureDir(const StorageOptions& options) {
  const std::string& dir = options.dir;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", dir, " is not a directory"));
  }
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
  // EEXIST: another process made it meanwhile; the lock decides who goes on.
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return FromErrno(errno, absl::StrCat("cannot create data directory ", dir,
                                         " (its parent must exist)"));
  }
  const std::string::size_type slash = dir.find_last_of('/');
  return SyncDir(slash == std::string::npos ? "."
                 : slash == 0               ? "/"
                                            : dir.substr(0, slash));
}

// An existing database's CURRENT must be readable and its directory
// writable (checked with plain system calls, before RocksDB writes).
absl::Status CheckAccess(const std::string& dir) {
  const int fd = ::open((dir + "/CURRENT").c_str(), O_RDONLY);
  if (fd < 0) {
    return FromErrno(errno, absl::StrCat("cannot read ", dir, "/CURRENT"));
  }
  ::close(fd);
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return FromErrno(errno, absl::StrCat("cannot write data directory ", dir));
  }
  return absl::OkStatus();
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

// Whether Open may go on with what `listing` shows (reads only).
absl::Status CheckListing(const StorageOptions& options,
                          const DirListing& listing) {
  const std::string& dir = options.dir;
  switch (listing.kind) {
    case DirListing::kEmpty:
      if (options.create_if_missing) return absl::OkStatus();
      return absl::NotFoundError(absl::StrCat(
          "data directory ", dir,
          " holds no database (set create_if_missing, or --create, to create "
          "one)"));
    case DirListing::kIncomplete:
      if (options.create_if_missing) return absl::OkStatus();
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", dir, " holds an incomplete database: its creation "
          "was interrupted (", kCreatingFile, " is still there); start again "
          "with create_if_missing, or --create, to finish it"));
    case DirListing::kForeign:
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", dir,
          " holds files but no database (no CURRENT file); refusing to write "
          "into it"));
    case DirListing::kDatabase:
      if (absl::Status s = CheckAccess(dir); !s.ok()) return s;
      return CheckExistingDatabase(MakeOptions(options, /*create=*/false), dir);
  }
  return absl::InternalError("unknown data directory listing");
}

// options.dir checked and locked for Open.
struct PreparedDir {
  DirListing::Kind kind;  // kEmpty or kIncomplete (create), or kDatabase
  std::unique_ptr<DirLock> lock;
};

// Makes sure options.dir exists, takes mvkv's lock on it, and checks what it
// holds. Nothing is written into a directory before it is known to be empty,
// an mvkv database, or an interrupted creation: the lock file is created
// only then (an existing lock file is opened, not changed, so a loser of
// the lock writes nothing).
absl::StatusOr<PreparedDir> PrepareDir(const StorageOptions& options) {
  if (absl::Status s = EnsureDir(options); !s.ok()) return s;
  absl::StatusOr<DirListing> listing = ListDataDir(options.dir);
  if (!listing.ok()) return listing.status();
  if (!listing->has_lock_file) {
    if (absl::Status s = CheckListing(options, *listing); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<DirLock>> lock =
      DirLock::Acquire(options.dir, /*create=*/!listing->has_lock_file);
  if (!lock.ok()) return lock.status();
  // Another process may have created, or begun creating, meanwhile.
  listing = ListDataDir(options.dir);
  if (!listing.ok()) return listing.status();
  if (absl::Status s = CheckListing(options, *listing); !s.ok()) return s;
  (*lock)->RecordOwner();
  return PreparedDir{listing->kind, *std::move(lock)};
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
  absl::StatusOr<PreparedDir> prepared = PrepareDir(options);
  if (!prepared.ok()) return prepared.status();
  const bool create = prepared->kind != DirListing::kDatabase;
  if (prepared->kind == DirListing::kEmpty) {
    if (absl::Status s = MarkCreationStarted(options.dir); !s.ok()) return s;
  } else if (prepared->kind == DirListing::kIncomplete) {
    if (absl::Status s = ClearIncompleteCreation(options.dir); !s.ok()) {
      return s;
    }
  }
  rocksdb::Options rocks = MakeOptions(options, create);
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
  std::unique_ptr<RocksDbDurability> d(new RocksDbDurability(
      options, db, std::move(handles), std::move(prepared->lock)));
  if (create) {
    if (absl::Status w = d->InitMetadata(); !w.ok()) return w;
    // Last: the database and its metadata are durable (synced write above).
    if (absl::Status w = MarkCreationFinished(options.dir); !w.ok()) return w;
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

absl::Status RocksDbDurability::InitMetadata() {
  rocksdb::WriteBatch init;
  char zero[8];
  EncodeTs(0, zero);
  init.Put(handles_[kMetaIndex], kFormatKey, kFormatVersion);
  init.Put(handles_[kMetaIndex], kLastTsKey, rocksdb::Slice(zero, 8));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocksDb(db_->Write(wo, &init), "initialising metadata");
}

RocksDbDurability::RocksDbDurability(
    const StorageOptions& options, rocksdb::DB* db,
    std::vector<rocksdb::ColumnFamilyHandle*> handles,
    std::unique_ptr<storage_internal::DirLock> lock)
    : options_(options),
      lock_(std::move(lock)),
      db_(db),
      handles_(std::move(handles)) {}

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
