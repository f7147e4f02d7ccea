// mvcc/parked_readers.h — threads parked inside a guard of the engine's
// reclaim domain, as a reader that stopped in the middle of a read would be:
// each enters an EngineReclaimDomain::Guard, protects a pointer (which
// activates its reservation at the era of that moment) and waits. Under
// Crystalline-W the engine's reclaim backlog then levels off at about the
// objects alive at the stall (mvcc/reclaim_scheme.h); under EBR
// (--config=engine_ebr) it grows for as long as the readers stay parked.
//
// Fault injection only: the YCSB harness's embedded `--stall=reclaim` and
// mvkv_server's Admin service (off unless --allow_fault_injection) use it.
// Nothing in the engine's own paths does.
//
// Thread safety: thread-safe. Park and Release block (thread start and join)
// and are serialized by an internal mutex.
#ifndef MVKV_MVCC_PARKED_READERS_H_
#define MVKV_MVCC_PARKED_READERS_H_

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace mvkv {

class ParkedReaders final {
 public:
  ParkedReaders() = default;
  ~ParkedReaders();  // Release()
  ParkedReaders(const ParkedReaders&) = delete;
  ParkedReaders& operator=(const ParkedReaders&) = delete;

  // Starts `count` more threads (named "mvkv-parked") and returns once each
  // holds its guard and its protected pointer. Blocking.
  // REQUIRES: count >= 0.
  void Park(int count);

  // Wakes every parked thread, which ends its guard, and joins it. Returns
  // how many were released (0 when none was parked). Blocking.
  int Release();

  // Threads parked now.
  int parked() const;

 private:
  void Hold();

  std::mutex park_mu_;              // serializes Park and Release
  mutable std::mutex mu_;           // guards the three fields below
  std::condition_variable cv_;
  int holding_ = 0;                 // threads inside their guard
  bool releasing_ = false;
  std::vector<std::thread> threads_;  // guarded by park_mu_ (and mu_ for size)
};

}  // namespace mvkv

#endif  // MVKV_MVCC_PARKED_READERS_H_
