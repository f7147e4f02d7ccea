// FaultInjectionEnv: a rocksdb::Env whose file system fails writes on demand,
// for tests of write failures (disk full, I/O errors).
//
// While failing is on, every Append, PositionedAppend, Flush, Sync, Fsync and
// RangeSync of a writable file, and every creation of a writable file,
// returns IOError "injected write failure" without writing; reads work.
//
// Thread safety: SetFailing() and the file system may be used from any
// thread (the flag is an atomic).
#ifndef MVKV_STORAGE_TESTING_FAULT_INJECTION_FS_H_
#define MVKV_STORAGE_TESTING_FAULT_INJECTION_FS_H_

#include <atomic>
#include <memory>

#include "rocksdb/env.h"

namespace mvkv::storage_testing {

class FaultInjectionEnv final {
 public:
  FaultInjectionEnv();
  ~FaultInjectionEnv();
  FaultInjectionEnv(const FaultInjectionEnv&) = delete;
  FaultInjectionEnv& operator=(const FaultInjectionEnv&) = delete;

  // The Env to put in StorageOptions::env. Owned by this object.
  rocksdb::Env* env() const { return env_.get(); }

  void SetFailing(bool failing) {
    // Relaxed: tests order it with their own synchronisation (the commit
    // that should fail is started after this call returns).
    failing_->store(failing, std::memory_order_relaxed);
  }
  // Writes refused so far.
  uint64_t failures() const {
    return failures_->load(std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<std::atomic<bool>> failing_;
  std::shared_ptr<std::atomic<uint64_t>> failures_;
  std::unique_ptr<rocksdb::Env> env_;
};

}  // namespace mvkv::storage_testing

#endif  // MVKV_STORAGE_TESTING_FAULT_INJECTION_FS_H_
