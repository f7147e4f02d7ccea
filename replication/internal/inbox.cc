#include "replication/internal/inbox.h"

#include <utility>

namespace mvkv::replication_internal {

int Inbox::Init(uv_loop_t* loop) {
  const int rv = uv_async_init(loop, &async_, &OnAsync);
  if (rv != 0) return rv;
  async_.data = this;
  std::lock_guard<std::mutex> lock(mu_);
  open_ = true;
  return 0;
}

bool Inbox::Post(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_) {
      tasks_.push_back(std::move(task));
      // Under the lock: Close cannot close the handle between the check
      // and the send.
      uv_async_send(&async_);
      return true;
    }
  }
  std::move(task)(false);
  return false;
}

void Inbox::OnAsync(uv_async_t* handle) {
  static_cast<Inbox*>(handle->data)->Drain();
}

void Inbox::Drain() {
  std::vector<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks.swap(tasks_);
  }
  // What these tasks post runs at the next callback (uv_async_send again).
  for (Task& t : tasks) std::move(t)(true);
}

void Inbox::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return;
    open_ = false;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  // Bound: posts are refused now, so the queue only shrinks.
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (tasks_.empty()) return;
    }
    Drain();
  }
}

}  // namespace mvkv::replication_internal
