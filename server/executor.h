// A small fixed pool of worker threads with a bounded queue, for request work
// that may take a while (scans, the reads and compares of a transaction, calls
// that take a transaction's lock). gRPC's callback threads hand work here and
// return at once; commits are handed on to the engine's asynchronous commit,
// so no worker waits for one. At most `threads` tasks run at a time, and a
// full queue is refused (the caller answers RESOURCE_EXHAUSTED) instead of
// growing without bound.
//
// Thread safety: all methods are thread-safe. Blocking: Submit never blocks;
// Shutdown blocks until the queue is drained and the workers have exited.
#ifndef MVKV_SERVER_EXECUTOR_H_
#define MVKV_SERVER_EXECUTOR_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mvkv::server {

class Executor final {
 public:
  // REQUIRES: threads >= 1, max_queue >= 1.
  Executor(int threads, std::size_t max_queue);
  ~Executor();  // Shutdown()
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`. False (task dropped, not run) if the queue holds
  // max_queue tasks or Shutdown() was called.
  bool Submit(std::function<void()> task);

  // Refuses new tasks, runs every queued one, joins the workers. Idempotent.
  void Shutdown();

  std::size_t queued() const;

 private:
  void Work();

  const std::size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace mvkv::server

#endif  // MVKV_SERVER_EXECUTOR_H_
