#include "storage/testing/fault_injection_fs.h"

#include <string>
#include <utility>

#include "rocksdb/file_system.h"

namespace mvkv::storage_testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

struct Flags {
  std::shared_ptr<std::atomic<bool>> failing;
  std::shared_ptr<std::atomic<uint64_t>> failures;
  bool Fail() const {
    if (!failing->load(std::memory_order_relaxed)) return false;
    failures->fetch_add(1, std::memory_order_relaxed);
    return true;
  }
};

IOStatus Injected() { return IOStatus::IOError("injected write failure"); }

class FaultyFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyFile(std::unique_ptr<rocksdb::FSWritableFile> file, Flags flags)
      : FSWritableFileOwnerWrapper(std::move(file)), flags_(std::move(flags)) {}

  IOStatus Append(const Slice& data, const IOOptions& o,
                  IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    return target()->Append(data, o, dbg);
  }
  IOStatus Append(const Slice& data, const IOOptions& o,
                  const rocksdb::DataVerificationInfo& info,
                  IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    return target()->Append(data, o, info, dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset,
                            const IOOptions& o, IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    return target()->PositionedAppend(data, offset, o, dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset,
                            const IOOptions& o,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    return target()->PositionedAppend(data, offset, o, info, dbg);
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    return target()->Flush(o, dbg);
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    return target()->Sync(o, dbg);
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    return target()->Fsync(o, dbg);
  }
  IOStatus RangeSync(uint64_t offset, uint64_t n, const IOOptions& o,
                     IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    return target()->RangeSync(offset, n, o, dbg);
  }

 private:
  Flags flags_;
};

class FaultyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FaultyFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base,
                   Flags flags)
      : FileSystemWrapper(base), flags_(std::move(flags)) {}

  const char* Name() const override { return "MvkvFaultyFileSystem"; }

  IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                           std::unique_ptr<rocksdb::FSWritableFile>* r,
                           IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    std::unique_ptr<rocksdb::FSWritableFile> file;
    IOStatus s = target()->NewWritableFile(f, fo, &file, dbg);
    if (s.ok()) r->reset(new FaultyFile(std::move(file), flags_));
    return s;
  }
  IOStatus ReopenWritableFile(const std::string& f,
                              const rocksdb::FileOptions& fo,
                              std::unique_ptr<rocksdb::FSWritableFile>* r,
                              IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    std::unique_ptr<rocksdb::FSWritableFile> file;
    IOStatus s = target()->ReopenWritableFile(f, fo, &file, dbg);
    if (s.ok()) r->reset(new FaultyFile(std::move(file), flags_));
    return s;
  }
  IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                             const rocksdb::FileOptions& fo,
                             std::unique_ptr<rocksdb::FSWritableFile>* r,
                             IODebugContext* dbg) override {
    if (flags_.Fail()) return Injected();
    std::unique_ptr<rocksdb::FSWritableFile> file;
    IOStatus s = target()->ReuseWritableFile(f, old, fo, &file, dbg);
    if (s.ok()) r->reset(new FaultyFile(std::move(file), flags_));
    return s;
  }

 private:
  Flags flags_;
};

}  // namespace

FaultInjectionEnv::FaultInjectionEnv()
    : failing_(std::make_shared<std::atomic<bool>>(false)),
      failures_(std::make_shared<std::atomic<uint64_t>>(0)) {
  auto fs = std::make_shared<FaultyFileSystem>(rocksdb::FileSystem::Default(),
                                               Flags{failing_, failures_});
  env_ = rocksdb::NewCompositeEnv(fs);
}

FaultInjectionEnv::~FaultInjectionEnv() = default;

}  // namespace mvkv::storage_testing
