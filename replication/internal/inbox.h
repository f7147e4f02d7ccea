// Inbox: how other threads hand work to a libuv loop thread. A task queue
// under a mutex plus a uv_async_t; the async callback (on the loop thread)
// swaps the queue out and runs the tasks in the order they were posted.
//
// Thread safety: Post from any thread; Init, Close and the callback on the
// loop thread. The mutex orders every task's captures before its run (the
// only happens-before the project relies on: libuv's own atomics in
// uv_async_send are not visible to ThreadSanitizer).
#ifndef MVKV_REPLICATION_INTERNAL_INBOX_H_
#define MVKV_REPLICATION_INTERNAL_INBOX_H_

#include <uv.h>

#include <mutex>
#include <vector>

#include "absl/functional/any_invocable.h"

namespace mvkv::replication_internal {

class Inbox final {
 public:
  // Called with true on the loop thread, or with false on the posting
  // thread when the inbox is closed (the task cleans up: fails its request).
  using Task = absl::AnyInvocable<void(bool on_loop) &&>;

  Inbox() = default;
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Loop thread, before any Post. libuv's error code, 0 on success.
  int Init(uv_loop_t* loop);
  // Queues `task` to run on the loop thread. Once the inbox is closed, runs
  // task(false) at once on this thread instead and returns false.
  bool Post(Task task);
  // Loop thread: no more posts are taken; closes the handle (the loop can
  // end) and runs what is still queued.
  void Close();

 private:
  static void OnAsync(uv_async_t* handle);
  void Drain();

  uv_async_t async_{};
  std::mutex mu_;
  std::vector<Task> tasks_;  // guarded by mu_
  bool open_ = false;        // guarded by mu_
};

}  // namespace mvkv::replication_internal

#endif  // MVKV_REPLICATION_INTERNAL_INBOX_H_
