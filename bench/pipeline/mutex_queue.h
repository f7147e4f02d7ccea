// MutexQueue<T>: a bounded FIFO guarded by one mutex and two condition
// variables — the analogue of Java's ArrayBlockingQueue, the baseline of the
// LMAX Disruptor paper.
//
// Thread safety: Put and Take may be called from any number of threads.
// Progress: blocking (mutex; Put waits while full, Take while empty).

#ifndef MVKV_BENCH_PIPELINE_MUTEX_QUEUE_H_
#define MVKV_BENCH_PIPELINE_MUTEX_QUEUE_H_

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

namespace mvkv::bench {

template <class T>
class MutexQueue {
 public:
  explicit MutexQueue(std::size_t capacity) : items_(capacity) {}

  void Put(const T& item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [this] { return count_ < items_.size(); });
    items_[(head_ + count_) % items_.size()] = item;
    ++count_;
    not_empty_.notify_one();
  }

  T Take() {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [this] { return count_ > 0; });
    T item = items_[head_];
    head_ = (head_ + 1) % items_.size();
    --count_;
    not_full_.notify_one();
    return item;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::vector<T> items_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace mvkv::bench

#endif  // MVKV_BENCH_PIPELINE_MUTEX_QUEUE_H_
